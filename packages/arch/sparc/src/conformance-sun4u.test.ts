import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * Every mapping of a sun4u device goes through the IOMMU's TSB, allocated by iommu_range_alloc →
 * iommu_area_alloc under the device's segment boundary: a segment longer than the boundary window
 * is never placed, dma_4u_map_sg fails ("iommu_alloc failed") and returns 0.
 */
describeDmaConformance({
  arch: { ...arch, name: 'sparc sun4u' },
  createMachine,
  machineOptions: { platform: 'sun4u' },
  kernelRefuses: { segmentAcrossBoundary: { sun4u_dma_ops: 'always' } },
});
