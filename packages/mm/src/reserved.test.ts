import { describe, expect, test } from '@jest/globals';
import { machine, MiB } from './test-machine.js';

describe('memory reserved at boot (reserved-memory, memblock_reserve)', () => {
  test('is never handed out and is recognised as reserved', () => {
    const { mm } = machine([{ base: 0, size: 64 * MiB }], { reserved: [{ base: 32 * MiB, size: 2 * MiB }] });
    const firstPfn = (32 * MiB) / 4096;
    expect(mm.isReservedRange(firstPfn, 512)).toBe(true);
    expect(mm.isReservedRange(firstPfn, 513)).toBe(false);
    expect(mm.pageState(firstPfn)).toBe('reserved');
    const total = mm.stats().totalPages;
    const taken: number[] = [];
    for (let pfn = mm.allocPages(0); pfn !== null; pfn = mm.allocPages(0, 0x200 /* __GFP_NOWARN */)) taken.push(pfn);
    expect(taken.some((pfn) => pfn >= firstPfn && pfn < firstPfn + 512)).toBe(false);
    expect(taken.length).toBeLessThan(total - 512);
  });

  test('must lie in RAM, be page-aligned and not overlap the kernel image', () => {
    expect(() => machine([{ base: 0, size: 64 * MiB }], { reserved: [{ base: 100 * MiB, size: MiB }] })).toThrow(/options.reserved\[0\]/);
    expect(() => machine([{ base: 0, size: 64 * MiB }], { reserved: [{ base: 32 * MiB + 1, size: MiB }] })).toThrow(/options.reserved\[0\].base/);
    expect(() => machine([{ base: 0, size: 64 * MiB }], { reserved: [{ base: 0, size: MiB }] })).toThrow(/overlaps/);
  });
});
