import { addrMod, checkInteger, isPowerOfTwo } from '@kdma/hw';
import { dmaGetSegBoundary, type Device } from '@kdma/dma-mapping';

/*
 * lib/iommu-helper.c and include/linux/iommu-helper.h: the bitmap allocator shared by the IOMMUs
 * that keep a flat table of translation entries — powerpc's `iommu_table` (TCEs), sparc64's IOMMU
 * arena (the sun4u IOMMU, the sun4v hypervisor's TSB), the x86 GART aperture and Calgary's TCE
 * tables. Every caller passes the same seven things and differs only in their values: the table
 * (`map`, `size`), where to start (its hint), the bus page number of entry 0 (`shift`), the
 * device's segment boundary in entries (`boundary_size`) and an alignment (`align_mask`).
 *
 * The bitmap is a `Uint8Array` with one byte per entry (0 free, 1 used), so finding a free entry is
 * `indexOf` and marking a run is `fill`.
 */

/** `iommu_num_pages`: the IO pages of `ioPageSize` bytes that `[addr, addr + len)` touches. */
export function iommuNumPages(addr: number, len: number, ioPageSize: number): number {
  return Math.ceil((addrMod(addr, ioPageSize) + len) / ioPageSize);
}

/**
 * `dma_get_seg_boundary_nr_pages` (include/linux/dma-mapping.h): the device's segment boundary in
 * IO pages, the `boundary_size` every caller of `iommuAreaAlloc` computes; 4 GiB worth without a
 * device. (v3.4 spelled it `ALIGN(dma_get_seg_boundary(dev) + 1, io_page_size) >> shift`, the
 * same number; the shift-first form cannot overflow on an all-ones mask.)
 */
export function dmaGetSegBoundaryNrPages(dev: Device | null, ioPageSize: number): number {
  if (!isPowerOfTwo(ioPageSize)) throw new RangeError(`ioPageSize must be a power of two, got ${ioPageSize}`);
  if (dev === null) return 2 ** 32 / ioPageSize;
  const mask = dmaGetSegBoundary(dev);
  // (mask >> page_shift) + 1, exactly: the remainder and the subtraction are exact integers.
  return (mask - addrMod(mask, ioPageSize)) / ioPageSize + 1;
}

/**
 * `iommu_is_span_boundary`: would the `nr` entries from `index` cross a multiple of `boundarySize`
 * entries, counted in bus pages (entry 0 is bus page `shift`)? A run longer than the boundary
 * always does. `boundarySize` must be a power of two (the kernel's `BUG_ON`).
 */
export function iommuIsSpanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  if (!isPowerOfTwo(boundarySize)) throw new RangeError(`boundarySize must be a power of two, got ${boundarySize}`);
  return ((shift + index) % boundarySize) + nr > boundarySize;
}

/** `bitmap_set`: marks `nr` entries from `start` used. */
export function bitmapSet(map: Uint8Array, start: number, nr: number): void {
  map.fill(1, start, start + nr);
}

/** `bitmap_clear` (the kernel's old `iommu_area_free`): marks `nr` entries from `start` free. */
export function bitmapClear(map: Uint8Array, start: number, nr: number): void {
  map.fill(0, start, start + nr);
}

/**
 * `bitmap_find_next_zero_area`: the first index at or after `start`, a multiple of
 * `alignMask + 1`, where `nr` entries below `size` are free. When there is none the result is
 * `size` or more (the kernel returns the end of the failed candidate).
 */
export function bitmapFindNextZeroArea(map: Uint8Array, size: number, start: number, nr: number, alignMask: number): number {
  const align = alignMask + 1;
  for (;;) {
    let index = start < size ? map.indexOf(0, start) : -1;
    if (index < 0 || index >= size) return size;
    if (align > 1) index = Math.ceil(index / align) * align;
    const end = index + nr;
    if (end > size) return end;
    // find_next_bit(map, end, index) finds the first used entry; restarting after the last one
    // skips the same windows (each also holds that entry) with one builtin scan, not a loop.
    const used = map.subarray(index, end).lastIndexOf(1);
    if (used < 0) return index;
    start = index + used + 1;
  }
}

/**
 * `iommu_area_alloc`: `nr` free entries of `map`, at or after `start`, at a multiple of
 * `alignMask + 1`, that do not cross a multiple of `boundarySize` bus pages (entry 0 being bus
 * page `shift`); marks them used and returns the first, or -1 when there are none. Only the first
 * `size - 1` entries are ever handed out: "We don't want the last of the limit".
 *
 * A run longer than `boundarySize` can never be placed, so it fails: the kernel's callers then
 * refuse the mapping (powerpc's "iommu_alloc failed", sparc's `iommu_map_failed`, the GART's
 * "out of IOMMU space").
 */
export function iommuAreaAlloc(
  map: Uint8Array,
  size: number,
  start: number,
  nr: number,
  shift: number,
  boundarySize: number,
  alignMask: number,
): number {
  checkInteger(size, 'size', 0, map.length);
  checkInteger(start, 'start');
  checkInteger(nr, 'nr', 1);
  checkInteger(shift, 'shift');
  checkInteger(boundarySize, 'boundarySize', 1);
  checkInteger(alignMask, 'alignMask', 0, 2 ** 31 - 1);
  if (!isPowerOfTwo(alignMask + 1)) throw new RangeError(`alignMask must be 2^k - 1, got ${alignMask}`);
  if (!isPowerOfTwo(boundarySize)) throw new RangeError(`boundarySize must be a power of two, got ${boundarySize}`);
  // "We don't want the last of the limit"
  const limit = size - 1;
  // Every candidate would cross: the search below would reach the same -1, one window at a time.
  if (nr > boundarySize) return -1;
  for (;;) {
    const index = bitmapFindNextZeroArea(map, limit, start, nr, alignMask);
    if (index >= limit) return -1;
    if (iommuIsSpanBoundary(index, nr, shift, boundarySize)) {
      // v3.4: "we could do more effectively", start = index + 1. Today's kernel goes on at the
      // next boundary window (same result: every index before it crosses the same boundary).
      start = Math.ceil((shift + index) / boundarySize) * boundarySize - shift;
      continue;
    }
    bitmapSet(map, index, nr);
    return index;
  }
}
