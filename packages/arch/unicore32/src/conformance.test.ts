import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

const MIB = 2 ** 20;

// A PKUnity-3 with 128 MiB: every device behind the PCI bridge, swiotlb_dma_map_ops, all of RAM in
// the PCI window. The bounce path a bigger machine takes is in unicore32.test.ts: the kit's
// dma-debug misuse scenes assume their buffer is not bounced (see the package README).
describe('puv3 with 128 MiB, every device behind the PCI bridge', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { memory: 128 * MIB } });
});
