import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';

/**
 * MicroBlaze: `dma_direct_ops` only, and kernel/dma.c hard-defines `NOT_COHERENT_CACHE`, so no
 * device ever snoops; 32-byte lines (`L1_CACHE_SHIFT` 5) and `ARCH_DMA_MINALIGN =
 * L1_CACHE_BYTES`; 4 to 32 KiB pages (`MICROBLAZE_*K_PAGES`). Platforms are the two ways
 * `consistent_alloc` makes uncached memory: 'mmu' maps the pages `_PAGE_NO_CACHE` into the
 * vmalloc area, 'nommu' hands out their uncached shadow (`CONFIG_XILINX_UNCACHED_SHADOW`).
 * No 2011 attribute is read; NO_KERNEL_MAPPING, SKIP_CPU_SYNC and NO_WARN are honoured as
 * today's dma-direct honours them.
 */
export const arch: ArchFacts = Object.freeze({
  name: 'microblaze',
  pageSizes: Object.freeze([4096, 8192, 16384, 32768]),
  cacheLineSize: 32,
  dmaMinAlign: 32,
  coherent: 'never',
  physAddrBits: 32,
  zones: Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const)]),
  honouredAttrs: DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
  iommus: Object.freeze([]),
  platforms: Object.freeze(['mmu', 'nommu']),
  ops: Object.freeze(['dma-direct']),
} satisfies ArchFacts);

/** `CONFIG_KERNEL_BASE_ADDR`'s default: where the DDR of the reference designs starts. */
export const KERNEL_BASE_ADDR = 0x9000_0000;
