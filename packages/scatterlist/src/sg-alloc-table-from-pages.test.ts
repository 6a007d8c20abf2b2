import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EINVAL } from '@kdma/mm';
import {
  SG_DEFAULT_MAX_SEGMENT,
  createSgAppendTable,
  sgAllocAppendTableFromPages,
  sgAllocTableFromPages,
  sgAllocTableFromPagesSegment,
  sgFreeAppendTable,
  sgPhys,
} from './index.js';
import type { SgTable } from './index.js';

const P = 4096;
// The kernel selftest's sgmax: SCATTERLIST_MAX_SEGMENT, UINT_MAX & PAGE_MASK.
const SGMAX = SG_DEFAULT_MAX_SEGMENT + 1 - P;

function table(result: SgTable | number): SgTable {
  if (typeof result === 'number') throw new Error(`expected a table, got ${result}`);
  return result;
}

/** [pfn, offset, length] of each entry. */
function shape(sgt: SgTable): [number, number, number][] {
  return sgt.sgl.map((sg) => [sg.pfn, sg.offset, sg.length]);
}

describe('sgAllocTableFromPagesSegment: the kernel selftest table (tools/testing/scatterlist)', () => {
  // [pfns, size, maxSegment, expected entries]
  const cases: [number[], number, number, number][] = [
    [[0], P, P + 1, 1],
    [[0], P, SGMAX + 1, 1],
    [[0], P, SGMAX, 1],
    [[0], 1, SGMAX, 1],
    [[0, 1], 2 * P, SGMAX, 1],
    [[1, 0], 2 * P, SGMAX, 2],
    [[0, 1, 2], 3 * P, SGMAX, 1],
    [[0, 2, 1], 3 * P, SGMAX, 3],
    [[0, 1, 3], 3 * P, SGMAX, 2],
    [[1, 2, 4], 3 * P, SGMAX, 2],
    [[1, 3, 4], 3 * P, SGMAX, 2],
    [[0, 1, 3, 4], 4 * P, SGMAX, 2],
    [[0, 1, 3, 4, 5], 5 * P, SGMAX, 2],
    [[0, 1, 3, 4, 6], 5 * P, SGMAX, 3],
    [[0, 1, 2, 3, 4], 5 * P, SGMAX, 1],
    [[0, 1, 2, 3, 4], 5 * P, 2 * P, 3],
    [[0, 1, 2, 3, 4, 5], 6 * P, 2 * P, 3],
    [[0, 2, 3, 4, 5, 6], 6 * P, 2 * P, 4],
    [[0, 1, 3, 4, 5, 6], 6 * P, 2 * P, 3],
  ];
  it.each(cases)('pages %j size %d maxSegment %d → %d entries', (pages, size, maxSegment, expected) => {
    const sgt = table(sgAllocTableFromPagesSegment(pages, 0, size, maxSegment));
    expect(sgt.nents).toBe(expected);
    expect(sgt.origNents).toBe(expected);
    expect(sgt.sgl).toHaveLength(expected);
  });

  it('rejects a maxSegment below one page after aligning it down, with -EINVAL', () => {
    expect(sgAllocTableFromPagesSegment([0], 0, P, 0)).toBe(-EINVAL);
    expect(sgAllocTableFromPagesSegment([0], 0, P, P - 1)).toBe(-EINVAL);
    expect(table(sgAllocTableFromPagesSegment([0], 0, P, P)).nents).toBe(1);
  });
});

