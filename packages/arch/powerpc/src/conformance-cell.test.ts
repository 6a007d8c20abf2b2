import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';
import { GIB, withSixtyFourBitDevices } from './test-machines.js';

/*
 * The conformance kit on a Cell blade: 32-bit devices on dma_iommu_ops over the dynamic window
 * (whose iommu_table, like pSeries', refuses a segment longer than the device's boundary window:
 * iommu_area_alloc never places one across it — see cell.test.ts), 64-bit devices switched to
 * dma_iommu_fixed_ops, and the IOMMU off (dma_direct_ops). iommu_fixed=weak is covered by
 * cell.test.ts.
 */

describe('cell (4 GiB), dma_iommu_ops over the dynamic window', () => {
  describeDmaConformance({
    arch,
    createMachine,
    machineOptions: { platform: 'cell' },
    kernelRefuses: { segmentAcrossBoundary: { dma_iommu_ops: 'always' } },
  });
});

describe('cell (4 GiB), 64-bit devices on dma_iommu_fixed_ops (strong)', () => {
  describeDmaConformance({ arch, createMachine: withSixtyFourBitDevices, machineOptions: { platform: 'cell' } });
});

describe('cell (1 GiB), IOMMU off: dma_direct_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'cell', memory: GIB } });
});
