import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
} from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';

/**
 * 32-bit ARM (ARMv7, as the 2011 series targeted it): non-coherent DMA unless a device is marked
 * `dma-coherent`, 64-byte lines (`CONFIG_ARM_L1_CACHE_SHIFT=6`), `ARCH_DMA_MINALIGN =
 * L1_CACHE_BYTES`, no ZONE_DMA unless a board sets `dma_zone_size`, LPAE for 40-bit physical
 * addresses. The arch the seed was written for: it honours WRITE_COMBINE and NO_KERNEL_MAPPING.
 * IOMMU: an ARM SMMU (`iommu: 'arm-smmu'`), used through `iommu_dma_ops` by default or through
 * the seed's own `arm_iommu_ops` once a driver attaches a device with `armIommuAttachDevice`.
 */
export const arch: ArchFacts = Object.freeze({
  name: 'arm',
  pageSizes: Object.freeze([4096]),
  cacheLineSize: 64,
  dmaMinAlign: 64,
  coherent: 'per-device',
  physAddrBits: 40,
  zones: Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY })]),
  honouredAttrs:
    DMA_ATTR_WRITE_COMBINE |
    DMA_ATTR_NO_KERNEL_MAPPING |
    DMA_ATTR_SKIP_CPU_SYNC |
    DMA_ATTR_FORCE_CONTIGUOUS |
    DMA_ATTR_ALLOC_SINGLE_PAGES |
    DMA_ATTR_NO_WARN |
    DMA_ATTR_PRIVILEGED,
  iommus: Object.freeze(['arm-smmu']),
  platforms: Object.freeze(['armv7']),
  ops: Object.freeze(['dma-direct', 'iommu_dma_ops', 'arm_iommu_ops', 'arm_coherent_iommu_ops']),
} satisfies ArchFacts);

/** `PHYS_OFFSET`: where RAM starts on the usual ARMv7 boards (Versatile Express, i.MX6, OMAP). */
export const PHYS_OFFSET = 0x8000_0000;
