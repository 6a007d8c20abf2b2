import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { GFP_DMA, GFP_DMA32, GFP_KERNEL, __GFP_NOWARN } from './gfp.js';
import { ZERO_SIZE_PTR } from './kmalloc.js';
import { PAGE_OFFSET } from './layout.js';
import { machine, MiB, pattern, smallX86Machine, thrown } from './test-machine.js';

const PAGE = 4096;
const LINE = 64;

describe('kmalloc', () => {
  test('objects are aligned to the size class and at least ARCH_KMALLOC_MINALIGN', () => {
    for (const minAlign of [8, 64, 128]) {
      const { mm } = machine([{ base: 0, size: 16 * MiB }], { kmallocMinAlign: minAlign });
      for (const size of [1, 7, 8, 9, 33, 100, 500, 2048, 4000, 8192]) {
        const kva = mm.kmalloc(size) as number;
        const classSize = Math.max(minAlign, 8, 2 ** Math.ceil(Math.log2(size)));
        expect(mm.ksize(kva)).toBe(classSize);
        expect((kva - PAGE_OFFSET) % Math.min(classSize, PAGE)).toBe(0);
        expect((kva - PAGE_OFFSET) % minAlign).toBe(0);
        expect(mm.virtToPhys(kva)).toBe(kva - PAGE_OFFSET);
      }
    }
  });

  test('with x86\'s 8-byte minimum two small objects share a cache line; with ARM\'s 64 they never do', () => {
    const { mm: x86 } = machine([{ base: 0, size: 16 * MiB }], { kmallocMinAlign: 8 });
    const a = x86.kmalloc(8) as number;
    const b = x86.kmalloc(8) as number;
    expect(Math.floor(a / LINE)).toBe(Math.floor(b / LINE));

    const { mm: arm } = machine([{ base: 0, size: 16 * MiB }], { kmallocMinAlign: 64 });
    const c = arm.kmalloc(8) as number;
    const d = arm.kmalloc(8) as number;
    expect(Math.floor(c / LINE)).not.toBe(Math.floor(d / LINE));
    expect(arm.ksize(c)).toBe(64);
    expect(arm.slabinfo().map((s) => s.name)).toEqual(['kmalloc-64']);
  });

  test('large sizes come straight from the page allocator', () => {
    const { mm } = machine([{ base: 0, size: 16 * MiB }]);
    const free = mm.stats().freePages;
    const kva = mm.kmalloc(3 * PAGE) as number;
    expect(mm.ksize(kva)).toBe(4 * PAGE);
    expect((kva - PAGE_OFFSET) % (4 * PAGE)).toBe(0);
    expect(mm.stats().freePages).toBe(free - 4);
    mm.kfree(kva);
    expect(mm.stats().freePages).toBe(free);
    expect(mm.kmalloc(64 * MiB, GFP_KERNEL | __GFP_NOWARN)).toBeNull();
  });

  test('kzalloc zeroes; kmalloc(0) is ZERO_SIZE_PTR; kfree(null) is a no-op', () => {
    const { mm } = machine([{ base: 0, size: 16 * MiB }]);
    const a = mm.kmalloc(100) as number;
    mm.cpu.write(a, pattern(128));
    mm.kfree(a);
    const z = mm.kzalloc(100) as number;
    expect(z).toBe(a); // the same object back
    expect(mm.cpu.read(z, 128)).toEqual(new Uint8Array(128));
    expect(mm.kmalloc(0)).toBe(ZERO_SIZE_PTR);
    expect(mm.ksize(ZERO_SIZE_PTR)).toBe(0);
    mm.kfree(ZERO_SIZE_PTR);
    mm.kfree(null);
    expect(thrown(() => mm.cpu.read(ZERO_SIZE_PTR, 1))).toMatchObject({ reason: 'unmapped' });
  });

  test('GFP_DMA objects come from ZONE_DMA; GFP_DMA32 is fixed up with a warning as today\'s kernel does', () => {
    const { mm, hw } = smallX86Machine();
    const dma = mm.kmalloc(64, GFP_DMA) as number;
    expect(mm.zoneOf(mm.virtToPfn(dma))).toBe('DMA');
    expect(mm.slabinfo().map((s) => s.name)).toEqual(['dma-kmalloc-64']);
    const normal = mm.kmalloc(64, GFP_DMA32) as number;
    expect(mm.zoneOf(mm.virtToPfn(normal))).toBe('NORMAL');
    expect(hw.dmesg.entries().at(-1)?.message).toBe('Unexpected gfp: 0x4. Fixing up to gfp: 0x0. Fix your code!');
  });

  test('kfree of anything kmalloc did not return throws and changes nothing', () => {
    const { mm } = machine([{ base: 0, size: 16 * MiB }]);
    const a = mm.kmalloc(32) as number;
    const b = mm.kmalloc(32) as number;
    const before = mm.stats();
    expect(thrown(() => mm.kfree(a + 8)).message).toMatch(/invalid object pointer/);
    expect(thrown(() => mm.kfree(mm.pageAddress(mm.allocPages(0) as number))).message).toMatch(/not an address that kmalloc returned/);
    expect(thrown(() => mm.kfree(mm.vmalloc(PAGE) as number)).message).toMatch(/not an address that kmalloc returned/);
    const after = mm.stats();
    mm.kfree(a);
    expect(thrown(() => mm.kfree(a)).message).toMatch(/already free \(double free\)/);
    mm.kfree(b); // the slab is empty now; SLUB keeps it cached, so a second kfree is a double free
    expect(thrown(() => mm.kfree(b)).message).toMatch(/already free \(double free\)/);
    expect(mm.kmemCacheShrink()).toBe(1);
    expect(thrown(() => mm.kfree(b)).message).toMatch(/not an address that kmalloc returned/);
    expect(thrown(() => mm.kmalloc(-1)).message).toMatch(/^size/);
    expect(before.freePages - after.freePages).toBe(2); // the page and the vmalloc page, nothing else moved
  });

  test('empty slabs stay cached up to min_partial a cache, as SLUB keeps them, and kmemCacheShrink gives them back', () => {
    const { mm } = machine([{ base: 0, size: 16 * MiB }]);
    const free = mm.stats().freePages;
    // kmalloc-2048: four objects on a two-page slab. Ten slabs' worth, then all freed.
    const objects = Array.from({ length: 40 }, () => mm.kmalloc(2048) as number);
    expect(free - mm.stats().freePages).toBe(20);
    for (const kva of objects) mm.kfree(kva);
    // set_min_partial(ilog2(2048) / 2) is clamped up to MIN_PARTIAL (5); __slab_free keeps an empty
    // slab while the partial list, itself included, is shorter than that: four stay cached.
    expect(free - mm.stats().freePages).toBe(8);
    expect(mm.slabinfo()).toEqual([expect.objectContaining({ name: 'kmalloc-2k', activeObjects: 0, slabs: 4 })]);
    // A refill takes the cached slabs first: no page moves.
    const again = Array.from({ length: 16 }, () => mm.kmalloc(2048) as number);
    expect(free - mm.stats().freePages).toBe(8);
    for (const kva of again) mm.kfree(kva);
    expect(mm.kmemCacheShrink()).toBe(8);
    expect(mm.stats().freePages).toBe(free);
    expect(mm.kmemCacheShrink()).toBe(0);
  });

  test('property: live objects never overlap, and freeing everything restores the free pages', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 3 * PAGE }), fc.integer({ min: -40, max: -1 })), { maxLength: 150 }), fc.constantFrom(8, 64, 128), (ops, minAlign) => {
        const { mm } = machine([{ base: 0, size: 16 * MiB }], { kmallocMinAlign: minAlign });
        const free = mm.stats().freePages;
        const live: [number, number][] = [];
        for (const op of ops) {
          if (op > 0) live.push([mm.kmalloc(op) as number, op]);
          else if (live.length > 0) mm.kfree((live.splice(-op % live.length, 1)[0] as [number, number])[0]);
        }
        const sorted = [...live].sort((a, b) => a[0] - b[0]);
        for (let i = 0; i < sorted.length; i++) {
          const [kva, size] = sorted[i] as [number, number];
          expect((kva - PAGE_OFFSET) % minAlign).toBe(0);
          expect(mm.ksize(kva)).toBeGreaterThanOrEqual(size);
          const next = sorted[i + 1];
          if (next !== undefined) expect(kva + mm.ksize(kva)).toBeLessThanOrEqual(next[0]);
        }
        for (const [kva] of live) mm.kfree(kva);
        // SLUB keeps a few empty slabs a cache (min_partial); shrinking returns them all.
        const cached = free - mm.stats().freePages;
        expect(mm.kmemCacheShrink()).toBe(cached);
        expect(mm.stats().freePages).toBe(free);
      }),
      { numRuns: 60 },
    );
  });
});
