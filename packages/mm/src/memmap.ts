/**
 * The page map (kernel `mem_map` / sparsemem's section map): one dense slot per RAM page, indexed
 * across RAM regions so that holes cost nothing. Per-page metadata elsewhere is a typed array
 * indexed by slot; this file only converts between pfns and slots.
 */
import type { MemoryRegion } from '@kdma/hw';

/** RAM as page frame ranges, each with the first slot of its pages. */
export class MemMap {
  readonly pageSize: number;
  /** Number of RAM pages (= number of slots). */
  readonly totalPages: number;
  /** Merged, page-aligned RAM ranges in pfns, ascending. */
  readonly regionCount: number;
  private readonly startPfn: Float64Array;
  private readonly endPfn: Float64Array;
  private readonly firstSlot: Float64Array;
  private lastRegion = 0;

  constructor(regions: readonly MemoryRegion[], pageSize: number) {
    this.pageSize = pageSize;
    // memblock: sort, trim each region to whole pages, merge overlapping and adjacent ones.
    const ranges = regions
      .map((r, i) => {
        if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.base) || !Number.isSafeInteger(r.size) || r.base < 0 || r.size < 0) {
          throw new TypeError(`ram.regions[${i}] must be { base, size } with non-negative integers`);
        }
        return [Math.ceil(r.base / pageSize), Math.floor((r.base + r.size) / pageSize)] as [number, number];
      })
      .filter(([s, e]) => e > s)
      .sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const range of ranges) {
      const last = merged[merged.length - 1];
      if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([range[0], range[1]]);
    }
    if (merged.length === 0) throw new RangeError('ram.regions must hold at least one whole page of RAM');
    this.regionCount = merged.length;
    this.startPfn = new Float64Array(merged.length);
    this.endPfn = new Float64Array(merged.length);
    this.firstSlot = new Float64Array(merged.length);
    let slots = 0;
    merged.forEach(([s, e], i) => {
      this.startPfn[i] = s;
      this.endPfn[i] = e;
      this.firstSlot[i] = slots;
      slots += e - s;
    });
    if (slots > 2 ** 31 - 1) throw new RangeError(`ram.regions hold ${slots} pages; at most 2^31 - 1 are supported`);
    this.totalPages = slots;
  }

  /** The index of the region holding `pfn`, or -1 in a hole. */
  regionOf(pfn: number): number {
    const last = this.lastRegion;
    if (pfn >= (this.startPfn[last] as number) && pfn < (this.endPfn[last] as number)) return last;
    return this.searchRegion(pfn);
  }

  /**
   * `regionOf` past the region last hit, out of line: the hit test alone stays small enough for
   * the JIT to inline into `virt_addr_valid()` on every DMA map.
   */
  private searchRegion(pfn: number): number {
    let lo = 0;
    let hi = this.regionCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (pfn < (this.startPfn[mid] as number)) hi = mid - 1;
      else if (pfn >= (this.endPfn[mid] as number)) lo = mid + 1;
      else {
        this.lastRegion = mid;
        return mid;
      }
    }
    return -1;
  }

  /** The slot of `pfn`, or -1 if it is not RAM. */
  pfnToSlot(pfn: number): number {
    const r = this.regionOf(pfn);
    return r < 0 ? -1 : (this.firstSlot[r] as number) + pfn - (this.startPfn[r] as number);
  }

  /** The pfn of `slot` (0 ≤ slot < totalPages). */
  slotToPfn(slot: number): number {
    let lo = 0;
    let hi = this.regionCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.firstSlot[mid] as number) <= slot) lo = mid;
      else hi = mid - 1;
    }
    return (this.startPfn[lo] as number) + slot - (this.firstSlot[lo] as number);
  }

  /** pfn_valid(): is there a RAM page (and so page metadata) at `pfn`? */
  pfnValid(pfn: number): boolean {
    return Number.isInteger(pfn) && this.regionOf(pfn) >= 0;
  }

  /** Are all pages in [startPfn, endPfn) RAM? */
  isRamRange(startPfn: number, endPfn: number): boolean {
    const r = this.regionOf(startPfn);
    return r >= 0 && endPfn <= (this.endPfn[r] as number);
  }

  /** Region `i` as [startPfn, endPfn, firstSlot]. */
  region(i: number): readonly [number, number, number] {
    return [this.startPfn[i] as number, this.endPfn[i] as number, this.firstSlot[i] as number];
  }
}
