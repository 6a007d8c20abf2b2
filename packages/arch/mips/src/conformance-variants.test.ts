import { describe, expect, it } from '@jest/globals';
import { countBounces, describeDmaConformance, type KernelRefusals } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

describe('malta with coherentio', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'malta', coherentio: true } });
});
describe('ip32 with 16 KiB pages', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'ip32', pageSize: 16384 } });
});
/*
 * Octeon: swiotlb under Octeon's own dma_map_ops. A bounce slot keeps to the device's segment
 * boundary (swiotlb_tbl_map_single), so a segment longer than the boundary window that must bounce
 * is refused (swiotlb_map_sg_attrs returns 0); dma-debug's device-access scene uses a buffer the
 * device reaches in place (GFP_DMA32), since a device writing a bounce slot touches no mapped buffer.
 */
const octeonRefuses: KernelRefusals = {
  segmentAcrossBoundary: { octeon_linear_dma_map_ops: 'when-remapped', octeon_pci_dma_map_ops: 'when-remapped' },
};
const bounced = new Map<string, () => number>();

// On-chip devices on octeon_linear_dma_map_ops, 512 MiB: the second 256 MiB of DRAM lies at
// 0x410000000, beyond a 32-bit device, so buffers there bounce.
describe('octeon, octeon_linear_dma_map_ops (512 MiB: DRAM at 0x410000000 bounces)', () => {
  const count = countBounces(createMachine);
  bounced.set('linear', count.bytes);
  describeDmaConformance({ arch, createMachine: count.createMachine, machineOptions: { platform: 'octeon', memory: 512 * MIB }, kernelRefuses: octeonRefuses });
});
// PCIe devices on _octeon_pci_dma_map_ops: the DRAM at 0x410000000 is reached in place through
// the gen1 inbound window, so nothing bounces with 512 MiB.
describe('octeon, octeon_pci_dma_map_ops (512 MiB: reached in place)', () => {
  const count = countBounces(createMachine);
  bounced.set('pci 512 MiB', count.bytes);
  describeDmaConformance({ arch, createMachine: count.createMachine, machineOptions: { platform: 'octeon', pciDevices: true }, kernelRefuses: octeonRefuses });
});
// With 6 GiB the DRAM from 0x20000000 runs past 4 GiB (and through BAR1's 256 MiB below it, which
// the bus sees at 2^41): a 32-bit PCIe device's buffers there bounce.
describe('octeon, octeon_pci_dma_map_ops (6 GiB: DRAM above 4 GiB bounces)', () => {
  const count = countBounces(createMachine);
  bounced.set('pci 6 GiB', count.bytes);
  describeDmaConformance({ arch, createMachine: count.createMachine, machineOptions: { platform: 'octeon', pciDevices: true, memory: 6 * GIB }, kernelRefuses: octeonRefuses });
});

describe('the Octeon kit runs above', () => {
  it('bounced the kit’s buffers where DRAM lies beyond the device, and nothing where the gen1 window reaches it', () => {
    expect(bounced.get('linear')?.()).toBeGreaterThan(64 * 1024);
    expect(bounced.get('pci 512 MiB')?.()).toBe(0);
    expect(bounced.get('pci 6 GiB')?.()).toBeGreaterThan(64 * 1024);
  });
});
