import { alignUp, checkInteger, isPowerOfTwo } from '@kdma/hw';

/*
 * lib/iommu-helper.c and the bitmap helpers it uses: the allocator of the 2012 x86 IOMMUs (the
 * GART's aperture, Calgary's TCE tables). The map holds one byte per entry (0 free, 1 used), so
 * a search is `indexOf`, not a bit loop.
 */

/** `iommu_num_pages`: IO pages a buffer at `addr` of `len` bytes touches. */
export function iommuNumPages(addr: number, len: number, ioPageSize: number): number {
  return Math.ceil(((addr % ioPageSize) + len) / ioPageSize);
}

/**
 * `iommu_is_span_boundary`: would entries `[index, index + nr)` cross a multiple of
 * `boundarySize` (a power of two, in entries) once `shift` (the table's first entry, in
 * entries) is added?
 */
export function iommuIsSpanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  if (!isPowerOfTwo(boundarySize)) throw new RangeError(`boundarySize must be a power of two, got ${boundarySize}`);
  return ((shift + index) % boundarySize) + nr > boundarySize;
}

/** `bitmap_set`. */
export function bitmapSet(map: Uint8Array, start: number, nr: number): void {
  map.fill(1, start, start + nr);
}

/** `bitmap_clear`. */
export function bitmapClear(map: Uint8Array, start: number, nr: number): void {
  map.fill(0, start, start + nr);
}

/**
 * `bitmap_find_next_zero_area`: the first index ≥ `start`, aligned to `alignMask + 1`, with `nr`
 * free entries below `size`; a value ≥ `size` when there is none.
 */
export function bitmapFindNextZeroArea(map: Uint8Array, size: number, start: number, nr: number, alignMask: number): number {
  for (;;) {
    let index = map.indexOf(0, start);
    if (index < 0 || index >= size) return size;
    index = alignUp(index, alignMask + 1);
    const end = index + nr;
    if (end > size) return end;
    let used = -1;
    for (let i = index; i < end; i++) {
      if (map[i] !== 0) {
        used = i;
        break;
      }
    }
    if (used < 0) return index;
    start = used + 1;
  }
}

/**
 * `iommu_area_alloc`: `nr` free entries of `map` (the first `size`, less the last, which the
 * kernel never hands out), searched from `start`, aligned to `alignMask + 1`, not crossing a
 * multiple of `boundarySize` entries counted from `shift`. Marks them used and returns the first,
 * or -1.
 *
 * One difference: a request longer than the boundary can never be met, and the kernel fails it;
 * kdma maps it without the boundary, as dma-direct maps any buffer, so that dma-debug reports the
 * segment crossing the device's boundary instead of the driver seeing a full IOMMU.
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
  const limit = size - 1;
  const bounded = nr <= boundarySize;
  for (;;) {
    const index = bitmapFindNextZeroArea(map, limit, start, nr, alignMask);
    if (index >= limit) return -1;
    if (bounded && iommuIsSpanBoundary(index, nr, shift, boundarySize)) {
      start = index + 1;
      continue;
    }
    bitmapSet(map, index, nr);
    return index;
  }
}
