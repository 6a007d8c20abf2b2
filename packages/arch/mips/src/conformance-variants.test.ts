import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

const MIB = 2 ** 20;

describe('malta with coherentio', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'malta', coherentio: true } });
});
describe('ip32 with 16 KiB pages', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'ip32', pageSize: 16384 } });
});
// Octeon's on-chip devices on octeon_linear_dma_map_ops. With 256 MiB all DRAM is below 4 GiB;
// the bounces of a bigger Octeon are in octeon.test.ts (the kit's dma-debug misuse scenes assume
// their buffer is not bounced).
describe('octeon, octeon_linear_dma_map_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'octeon', memory: 256 * MIB } });
});
// PCIe devices on _octeon_pci_dma_map_ops: the DRAM at 0x410000000 is reached in place through
// the gen1 inbound window, so nothing bounces here even with 512 MiB.
describe('octeon, octeon_pci_dma_map_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'octeon', pciDevices: true } });
});
