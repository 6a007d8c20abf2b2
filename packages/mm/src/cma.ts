/**
 * The contiguous memory allocator (drivers/base/dma-contiguous.c of v3.5, today mm/cma.c): one
 * area of physically contiguous pages reserved at boot and handed out by a bitmap, so that large
 * DMA buffers can be found long after the buddy lists have fragmented. Its pages stay out of the
 * buddy lists (the kernel lends them to movable allocations; kdma has no migration).
 */
import { checkInteger, hex, pow2 } from '@kdma/hw';
import type { MemMap } from './memmap.js';

/** cma_declare_contiguous(): the highest `pages` of RAM below `limitPfn`, aligned, avoiding `avoid`. */
export function placeCma(
  memmap: MemMap,
  pages: number,
  limitPfn: number,
  alignPages: number,
  avoid: readonly (readonly [number, number])[],
): number | null {
  for (let r = memmap.regionCount - 1; r >= 0; r--) {
    const [start, end] = memmap.region(r);
    let top = Math.min(end, limitPfn);
    while (top - pages >= start) {
      const base = Math.floor((top - pages) / alignPages) * alignPages;
      if (base < start) break;
      const clash = avoid.find(([s, e]) => s < base + pages && e > base);
      if (clash === undefined) return base;
      top = clash[0];
    }
  }
  return null;
}

/** One CMA area (`struct cma`) with its allocation bitmap. */
export class Cma {
  readonly basePfn: number;
  /** Pages in the area. */
  readonly count: number;
  private readonly bitmap: Uint8Array;
  private used = 0;

  constructor(basePfn: number, count: number) {
    this.basePfn = basePfn;
    this.count = count;
    this.bitmap = new Uint8Array(count);
  }

  /** Pages currently allocated. */
  get usedPages(): number {
    return this.used;
  }

  /** Is `pfn` inside the area? */
  contains(pfn: number): boolean {
    return pfn >= this.basePfn && pfn < this.basePfn + this.count;
  }

  /** Is the page at `pfn` (inside the area) allocated? */
  isAllocated(pfn: number): boolean {
    return this.contains(pfn) && this.bitmap[pfn - this.basePfn] === 1;
  }

  /**
   * cma_alloc(): `count` contiguous pages whose first pfn is aligned to 2^alignOrder pages, lowest
   * first (bitmap_find_next_zero_area); null when no such run is free (or count is 0).
   */
  alloc(count: number, alignOrder: number): number | null {
    checkInteger(count, 'count', 0);
    checkInteger(alignOrder, 'alignOrder', 0, 40);
    if (count === 0 || count > this.count) return null;
    const align = pow2(alignOrder);
    // Align the pfn, not the bitmap offset (cma_bitmap_aligned_offset).
    let offset = Math.ceil(this.basePfn / align) * align - this.basePfn;
    while (offset + count <= this.count) {
      const busy = this.bitmap.indexOf(1, offset);
      if (busy < 0 || busy >= offset + count) {
        this.bitmap.fill(1, offset, offset + count);
        this.used += count;
        return this.basePfn + offset;
      }
      offset = Math.ceil((this.basePfn + busy + 1) / align) * align - this.basePfn;
    }
    return null;
  }

  /**
   * cma_release(): false when the pages are not in this area (the caller then frees them to the
   * buddy allocator); throws when they are but some are not allocated (a double free).
   */
  release(pfn: number, count: number): boolean {
    checkInteger(pfn, 'pfn');
    checkInteger(count, 'count', 1);
    if (!this.contains(pfn)) return false;
    const offset = pfn - this.basePfn;
    if (offset + count > this.count) {
      throw new RangeError(`cmaRelease: pfn ${hex(pfn)} + count ${count} runs past the CMA area's end (pfn ${hex(this.basePfn + this.count)})`);
    }
    const free = this.bitmap.subarray(offset, offset + count).indexOf(0);
    if (free >= 0) throw new Error(`cmaRelease: pfn ${hex(pfn + free)} is not allocated (double release?)`);
    this.bitmap.fill(0, offset, offset + count);
    this.used -= count;
    return true;
  }
}
