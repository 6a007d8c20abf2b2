import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { iommuAreaAlloc, iommuIsSpanBoundary, iommuNumPages } from './index.js';

/** The lowest position a correct `iommu_area_alloc` may return, found the slow way; -1 if none. */
function reference(map: Uint8Array, size: number, start: number, nr: number, shift: number, boundary: number, alignMask: number): number {
  const limit = size - 1;
  for (let pos = start; pos + nr <= limit; pos++) {
    if (pos % (alignMask + 1) !== 0) continue;
    if (nr <= boundary && ((shift + pos) % boundary) + nr > boundary) continue;
    if (map.subarray(pos, pos + nr).every((b) => b === 0)) return pos;
  }
  return -1;
}

describe('lib/iommu-helper', () => {
  it('counts the IO pages a buffer touches', () => {
    expect(iommuNumPages(0x1000, 0x1000, 0x1000)).toBe(1);
    expect(iommuNumPages(0x1080, 0x1000, 0x1000)).toBe(2);
    expect(iommuNumPages(2 ** 40 + 0xfff, 2, 0x1000)).toBe(2);
    expect(iommuIsSpanBoundary(15, 2, 0, 16)).toBe(true);
    expect(iommuIsSpanBoundary(14, 2, 0, 16)).toBe(false);
    expect(iommuIsSpanBoundary(14, 2, 1, 16)).toBe(true);
  });

  it('iommu_area_alloc finds the first free, aligned area that keeps to the boundary, from the hint', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 200, min: 0, max: 1 }),
        fc.nat(220),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(64),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        (bits, start, nr, shift, boundaryLog, alignLog) => {
          const map = Uint8Array.from(bits);
          const boundary = 2 ** boundaryLog;
          const alignMask = 2 ** alignLog - 1;
          const expected = reference(map, map.length, start, nr, shift, boundary, alignMask);
          const before = map.slice();
          const got = iommuAreaAlloc(map, map.length, start, nr, shift, boundary, alignMask);
          expect(got).toBe(expected);
          if (got === -1) {
            expect(map).toEqual(before);
          } else {
            expect(map.subarray(got, got + nr).every((b) => b === 1)).toBe(true);
            expect(map.filter((b, i) => b !== before[i]).length).toBe(nr);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects arguments that are not an allocation', () => {
    const map = new Uint8Array(16);
    expect(() => iommuAreaAlloc(map, 17, 0, 1, 0, 1, 0)).toThrow(RangeError);
    expect(() => iommuAreaAlloc(map, 16, 0, 0, 0, 1, 0)).toThrow(/nr/);
    expect(() => iommuAreaAlloc(map, 16, 0, 1, 0, 1, 2)).toThrow(/alignMask/);
    expect(() => iommuAreaAlloc(map, 16, 0, 1, 0, 3, 0)).toThrow(/power of two/);
    expect(map.every((b) => b === 0)).toBe(true);
  });
});
