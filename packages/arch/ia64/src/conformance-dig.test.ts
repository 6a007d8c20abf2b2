import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

// swiotlb_dma_ops keeps a bounce slot to the device's segment boundary (swiotlb_tbl_map_single):
// a segment longer than the boundary window that must bounce is refused.

describe('dig: swiotlb_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 dig' }, createMachine, machineOptions: { platform: 'dig' }, kernelRefuses: { segmentAcrossBoundary: { swiotlb_dma_ops: 'when-remapped' } } });
});
describe('dig_vtd: intel_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 dig + intel-iommu' }, createMachine, machineOptions: { platform: 'dig', iommu: 'intel-iommu' } });
});
