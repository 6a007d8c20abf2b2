import { describe, expect, it } from '@jest/globals';
import { EINVAL } from '@kdma/mm';
import {
  forEachSg,
  forEachSgtableDmaSg,
  forEachSgtableSg,
  sgAllocTable,
  sgDmaAddress,
  sgDmaLen,
  sgDmaLenTotal,
  sgEntries,
  sgEntry,
  sgFreeTable,
  sgInitTable,
  sgLast,
  sgNents,
  sgNentsForLen,
  sgPhys,
  sgSetPage,
} from './index.js';
import type { Scatterlist } from './index.js';

describe('tables', () => {
  it('sgAllocTable gives nents zeroed entries', () => {
    const sgt = sgAllocTable(3);
    expect(sgt.nents).toBe(3);
    expect(sgt.origNents).toBe(3);
    expect(sgt.sgl).toEqual([sgEntry(), sgEntry(), sgEntry()]);
    expect(sgt.sgl[0]).toEqual({ pfn: 0, offset: 0, length: 0, dmaAddress: 0, dmaLength: 0 });
    expect(sgt.sgl[0]).not.toBe(sgt.sgl[1]);
  });

  it.each([0, -1, 1.5, NaN, 2 ** 32])('sgAllocTable(%p) throws RangeError', (n) => {
    expect(() => sgAllocTable(n)).toThrow(RangeError);
    expect(() => sgAllocTable(n)).toThrow(/^nents must be/);
  });

  it('sgAllocTable rejects a non-number with TypeError', () => {
    expect(() => sgAllocTable('2' as unknown as number)).toThrow(TypeError);
  });

  it('sgFreeTable empties the table', () => {
    const sgt = sgAllocTable(2);
    sgFreeTable(sgt);
    expect(sgt).toEqual({ sgl: [], nents: 0, origNents: 0 });
  });

  it('sgInitTable zeroes entries in place, adds missing ones and ends the list at nents', () => {
    const sgt = sgAllocTable(3);
    const first = sgt.sgl[0]!;
    sgSetPage(first, 5, 100, 8);
    first.dmaAddress = 0x1000;
    sgInitTable(sgt.sgl, 2);
    expect(sgt.sgl).toHaveLength(2);
    expect(sgt.sgl[0]).toBe(first);
    expect(first).toEqual(sgEntry());
    const fresh: Scatterlist[] = [];
    sgInitTable(fresh, 4);
    expect(sgNents(fresh)).toBe(4);
    expect(() => sgInitTable(fresh, 0)).toThrow(RangeError);
  });
});

describe('entries', () => {
  it('sgSetPage and sgPhys place the data', () => {
    const sg = sgEntry();
    sgSetPage(sg, 0x12345, 300, 0x80);
    expect(sg).toEqual({ pfn: 0x12345, offset: 0x80, length: 300, dmaAddress: 0, dmaLength: 0 });
    expect(sgPhys(sg, 4096)).toBe(0x12345080);
    expect(sgPhys(sg, 65536)).toBe(0x12345 * 65536 + 0x80);
    // Above 4 GiB the address is exact (no 32-bit truncation).
    sgSetPage(sg, 2 ** 28 + 1, 1, 4);
    expect(sgPhys(sg, 4096)).toBe(2 ** 40 + 4096 + 4);
  });

  it('sgSetPage checks its arguments and changes nothing on failure', () => {
    const sg = sgEntry();
    expect(() => sgSetPage(sg, -1, 1, 0)).toThrow(/^pfn must be in/);
    expect(() => sgSetPage(sg, 1, 2 ** 32, 0)).toThrow(/^length must be in/);
    expect(() => sgSetPage(sg, 1, 1, 0.5)).toThrow(/^offset must be an integer/);
    expect(sg).toEqual(sgEntry());
  });

  it('sgDmaAddress and sgDmaLen read what dma_map_sg wrote', () => {
    const sg = sgEntry();
    sg.dmaAddress = 2 ** 40;
    sg.dmaLength = 8192;
    expect(sgDmaAddress(sg)).toBe(2 ** 40);
    expect(sgDmaLen(sg)).toBe(8192);
  });
});

function table(lengths: number[]) {
  const sgt = sgAllocTable(lengths.length);
  lengths.forEach((len, i) => sgSetPage(sgt.sgl[i]!, i * 10, len, 0));
  return sgt;
}

describe('walks', () => {
  it('forEachSg and sgEntries visit the first nents entries in order', () => {
    const sgt = table([1, 2, 3, 4]);
    const seen: [number, number][] = [];
    forEachSg(sgt.sgl, 3, (sg, i) => seen.push([i, sg.length]));
    expect(seen).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect([...sgEntries(sgt.sgl, 2)].map((sg) => sg.length)).toEqual([1, 2]);
    expect(() => forEachSg(sgt.sgl, 5, () => undefined)).toThrow(/^nents must be in \[0, 4\]/);
    expect(() => sgEntries(sgt.sgl, -1)).toThrow(RangeError);
  });

  it('forEachSgtableSg walks origNents and forEachSgtableDmaSg walks the mapped nents', () => {
    const sgt = table([4096, 4096, 4096]);
    // As after a dma_map_sgtable that merged the three CPU entries into one DMA segment.
    sgt.sgl[0]!.dmaAddress = 0x10000;
    sgt.sgl[0]!.dmaLength = 3 * 4096;
    sgt.nents = 1;
    let cpu = 0;
    forEachSgtableSg(sgt, () => cpu++);
    const dma: number[] = [];
    forEachSgtableDmaSg(sgt, (sg) => dma.push(sgDmaLen(sg)));
    expect(cpu).toBe(3);
    expect(dma).toEqual([3 * 4096]);
    expect(sgDmaLenTotal(sgt.sgl, sgt.nents)).toBe(3 * 4096);
  });

  it('sgNentsForLen counts the entries that hold len bytes, or -EINVAL', () => {
    const sgt = table([100, 200, 300]);
    expect(sgNentsForLen(sgt.sgl, 3, 0)).toBe(0);
    expect(sgNentsForLen(sgt.sgl, 3, 1)).toBe(1);
    expect(sgNentsForLen(sgt.sgl, 3, 100)).toBe(1);
    expect(sgNentsForLen(sgt.sgl, 3, 101)).toBe(2);
    expect(sgNentsForLen(sgt.sgl, 3, 600)).toBe(3);
    expect(sgNentsForLen(sgt.sgl, 3, 601)).toBe(-EINVAL);
    expect(sgNentsForLen(sgt.sgl, 2, 301)).toBe(-EINVAL);
    expect(() => sgNentsForLen(sgt.sgl, 3, -1)).toThrow(/^len must be in/);
  });

  it('sgNents and sgLast', () => {
    const sgt = table([1, 2, 3]);
    expect(sgNents(sgt.sgl)).toBe(3);
    expect(sgLast(sgt.sgl, 2)).toBe(sgt.sgl[1]);
    expect(sgLast(sgt.sgl, 0)).toBeNull();
  });
});
