/**
 * Memory for a pool: `swiotlb_memblock_alloc` at boot (one physically contiguous run below the
 * arch's low-address limit) and `swiotlb_alloc_tlb` later (pages below a device's reach, retrying
 * in lower zones as the kernel does). The model has no memblock once mm is up, so a boot pool
 * larger than the biggest buddy block is taken as consecutive max-order blocks; on a machine
 * straight out of boot the buddy allocator hands those out lowest first, so they line up.
 */
import { getOrder, pow2 } from '@kdma/hw';
import { GFP_DMA, GFP_DMA32, __GFP_NOWARN } from '@kdma/mm';
import type { SwiotlbMm, SwiotlbZones } from './types.js';

/** The pages behind a pool, as they must be given back. */
export interface PoolPages {
  /** First pfn of the contiguous run. */
  readonly pfn: number;
  /** Bytes the run holds (at least what was asked). */
  readonly bytes: number;
  /** How to free it: whole buddy blocks, or one `alloc_pages_exact` run. */
  readonly blocks: readonly { readonly pfn: number; readonly order: number }[];
  readonly exactBytes: number;
}

const FOUR_GIB_MASK = 2 ** 32 - 1;

/**
 * The zone modifier `swiotlb_alloc_tlb` starts with: `__GFP_DMA` when the limit is inside ZONE_DMA,
 * `__GFP_DMA32` when it is inside 4 GiB (and the arch has that zone), otherwise none.
 */
export function zoneGfpFor(zones: SwiotlbZones, physLimit: number): number {
  const dma = zones.find((z) => z.name === 'DMA');
  if (dma !== undefined && physLimit <= dma.end - 1) return GFP_DMA;
  if (physLimit <= FOUR_GIB_MASK && zones.some((z) => z.name === 'DMA32')) return GFP_DMA32;
  return 0;
}

/**
 * One allocation below `physLimit` (inclusive): too high means freeing it and retrying with a lower
 * zone modifier, DMA32 then DMA, as `swiotlb_alloc_tlb` and `__dma_direct_alloc_pages` do.
 */
function allocBelow(mm: SwiotlbMm, zones: SwiotlbZones, order: number, exactBytes: number, physLimit: number, gfp: number): number | null {
  const hasDma32 = zones.some((z) => z.name === 'DMA32');
  const hasDma = zones.some((z) => z.name === 'DMA');
  let flags = gfp | zoneGfpFor(zones, physLimit);
  for (;;) {
    const pfn = exactBytes > 0 ? mm.allocPagesExact(exactBytes, flags) : mm.allocPages(order, flags);
    if (pfn === null) return null;
    const bytes = exactBytes > 0 ? Math.ceil(exactBytes / mm.pageSize) * mm.pageSize : mm.pageSize * pow2(order);
    if ((pfn * mm.pageSize) + bytes - 1 <= physLimit) return pfn;
    if (exactBytes > 0) mm.freePagesExact(pfn, exactBytes);
    else mm.freePages(pfn, order);
    if (hasDma32 && (flags & (GFP_DMA32 | GFP_DMA)) === 0) flags |= GFP_DMA32;
    else if (hasDma && (flags & GFP_DMA) === 0) flags = (flags & ~GFP_DMA32) | GFP_DMA;
    else return null;
  }
}

/**
 * `bytes` of physically contiguous memory whose last byte is at most `physLimit`, or null.
 * `exact`: a boot (memblock) allocation of exactly the pages asked; otherwise whole buddy blocks
 * of `get_order(bytes)`, as `alloc_pages` gives a dynamic pool.
 */
export function allocPoolPages(mm: SwiotlbMm, zones: SwiotlbZones, bytes: number, physLimit: number, exact: boolean): PoolPages | null {
  const pageSize = mm.pageSize;
  const order = getOrder(bytes, pageSize);
  const gfp = __GFP_NOWARN;
  if (order <= mm.maxOrder) {
    const exactBytes = exact ? bytes : 0;
    const pfn = allocBelow(mm, zones, order, exactBytes, physLimit, gfp);
    if (pfn === null) return null;
    return {
      pfn,
      bytes: exact ? Math.ceil(bytes / pageSize) * pageSize : pageSize * pow2(order),
      blocks: exact ? [] : [{ pfn, order }],
      exactBytes,
    };
  }
  // Bigger than any buddy block: consecutive max-order blocks.
  const blockPages = pow2(mm.maxOrder);
  const needed = Math.ceil(bytes / (blockPages * pageSize));
  const held: number[] = [];
  let runStart = -1;
  let runLength = 0;
  while (runLength < needed) {
    const pfn = allocBelow(mm, zones, mm.maxOrder, 0, physLimit, gfp);
    if (pfn === null) break;
    held.push(pfn);
    if (runLength > 0 && pfn === runStart + runLength * blockPages) runLength++;
    else if (runLength > 0 && pfn + blockPages === runStart) {
      runStart = pfn;
      runLength++;
    } else {
      runStart = pfn;
      runLength = 1;
    }
  }
  const ok = runLength >= needed;
  const blocks: { pfn: number; order: number }[] = [];
  for (const pfn of held) {
    if (ok && pfn >= runStart && pfn < runStart + runLength * blockPages) blocks.push({ pfn, order: mm.maxOrder });
    else mm.freePages(pfn, mm.maxOrder);
  }
  if (!ok) return null;
  blocks.sort((a, b) => a.pfn - b.pfn);
  return { pfn: runStart, bytes: runLength * blockPages * pageSize, blocks, exactBytes: 0 };
}

/** Gives a pool's pages back (`swiotlb_free_tlb`, `memblock_free_late`). */
export function freePoolPages(mm: SwiotlbMm, pages: PoolPages): void {
  if (pages.exactBytes > 0) mm.freePagesExact(pages.pfn, pages.exactBytes);
  for (const block of pages.blocks) mm.freePages(block.pfn, block.order);
}
