import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { GiB, machine, MiB, thrown, x86Machine } from './test-machine.js';

const PAGE = 4096;

describe('CMA', () => {
  test('is placed at the top of RAM below 4 GiB, aligned to the largest buddy block, and kept out of the buddy lists', () => {
    const { mm } = x86Machine({ cmaBytes: 64 * MiB });
    const cma = mm.cma;
    expect(cma).not.toBeNull();
    expect(((cma?.basePfn ?? 0) + (cma?.count ?? 0)) * PAGE).toBe(3 * GiB); // the top of the low region
    expect((cma?.basePfn ?? 1) % 1024).toBe(0);
    expect(mm.stats()).toMatchObject({ cmaUsed: 0, cmaTotal: 64 * MiB, freePages: (8 * GiB - 64 * MiB - MiB) / PAGE });
    expect(mm.pageState(cma?.basePfn ?? 0)).toBe('cma');
  });

  test('cmaLimit moves it down', () => {
    const { mm } = x86Machine({ cmaBytes: 16 * MiB, cmaLimit: 1 * GiB });
    expect(((mm.cma?.basePfn ?? 0) + 4096) * PAGE).toBe(1 * GiB);
  });

  test('allocates aligned runs, fails with null when full, releases', () => {
    const { mm } = machine([{ base: 0x8000_0000, size: 64 * MiB }], { cmaBytes: 16 * MiB });
    const base = mm.cma?.basePfn as number;
    const a = mm.cmaAlloc(3) as number;
    expect(a).toBe(base);
    const b = mm.cmaAlloc(16, 4) as number;
    expect(b % 16).toBe(0);
    expect(b).toBe(base + 16);
    expect(mm.stats().cmaUsed).toBe(19 * PAGE);
    expect(mm.isPageInUse(a + 2)).toBe(true);
    expect(mm.isPageInUse(a + 3)).toBe(false);
    expect(mm.cmaAlloc(4096)).toBeNull(); // 16 MiB is 4096 pages, 19 are taken
    expect(mm.cmaAlloc(0)).toBeNull();
    const free = mm.stats().freePages;
    expect(mm.cmaRelease(a, 3)).toBe(true);
    expect(mm.stats().freePages).toBe(free); // CMA pages never enter the buddy lists
    expect(mm.cmaAlloc(2)).toBe(a); // lowest fit again
  });

  test('release of pages that are not CMA returns false; a double release throws and changes nothing', () => {
    const { mm } = machine([{ base: 0, size: 64 * MiB }], { cmaBytes: 8 * MiB });
    const pfn = mm.allocPages(0) as number;
    expect(mm.cmaRelease(pfn, 1)).toBe(false);
    const c = mm.cmaAlloc(4) as number;
    expect(mm.cmaRelease(c, 4)).toBe(true);
    const before = mm.stats();
    expect(thrown(() => mm.cmaRelease(c, 4)).message).toMatch(/not allocated/);
    expect(mm.stats()).toEqual(before);
    expect(thrown(() => mm.freePages(c, 0)).message).toMatch(/CMA area/);
    expect(thrown(() => mm.cmaAlloc(-1))).toBeInstanceOf(RangeError);
  });

  test('a machine without CMA says so', () => {
    const { mm } = machine();
    expect(mm.cma).toBeNull();
    expect(mm.cmaAlloc(1)).toBeNull();
    expect(mm.cmaRelease(100, 1)).toBe(false);
    expect(mm.stats()).toMatchObject({ cmaUsed: 0, cmaTotal: 0 });
  });

  test('a CMA size that cannot be placed is a bad option', () => {
    expect(thrown(() => machine([{ base: 0, size: 16 * MiB }], { cmaBytes: 32 * MiB })).message).toMatch(/^options\.cmaBytes/);
    expect(thrown(() => machine([{ base: 0, size: 16 * MiB }], { cmaBytes: 1000 })).message).toMatch(/^options\.cmaBytes must be a multiple/);
  });

  test('property: live CMA allocations never overlap and releasing all empties the area', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ count: fc.integer({ min: 1, max: 300 }), align: fc.integer({ min: 0, max: 6 }) }), fc.nat()), { maxLength: 60 }),
        (ops) => {
          const { mm } = machine([{ base: 0, size: 16 * MiB }], { cmaBytes: 4 * MiB });
          const live: [number, number][] = [];
          for (const op of ops) {
            if (typeof op === 'number') {
              if (live.length === 0) continue;
              const [pfn, count] = live.splice(op % live.length, 1)[0] as [number, number];
              expect(mm.cmaRelease(pfn, count)).toBe(true);
            } else {
              const pfn = mm.cmaAlloc(op.count, op.align);
              if (pfn === null) continue;
              expect(pfn % 2 ** op.align).toBe(0);
              live.push([pfn, op.count]);
            }
          }
          const sorted = [...live].sort((x, y) => x[0] - y[0]);
          for (let i = 1; i < sorted.length; i++) {
            const prev = sorted[i - 1] as [number, number];
            expect(prev[0] + prev[1]).toBeLessThanOrEqual((sorted[i] as [number, number])[0]);
          }
          expect(mm.stats().cmaUsed).toBe(live.reduce((s, [, c]) => s + c, 0) * PAGE);
          for (const [pfn, count] of live) mm.cmaRelease(pfn, count);
          expect(mm.stats().cmaUsed).toBe(0);
          expect(mm.cmaAlloc(1024)).toBe(mm.cma?.basePfn);
        },
      ),
      { numRuns: 50 },
    );
  });
});
