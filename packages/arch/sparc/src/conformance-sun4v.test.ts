import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * sun4v allocates its TSB entries with the same iommu_range_alloc (iommu_area_alloc under the
 * segment boundary) before the hypervisor maps them: dma_4v_map_sg refuses a segment longer than
 * the boundary window.
 */
describeDmaConformance({
  arch: { ...arch, name: 'sparc sun4v' },
  createMachine,
  machineOptions: { platform: 'sun4v' },
  kernelRefuses: { segmentAcrossBoundary: { sun4v_dma_ops: 'always' } },
});
