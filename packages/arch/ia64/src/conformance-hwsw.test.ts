import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, createMachine } from './index.js';

// hwsw_dma_ops: the kit's devices are 32-bit, so the SBA serves them; a machine whose devices
// come up with a 30-bit mask puts them on swiotlb_dma_ops through the same dispatcher. That
// machine has only its 1 GiB of low memory, which a 30-bit device reaches: the kit's dma-debug
// misuse scenes assume their buffer is not bounced (the bounces are in hwsw.test.ts).
describe('hpzx1_swiotlb: hwsw_dma_ops on the SBA', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1_swiotlb' }, createMachine, machineOptions: { platform: 'hpzx1_swiotlb' } });
});

function narrowDevices(options: MachineOptions = {}): Machine {
  const m = createMachine({ ...options, platform: 'hpzx1_swiotlb', memory: 2 ** 30 });
  const create = m.createDevice.bind(m);
  m.createDevice = (deviceOptions) => create({ dmaBits: 30, ...deviceOptions });
  return m;
}

describe('hpzx1_swiotlb: hwsw_dma_ops on swiotlb', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1_swiotlb (30-bit devices)' }, createMachine: narrowDevices });
});
