import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';
import { MIB } from './test-machines.js';

/*
 * The conformance kit on pSeries, for each way a device gets its ops. A TCE table allocates with
 * iommu_range_alloc → iommu_area_alloc, which never lets a mapping cross the device's segment
 * boundary: a segment longer than the boundary window cannot be placed and iommu_map_sg fails
 * ("iommu_alloc failed", 0 segments) — for dma_iommu_ops and for vio_dma_mapping_ops, which maps
 * through the same table. An ibmebus adapter accepts only a 64-bit mask (ibmebus_dma_supported:
 * "return mask == DMA_BIT_MASK(64)"), so dma_set_mask of 24 or 32 bits gets -EIO.
 */

describe('pseries, PCI on dma_iommu_ops', () => {
  describeDmaConformance({
    arch,
    createMachine,
    machineOptions: { platform: 'pseries' },
    kernelRefuses: { segmentAcrossBoundary: { dma_iommu_ops: 'always' } },
  });
});

describe('pseries, VIO on vio_dma_mapping_ops (CMO)', () => {
  describeDmaConformance({
    arch,
    createMachine,
    machineOptions: { platform: 'pseries', defaultBus: 'vio', cmo: 64 * MIB },
    kernelRefuses: { segmentAcrossBoundary: { vio_dma_mapping_ops: 'always' } },
  });
});

describe('pseries, GX bus on ibmebus_dma_ops', () => {
  describeDmaConformance({
    arch,
    createMachine,
    machineOptions: { platform: 'pseries', defaultBus: 'ibmebus' },
    kernelRefuses: { dmaMaskBits: { ibmebus_dma_ops: [24, 32] } },
  });
});
