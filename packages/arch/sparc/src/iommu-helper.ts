/*
 * lib/iommu-helper.c and the `iommu_num_pages` of include/linux/iommu-helper.h: the bitmap
 * allocator the sparc64 IOMMU code (iommu.c, pci_sun4v.c) allocates its TSB entries with.
 * The bitmap is a byte per bit here.
 */

/**
 * `iommu_is_span_boundary`: would `nr` entries from `index` cross a multiple of
 * `boundarySize` entries (counted from bus page `shift`)? A request larger than the boundary
 * can never fit and the kernel fails it; kdma lets it through so that dma-debug reports the
 * crossing segment (as it does behind dma-iommu), and says so here rather than hide it.
 */
export function iommuIsSpanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  if (nr > boundarySize) return false;
  const offset = (shift + index) % boundarySize;
  return offset + nr > boundarySize;
}

/** `bitmap_find_next_zero_area`: the first `alignMask`-aligned run of `nr` zeros from `start`; `size` if none. */
export function bitmapFindNextZeroArea(map: Uint8Array, size: number, start: number, nr: number, alignMask: number): number {
  for (let index = start; ; ) {
    let first = map.indexOf(0, index);
    if (first < 0 || first >= size) return size;
    first = Math.ceil(first / (alignMask + 1)) * (alignMask + 1);
    const end = first + nr;
    if (end > size) return size;
    const busy = map.subarray(first, end).lastIndexOf(1);
    if (busy < 0) return first;
    index = first + busy + 1;
  }
}

/**
 * `iommu_area_alloc`: `nr` free entries from `start` that do not cross a segment boundary, marked
 * in use; -1 when there are none.
 */
export function iommuAreaAlloc(map: Uint8Array, size: number, start: number, nr: number, shift: number, boundarySize: number, alignMask: number): number {
  for (;;) {
    const index = bitmapFindNextZeroArea(map, size, start, nr, alignMask);
    if (index >= size) return -1;
    if (iommuIsSpanBoundary(index, nr, shift, boundarySize)) {
      // "we could do more effectively"
      start = index + 1;
      continue;
    }
    map.fill(1, index, index + nr);
    return index;
  }
}

/** `iommu_num_pages`: IO pages touched by `[addr, addr + len)`. */
export function iommuNumPages(addr: number, len: number, ioPageSize: number): number {
  return Math.ceil(((addr % ioPageSize) + len) / ioPageSize);
}

/** Something with a device's segment boundary (a `Device`). */
interface WithDmaParms {
  readonly dmaParms: { readonly segmentBoundaryMask: number };
}

/**
 * `struct iommu_arena` (`map`, `hint`, `limit`) and `iommu_range_alloc` of arch/sparc/kernel/
 * iommu.c, shared by sun4u and sun4v: allocation goes on from the hint (or an sg list's running
 * `handle`); at the end it wraps to 0 once, calling `flushAll` (sun4u's `iommu_flushall`; the
 * hypervisor needs none) so that no stale IOTLB entry survives into a reused range.
 */
export class IommuArena {
  /** A byte per TSB entry: 1 = in use. */
  readonly map: Uint8Array;
  hint = 0;
  readonly limit: number;

  constructor(
    entries: number,
    /** `page_table_map_base / IO_PAGE_SIZE`: the bus page of entry 0. */
    private readonly shift: number,
    private readonly ioPageSize: number,
    private readonly flushAll: (() => void) | null,
  ) {
    this.map = new Uint8Array(entries);
    this.limit = entries;
  }

  /** `iommu_range_alloc`: the first entry of `npages`, or -1 when even a wrapped search fails. */
  alloc(dev: WithDmaParms, npages: number, handle: { value: number } | null = null): number {
    let start = handle !== null && handle.value !== 0 ? handle.value : this.hint;
    if (start >= this.limit) {
      start = 0;
      this.flushAll?.();
    }
    const boundarySize = Math.ceil((Math.min(dev.dmaParms.segmentBoundaryMask, 2 ** 52) + 1) / this.ioPageSize);
    let n = iommuAreaAlloc(this.map, this.limit, start, npages, this.shift, boundarySize, 0);
    if (n < 0) {
      this.flushAll?.();
      n = iommuAreaAlloc(this.map, this.limit, 0, npages, this.shift, boundarySize, 0);
      if (n < 0) return -1;
    }
    this.hint = n + npages;
    if (handle !== null) handle.value = n + npages;
    return n;
  }

  /** `iommu_range_free` (`bitmap_clear`). */
  free(entry: number, npages: number): void {
    this.map.fill(0, entry, entry + npages);
  }

  /** Entries in use. */
  inUse(): number {
    let used = 0;
    for (let i = 0; i < this.limit; i++) used += this.map[i] as number;
    return used;
  }
}
