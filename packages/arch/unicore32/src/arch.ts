import { DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';

const MIB = 2 ** 20;

/** `PHYS_OFFSET` (mach/memory.h): PKUnity-3 SDRAM starts at 0. */
export const PHYS_OFFSET = 0;

/**
 * `PCI_DMA_THRESHOLD` (mach/memory.h): "PCI controller in PKUnity-3 masks highest 5-bit for
 * upstream channel, so we must limit the DMA allocation within 128M physical memory for
 * supporting PCI devices." The last byte a PCI device reaches.
 */
export const PCI_DMA_THRESHOLD = PHYS_OFFSET + 128 * MIB - 1;

/**
 * UniCore32 (PKUnity-3, removed in v5.9): one `dma_map_ops`, `swiotlb_dma_map_ops`, for every
 * device; the streaming path has no cache maintenance, so DMA is coherent as far as the kernel is
 * concerned; 32-byte lines, `ARCH_DMA_MINALIGN = L1_CACHE_BYTES`, 4 KiB pages; ZONE_DMA is the
 * first 128 MiB (`puv3_pci_adjust_zones`), the part of RAM PCI devices reach. The 2012 swiotlb ops
 * read no attribute; SKIP_CPU_SYNC is honoured as the core's `swiotlb_dma_ops` honours it.
 */
export const arch: ArchFacts = Object.freeze({
  name: 'unicore32',
  pageSizes: Object.freeze([4096]),
  cacheLineSize: 32,
  dmaMinAlign: 32,
  coherent: 'always',
  physAddrBits: 32,
  zones: Object.freeze([
    Object.freeze({ name: 'DMA', end: PCI_DMA_THRESHOLD + 1 } as const),
    Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
  ]),
  honouredAttrs: DMA_ATTR_SKIP_CPU_SYNC,
  iommus: Object.freeze([]),
  platforms: Object.freeze(['puv3']),
  ops: Object.freeze(['swiotlb_dma_map_ops']),
} satisfies ArchFacts);
