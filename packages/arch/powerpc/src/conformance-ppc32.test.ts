import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';
import { GIB } from './test-machines.js';

/* The conformance kit on the 32-bit platforms: coherent and non-coherent dma_direct_ops, and 85xx's swiotlb_dma_ops. */

describe('powermac: coherent dma_direct_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'powermac' } });
});

describe('mpc85xx (1 GiB): dma_direct_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'mpc85xx' } });
});

// A bounce slot keeps to the device's segment boundary (swiotlb_tbl_map_single), so a segment longer
// than the boundary window that must bounce is refused.
describe('mpc85xx (5 GiB): PCI devices on swiotlb_dma_ops', () => {
  describeDmaConformance({
    arch,
    createMachine,
    machineOptions: { platform: 'mpc85xx', memory: 5 * GIB },
    kernelRefuses: { segmentAcrossBoundary: { swiotlb_dma_ops: 'when-remapped' } },
  });
});

// 64 KiB pages cost the kit's attribute loop 16 times the bytes; ppc32.test.ts covers them.
for (const pageSize of [4096, 16384]) {
  describe(`ppc44x (${pageSize / 1024} KiB pages): non-coherent dma_direct_ops`, () => {
    describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'ppc44x', pageSize } });
  });
}