describe('sgAllocTableFromPages: entries', () => {
  it('merges consecutive frames into one entry and starts a new one at a break', () => {
    const sgt = table(sgAllocTableFromPages([10, 11, 12, 20, 21, 5], 0, 6 * P));
    expect(shape(sgt)).toEqual([
      [10, 0, 3 * P],
      [20, 0, 2 * P],
      [5, 0, P],
    ]);
    expect(sgt.sgl.every((sg) => sg.dmaAddress === 0 && sg.dmaLength === 0)).toBe(true);
  });

  it('puts the offset on the first entry only and ends the last entry at size', () => {
    const sgt = table(sgAllocTableFromPages([7, 8, 30, 31], 100, 3 * P + 50));
    expect(shape(sgt)).toEqual([
      [7, 100, 2 * P - 100],
      [30, 0, P + 150],
    ]);
    expect(sgPhys(sgt.sgl[0]!, P)).toBe(7 * P + 100);
  });

  it('gives one short entry for a buffer within one page', () => {
    expect(shape(table(sgAllocTableFromPages([3], 10, 20)))).toEqual([[3, 10, 20]]);
  });

  it('caps entries at maxSegment / pageSize pages, aligning maxSegment down', () => {
    const pages = [0, 1, 2, 3, 4, 5, 6];
    expect(shape(table(sgAllocTableFromPages(pages, 0, 7 * P, 3 * P + 123)))).toEqual([
      [0, 0, 3 * P],
      [3, 0, 3 * P],
      [6, 0, P],
    ]);
    // With an offset the first entry holds the same pages, so fewer bytes.
    expect(shape(table(sgAllocTableFromPages(pages, 8, 7 * P - 8, 3 * P)))).toEqual([
      [0, 8, 3 * P - 8],
      [3, 0, 3 * P],
      [6, 0, P],
    ]);
  });

  it('caps by default at UINT_MAX aligned down to a page (4 GiB - 4 KiB at 4 KiB pages)', () => {
    const pages = Array.from({ length: 2 ** 20 + 1 }, (_, i) => 1000 + i);
    expect(shape(table(sgAllocTableFromPages(pages, 0, pages.length * P)))).toEqual([
      [1000, 0, 2 ** 32 - P],
      [1000 + 2 ** 20 - 1, 0, 2 * P],
    ]);
  });

  it('uses the page size it is given', () => {
    const big = 65536;
    expect(shape(table(sgAllocTableFromPages([4, 5, 9], 16, 3 * big - 32, SGMAX, big)))).toEqual([
      [4, 16, 2 * big - 16],
      [9, 0, big - 16],
    ]);
    expect(sgAllocTableFromPagesSegment([4], 0, 100, big - 1, big)).toBe(-EINVAL);
  });

  it('accepts frames above 4 GiB of address space', () => {
    const high = 2 ** 30; // 4 TiB at 4 KiB pages
    expect(shape(table(sgAllocTableFromPages([high, high + 1], 0, 2 * P)))).toEqual([[high, 0, 2 * P]]);
  });

  it.each([
    ['no pages', [], 0, 1, /^pages must hold at least one/, RangeError],
    ['a bad frame', [1, -2], 0, P, /^pages\[1\] must be in/, RangeError],
    ['a fractional frame', [1.5], 0, P, /^pages\[0\] must be an integer/, RangeError],
    ['a string frame', ['1'], 0, P, /^pages\[0\] must be a number/, TypeError],
    ['an offset beyond the first page', [1], P, 1, /^offset must be in \[0, 4095\]/, RangeError],
    ['a size of 0', [1], 0, 0, /^size must be in/, RangeError],
    ['a size beyond the pages', [1, 2], 10, 2 * P - 9, /^size must be in \[4087, 8182\]/, RangeError],
    ['a size that leaves the last page empty', [1, 2], 0, P, /^size must be in \[4097, 8192\]/, RangeError],
    ['a NaN size', [1], 0, NaN, /^size must be an integer/, RangeError],
  ])('throws for %s', (_label, pages, offset, size, message, type) => {
    const call = () => sgAllocTableFromPages(pages as number[], offset, size);
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it('throws for a bad maxSegment or pageSize', () => {
    expect(() => sgAllocTableFromPages([1], 0, P, -1)).toThrow(/^maxSegment must be in/);
    expect(() => sgAllocTableFromPages([1], 0, P, 2 ** 32)).toThrow(RangeError);
    expect(() => sgAllocTableFromPages([1], 0, P, SGMAX, 3000)).toThrow(/^pageSize must be a power of two/);
  });
});

describe('sgAllocAppendTableFromPages', () => {
  it('builds a table like the one-shot call when nothing merges', () => {
    const append = createSgAppendTable();
    expect(sgAllocAppendTableFromPages(append, [1, 2], 0, 2 * P, SGMAX, 2)).toBe(0);
    expect(sgAllocAppendTableFromPages(append, [10, 11], 0, 2 * P, SGMAX, 0)).toBe(0);
    expect(shape(append.sgt)).toEqual([
      [1, 0, 2 * P],
      [10, 0, 2 * P],
    ]);
    expect(append.sgt.nents).toBe(2);
    expect(append.sgt.origNents).toBe(2);
    expect(append.prv).toBe(append.sgt.sgl[1]);
  });

  it('grows prv by whole pages when pages[0] continues it', () => {
    const append = createSgAppendTable();
    expect(sgAllocAppendTableFromPages(append, [0, 1, 2], 0, 3 * P, SGMAX, 3)).toBe(0);
    const first = append.prv;
    expect(sgAllocAppendTableFromPages(append, [3, 4, 5], 0, 3 * P, SGMAX, 0)).toBe(0);
    expect(shape(append.sgt)).toEqual([[0, 0, 6 * P]]);
    expect(append.prv).toBe(first);
    expect(append.sgt.nents).toBe(1);
  });

  it('merges the continuing run into prv and puts the rest in new entries', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0, 1], 0, 2 * P, SGMAX, 4);
    expect(sgAllocAppendTableFromPages(append, [2, 3, 9, 10], 0, 4 * P, SGMAX, 0)).toBe(0);
    expect(shape(append.sgt)).toEqual([
      [0, 0, 4 * P],
      [9, 0, 2 * P],
    ]);
    expect(append.prv).toBe(append.sgt.sgl[1]);
  });

  it('stops growing prv at maxSegment and continues in a new entry', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0, 1, 2], 0, 3 * P, 4 * P, 3);
    expect(sgAllocAppendTableFromPages(append, [3, 4, 5], 0, 3 * P, 4 * P, 0)).toBe(0);
    expect(shape(append.sgt)).toEqual([
      [0, 0, 4 * P],
      [4, 0, 2 * P],
    ]);
  });

  it('does not merge when pages[0] does not continue prv', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0, 1, 2], 0, 3 * P, SGMAX, 3);
    sgAllocAppendTableFromPages(append, [4, 5, 6], 0, 3 * P, SGMAX, 0);
    expect(shape(append.sgt)).toEqual([
      [0, 0, 3 * P],
      [4, 0, 3 * P],
    ]);
  });

  it('continues a prv that started at an offset', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [7], 256, P - 256, SGMAX, 1);
    sgAllocAppendTableFromPages(append, [8], 0, P, SGMAX, 0);
    expect(shape(append.sgt)).toEqual([[7, 256, 2 * P - 256]]);
  });

  it('leaves size out of account for pages merged into prv, as the kernel does', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0], 0, P, SGMAX, 2);
    sgAllocAppendTableFromPages(append, [1, 5], 0, 2 * P - 100, SGMAX, 0);
    // prv grew by a whole page; the new entry's length is min(size, P), with size not reduced.
    expect(shape(append.sgt)).toEqual([
      [0, 0, 2 * P],
      [5, 0, P],
    ]);
  });

  it('returns -EINVAL for an offset when appending to prv, and changes nothing', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0, 1], 0, 2 * P, SGMAX, 1);
    const before = shape(append.sgt);
    const prv = append.prv;
    expect(sgAllocAppendTableFromPages(append, [2], 4, P - 4, SGMAX, 0)).toBe(-EINVAL);
    expect(shape(append.sgt)).toEqual(before);
    expect(append.prv).toBe(prv);
    expect(append.sgt.nents).toBe(1);
  });

  it('returns -EINVAL for a maxSegment below a page, and changes nothing', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0], 0, P, SGMAX, 1);
    expect(sgAllocAppendTableFromPages(append, [1], 0, P, P - 1, 0)).toBe(-EINVAL);
    expect(shape(append.sgt)).toEqual([[0, 0, P]]);
  });

  it('throws for bad arguments before changing anything', () => {
    const append = createSgAppendTable();
    expect(() => sgAllocAppendTableFromPages(append, [0], 0, P, SGMAX, -1)).toThrow(/^leftPages must be in/);
    expect(() => sgAllocAppendTableFromPages(null as never, [0], 0, P, SGMAX, 0)).toThrow(TypeError);
    expect(append.sgt.nents).toBe(0);
    expect(append.prv).toBeNull();
  });

  it('sgFreeAppendTable empties it', () => {
    const append = createSgAppendTable();
    sgAllocAppendTableFromPages(append, [0, 2], 0, 2 * P, SGMAX, 0);
    sgFreeAppendTable(append);
    expect(append).toEqual(createSgAppendTable());
  });
});

