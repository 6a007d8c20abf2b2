import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit behind Calgary PHBs (each device on the next PHB, each PHB its own TCE table).
 * Every mapping takes TCEs from iommu_range_alloc → iommu_area_alloc under the device's segment
 * boundary, so a segment longer than the boundary window is refused (calgary_map_sg returns 0).
 */

describeDmaConformance({
  arch: { ...arch, name: 'x86 + calgary' },
  createMachine,
  machineOptions: { iommu: 'calgary' },
  kernelRefuses: { segmentAcrossBoundary: { calgary_dma_ops: 'always' } },
});
