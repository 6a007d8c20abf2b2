import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { iommuPgsize, pgsizeBitmapOf, pgsizeList, type PgsizeChoice } from './iommu-pgsize.js';

const K4 = 4096;
const M2 = 2 ** 21;
const G1 = 2 ** 30;
const SIZES = [K4, M2, G1];

/** The whole split of a range, as `__iommu_map` walks it. */
function split(iova: number, paddr: number, size: number): [number, number][] {
  const out: PgsizeChoice = { pgsize: 0, count: 0 };
  const chunks: [number, number][] = [];
  let left = size;
  while (left > 0) {
    iommuPgsize(SIZES, iova, paddr, left, out);
    chunks.push([out.pgsize, out.count]);
    const bytes = out.pgsize * out.count;
    iova += bytes;
    paddr += bytes;
    left -= bytes;
  }
  return chunks;
}

describe('iommu_pgsize', () => {
  it('decodes bitmaps beyond 32 bits', () => {
    const bitmap = pgsizeBitmapOf([K4, M2, G1, 2 ** 42]);
    expect(bitmap).toBe(K4 + M2 + G1 + 2 ** 42);
    expect(pgsizeList(bitmap)).toEqual([K4, M2, G1, 2 ** 42]);
  });

  it('uses 4K pages up to the next 2M boundary, then 2M blocks, then 4K for the tail', () => {
    // 1 MiB before a 2 MiB boundary, 4 MiB of blocks, 12 KiB after.
    const iova = 3 * M2 - 2 ** 20;
    expect(split(iova, iova + 8 * M2, 2 ** 20 + 2 * M2 + 3 * K4)).toEqual([
      [K4, 256],
      [M2, 2],
      [K4, 3],
    ]);
  });

  it('keeps to 4K pages when IOVA and physical address are offset differently within 2M', () => {
    expect(split(M2, M2 + K4, 4 * M2)).toEqual([[K4, 2048]]);
  });

  it('maps a 1G-aligned gigabyte as one 1G page', () => {
    expect(split(G1, 5 * G1, G1)).toEqual([[G1, 1]]);
  });

  it('covers any aligned range exactly with pages both addresses are aligned to, never a smaller page where a larger fits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 1, max: 4096 }), (i, p, n) => {
        const iova = i * K4;
        const paddr = p * K4;
        const size = n * K4;
        let at = iova;
        let pa = paddr;
        let total = 0;
        for (const [pgsize, count] of split(iova, paddr, size)) {
          expect(count).toBeGreaterThan(0);
          expect(at % pgsize).toBe(0);
          expect(pa % pgsize).toBe(0);
          const bytes = pgsize * count;
          // Maximal: no point inside this run of pages where the next larger size would have fit.
          const bigger = SIZES[SIZES.indexOf(pgsize) + 1];
          if (bigger !== undefined && at % bigger === pa % bigger) {
            const boundary = Math.ceil(at / bigger) * bigger;
            if (boundary < at + bytes) expect(size - total - (boundary - at)).toBeLessThan(bigger);
          }
          at += bytes;
          pa += bytes;
          total += bytes;
        }
        expect(total).toBe(size);
      }),
    );
  });
});