describe('sgAllocTableFromPages: properties', () => {
  /** Page frames as runs of consecutive frames starting at arbitrary places. */
  const pagesArb = fc
    .array(fc.record({ start: fc.integer({ min: 0, max: 2 ** 36 }), len: fc.integer({ min: 1, max: 12 }) }), {
      minLength: 1,
      maxLength: 8,
    })
    .map((runs) => runs.flatMap(({ start, len }) => Array.from({ length: len }, (_, i) => start + i)));

  const inputArb = pagesArb.chain((pages) =>
    fc.record({
      pages: fc.constant(pages),
      pageSize: fc.constantFrom(4096, 16384, 65536),
      offsetFrac: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      sizeFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      maxPages: fc.integer({ min: 1, max: 10 }),
      maxExtra: fc.integer({ min: 0, max: 4095 }),
    }),
  );

  it('covers exactly [offset, offset + size) of the pages, in order, within maxSegment, split only where it must', () => {
    fc.assert(
      fc.property(inputArb, ({ pages, pageSize, offsetFrac, sizeFrac, maxPages, maxExtra }) => {
        const n = pages.length;
        const offset = Math.floor(offsetFrac * pageSize);
        const minSize = Math.max(1, (n - 1) * pageSize - offset + 1);
        const maxSize = n * pageSize - offset;
        const size = minSize + Math.floor(sizeFrac * (maxSize - minSize));
        const maxSegment = maxPages * pageSize + maxExtra;
        const sgt = table(sgAllocTableFromPages(pages, offset, size, maxSegment, pageSize));

        expect(sgt.nents).toBe(sgt.sgl.length);
        expect(sgt.origNents).toBe(sgt.sgl.length);
        // Byte i of the buffer is at pages[floor((offset + i) / P)] * P + (offset + i) % P; walking
        // the entries must visit the same physical bytes in the same order.
        let pos = offset; // position in the concatenated pages
        let total = 0;
        for (let k = 0; k < sgt.sgl.length; k++) {
          const sg = sgt.sgl[k]!;
          const pageIndex = Math.floor(pos / pageSize);
          expect(sg.pfn).toBe(pages[pageIndex]);
          expect(sg.offset).toBe(pos % pageSize);
          expect(sg.length).toBeGreaterThan(0);
          expect(sg.offset + sg.length).toBeLessThanOrEqual(maxPages * pageSize);
          const spanPages = Math.ceil((sg.offset + sg.length) / pageSize);
          for (let p = 1; p < spanPages; p++) expect(pages[pageIndex + p]).toBe(sg.pfn + p);
          if (k + 1 < sgt.sgl.length) {
            // Every entry but the last ends on a page boundary.
            expect((sg.offset + sg.length) % pageSize).toBe(0);
            const next = sgt.sgl[k + 1]!;
            if (next.pfn === sg.pfn + spanPages) expect(spanPages).toBe(maxPages);
          }
          pos += sg.length;
          total += sg.length;
        }
        expect(total).toBe(size);
      }),
      { numRuns: 200 },
    );
  });

  it('appending whole pages in pieces gives the one-shot table', () => {
    fc.assert(
      fc.property(pagesArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), (pages, pieceLen, maxPages) => {
        const maxSegment = maxPages * P;
        const append = createSgAppendTable();
        for (let i = 0; i < pages.length; i += pieceLen) {
          const piece = pages.slice(i, i + pieceLen);
          const left = Math.max(0, pages.length - i - piece.length);
          expect(sgAllocAppendTableFromPages(append, piece, 0, piece.length * P, maxSegment, left)).toBe(0);
        }
        const oneShot = table(sgAllocTableFromPages(pages, 0, pages.length * P, maxSegment));
        // prv grows greedily up to maxSegment and the rest is chunked greedily: the same entries.
        expect(shape(append.sgt)).toEqual(shape(oneShot));
        expect(append.sgt.nents).toBe(append.sgt.sgl.length);
      }),
      { numRuns: 200 },
    );
  });
});
