import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  bitmapClear,
  bitmapFindNextZeroArea,
  bitmapSet,
  dmaGetSegBoundaryNrPages,
  iommuAreaAlloc,
  iommuIsSpanBoundary,
  iommuNumPages,
} from './index.js';
import { createPc } from './test-machine.js';

/**
 * What `iommu_area_alloc` must return, found the slow way (v3.4's loop, one index at a time): the
 * lowest aligned index from `start` whose `nr` entries are free, lie below `size - 1` and keep to
 * the boundary; -1 when there is none.
 */
function reference(map: Uint8Array, size: number, start: number, nr: number, shift: number, boundary: number, alignMask: number): number {
  for (let pos = start; pos + nr <= size - 1; pos++) {
    if (pos % (alignMask + 1) !== 0) continue;
    if (((shift + pos) % boundary) + nr > boundary) continue;
    if (map.subarray(pos, pos + nr).every((b) => b === 0)) return pos;
  }
  return -1;
}

describe('lib/iommu-helper', () => {
  it('iommu_num_pages counts the IO pages a buffer touches, for any IO page size', () => {
    expect(iommuNumPages(0x1000, 0x1000, 0x1000)).toBe(1);
    expect(iommuNumPages(0x1080, 0x1000, 0x1000)).toBe(2);
    expect(iommuNumPages(0x1fff, 1, 0x1000)).toBe(1);
    expect(iommuNumPages(2 ** 40 + 0xfff, 2, 0x1000)).toBe(2);
    // sparc64's 8 KiB IO pages.
    expect(iommuNumPages(0x3000, 0x2000, 0x2000)).toBe(2);
    expect(iommuNumPages(0, 1, 0x2000)).toBe(1);
  });

  it('iommu_is_span_boundary: a run crosses when its offset in the window plus its length exceeds the window', () => {
    expect(iommuIsSpanBoundary(14, 2, 0, 16)).toBe(false);
    expect(iommuIsSpanBoundary(15, 2, 0, 16)).toBe(true);
    // The table's first entry is bus page `shift`: the windows are counted in bus pages.
    expect(iommuIsSpanBoundary(14, 2, 1, 16)).toBe(true);
    expect(iommuIsSpanBoundary(15, 2, 1, 16)).toBe(false);
    // A run as long as the window fits only at its start; a longer one never fits.
    expect(iommuIsSpanBoundary(16, 16, 0, 16)).toBe(false);
    expect(iommuIsSpanBoundary(17, 16, 0, 16)).toBe(true);
    expect(iommuIsSpanBoundary(0, 17, 0, 16)).toBe(true);
    expect(() => iommuIsSpanBoundary(0, 1, 0, 12)).toThrow(/boundarySize must be a power of two/);
  });

  it('never hands out the last entry of the limit', () => {
    const map = new Uint8Array(8);
    expect(iommuAreaAlloc(map, 8, 0, 8, 0, 8, 0)).toBe(-1);
    expect(iommuAreaAlloc(map, 8, 0, 6, 0, 8, 0)).toBe(0);
    expect(Array.from(map)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(iommuAreaAlloc(map, 8, 0, 1, 0, 8, 0)).toBe(6);
    // Only entry 7 is free now, and it is the one kept back.
    expect(iommuAreaAlloc(map, 8, 0, 1, 0, 8, 0)).toBe(-1);
    // The limit is `size`, not the map: a smaller limit keeps back its own last entry.
    const big = new Uint8Array(16);
    expect(iommuAreaAlloc(big, 4, 0, 3, 0, 16, 0)).toBe(0);
    expect(iommuAreaAlloc(big, 4, 0, 1, 0, 16, 0)).toBe(-1);
  });

  it('skips areas that would cross the boundary, counted from the bus page of entry 0', () => {
    const map = new Uint8Array(64);
    // From 6, four entries would cross 8; the next window starts at 8.
    expect(iommuAreaAlloc(map, 64, 6, 4, 0, 8, 0)).toBe(8);
    // With the table at bus page 3, windows start at entries 5, 13, 21, …
    expect(iommuAreaAlloc(map, 64, 14, 4, 3, 8, 0)).toBe(14);
    expect(iommuAreaAlloc(map, 64, 19, 4, 3, 8, 0)).toBe(21);
    // A run longer than the boundary can never be placed: refused, nothing marked.
    const before = map.slice();
    expect(iommuAreaAlloc(map, 64, 0, 9, 0, 8, 0)).toBe(-1);
    expect(map).toEqual(before);
  });

  it('aligns the first entry to align_mask + 1, in table entries', () => {
    const map = new Uint8Array(64);
    bitmapSet(map, 0, 1);
    expect(iommuAreaAlloc(map, 64, 0, 2, 0, 64, 3)).toBe(4);
    expect(iommuAreaAlloc(map, 64, 0, 2, 0, 64, 3)).toBe(8);
    // Alignment is in entries even when the table starts at an odd bus page; the boundary is not.
    expect(iommuAreaAlloc(map, 64, 13, 4, 1, 16, 3)).toBe(16);
    expect(iommuAreaAlloc(map, 64, 28, 4, 1, 16, 3)).toBe(32);
  });

  it('searches on from the hint and fails at the end; the caller wraps by searching again from 0', () => {
    const map = new Uint8Array(32);
    bitmapSet(map, 20, 11);
    // From a hint past every free run, nothing.
    expect(iommuAreaAlloc(map, 32, 20, 2, 0, 32, 0)).toBe(-1);
    // The wrapped search (what GART, Calgary, sparc and powerpc do next) finds the start.
    expect(iommuAreaAlloc(map, 32, 0, 2, 0, 32, 0)).toBe(0);
    bitmapClear(map, 0, 2);
    expect(map.subarray(0, 2).every((b) => b === 0)).toBe(true);
    // A hint beyond the table is simply past the end.
    expect(iommuAreaAlloc(map, 32, 1000, 1, 0, 32, 0)).toBe(-1);
  });

  it('iommu_area_alloc finds the first free, aligned area that keeps to the boundary, from the hint', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 200, min: 0, max: 1 }),
        fc.nat(220),
        fc.integer({ min: 1, max: 40 }),
        fc.nat(64),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(8),
        (bits, start, nr, shift, boundaryLog, alignLog, shrink) => {
          const map = Uint8Array.from(bits);
          const size = Math.max(0, map.length - shrink);
          const boundary = 2 ** boundaryLog;
          const alignMask = 2 ** alignLog - 1;
          const expected = reference(map, size, start, nr, shift, boundary, alignMask);
          const before = map.slice();
          const got = iommuAreaAlloc(map, size, start, nr, shift, boundary, alignMask);
          expect(got).toBe(expected);
          if (got === -1) {
            expect(map).toEqual(before);
          } else {
            expect(got + nr).toBeLessThanOrEqual(size - 1);
            expect(iommuIsSpanBoundary(got, nr, shift, boundary)).toBe(false);
            expect(map.subarray(got, got + nr).every((b) => b === 1)).toBe(true);
            expect(map.filter((b, i) => b !== before[i]).length).toBe(nr);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('bitmap_find_next_zero_area returns the end of the failed candidate, at or past size', () => {
    const map = new Uint8Array(16);
    bitmapSet(map, 0, 3);
    expect(bitmapFindNextZeroArea(map, 16, 0, 4, 0)).toBe(3);
    expect(bitmapFindNextZeroArea(map, 16, 0, 4, 1)).toBe(4);
    expect(bitmapFindNextZeroArea(map, 16, 14, 4, 0)).toBe(18);
    bitmapSet(map, 3, 13);
    expect(bitmapFindNextZeroArea(map, 16, 0, 1, 0)).toBe(16);
  });

  it('dma_get_seg_boundary_nr_pages: the device boundary in IO pages, 4 GiB without a device', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'nic', segmentBoundaryMask: 0xffff });
    expect(dmaGetSegBoundaryNrPages(dev, 4096)).toBe(16);
    expect(dmaGetSegBoundaryNrPages(dev, 8192)).toBe(8);
    // A boundary below an IO page is still one page (v3.4's ALIGN(b + 1, page) gives the same).
    const small = m.createDevice({ name: 'small', segmentBoundaryMask: 0x7ff });
    expect(dmaGetSegBoundaryNrPages(small, 4096)).toBe(1);
    // "Every address": an all-ones mask, without the overflow of mask + 1.
    const any = m.createDevice({ name: 'any' });
    expect(dmaGetSegBoundaryNrPages(any, 4096)).toBe(2 ** 41);
    expect(dmaGetSegBoundaryNrPages(null, 4096)).toBe(2 ** 20);
    expect(() => dmaGetSegBoundaryNrPages(dev, 3000)).toThrow(/ioPageSize/);
  });

  it('rejects arguments that are not an allocation, changing nothing', () => {
    const map = new Uint8Array(16);
    expect(() => iommuAreaAlloc(map, 17, 0, 1, 0, 1, 0)).toThrow(/size/);
    expect(() => iommuAreaAlloc(map, 16, 0, 0, 0, 1, 0)).toThrow(/nr/);
    expect(() => iommuAreaAlloc(map, 16, -1, 1, 0, 1, 0)).toThrow(/start/);
    expect(() => iommuAreaAlloc(map, 16, 0, 1, 0.5, 1, 0)).toThrow(/shift/);
    expect(() => iommuAreaAlloc(map, 16, 0, 1, 0, 1, 2)).toThrow(/alignMask/);
    expect(() => iommuAreaAlloc(map, 16, 0, 1, 0, 3, 0)).toThrow(/power of two/);
    expect(map.every((b) => b === 0)).toBe(true);
  });
});
