import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * x86-64: every device snoops the caches, so there is no cache maintenance and WRITE_COMBINE and
 * NON_CONSISTENT are ignored (cached memory, cached user mappings); ZONE_DMA below 16 MiB
 * (`MAX_DMA_PFN`) and ZONE_DMA32 below 4 GiB (`MAX_DMA32_PFN`). `ARCH_DMA_MINALIGN` is not
 * defined, so `dma_get_cache_alignment()` is 1 and kmalloc aligns to 8. NO_KERNEL_MAPPING is
 * honoured as today's dma-direct honours it everywhere (the 2012 x86 code ignored it), by every
 * ops below.
 * IOMMUs (`iommu`): Intel VT-d and AMD-Vi through today's `iommu_dma_ops` (v5.11+; the 2012
 * kernels had `intel_dma_ops` and `amd_iommu_dma_ops`), with `intel_dma_ops` kept for VT-d's
 * identity-mapped devices; the AMD GART (`gart_dma_ops`) and IBM Calgary (`calgary_dma_ops`).
 * Platforms: a PC, and a Xen PV guest (`xen_swiotlb_dma_ops`).
 */
export const arch: ArchFacts = Object.freeze({
  name: 'x86',
  pageSizes: Object.freeze([4096]),
  cacheLineSize: 64,
  dmaMinAlign: 1,
  coherent: 'always',
  physAddrBits: 46,
  zones: Object.freeze([
    Object.freeze({ name: 'DMA', end: 16 * MIB }),
    Object.freeze({ name: 'DMA32', end: 4 * GIB }),
    Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY }),
  ]),
  honouredAttrs: DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
  iommus: Object.freeze(['intel-iommu', 'amd-iommu', 'gart', 'calgary']),
  platforms: Object.freeze(['pc', 'xen-pv']),
  ops: Object.freeze(['dma-direct', 'iommu_dma_ops', 'intel_dma_ops', 'gart_dma_ops', 'calgary_dma_ops', 'xen_swiotlb_dma_ops']),
} satisfies ArchFacts);

/** The PCI hole: RAM beyond 3 GiB is remapped above 4 GiB, as PC firmware lays it out. */
export const PCI_HOLE_START = 3 * GIB;
export const PCI_HOLE_END = 4 * GIB;
