import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { GFP_ATOMIC, GFP_DMA, GFP_DMA32, GFP_KERNEL, __GFP_NOWARN, __GFP_ZERO } from './gfp.js';
import { PAGE_OFFSET } from './layout.js';
import { GiB, machine, MiB, pattern, smallX86Machine, thrown, x86Machine } from './test-machine.js';
import { X86_64_ZONES } from './zones.js';
import type { Mm } from './mm.js';
import type { ZoneType } from './gfp.js';

const PAGE = 4096;

describe('zones and GFP zone selection (x86-64, 8 GiB with a hole at [3 GiB, 4 GiB))', () => {
  const { mm } = x86Machine();

  test('the zones cover RAM as the arch says', () => {
    expect(mm.zoneNames).toEqual(['DMA', 'DMA32', 'NORMAL']);
    expect(mm.zoneOf(0x1000 / PAGE)).toBe('DMA');
    expect(mm.zoneOf((16 * MiB) / PAGE)).toBe('DMA32');
    expect(mm.zoneOf((3 * GiB) / PAGE)).toBeNull(); // the hole
    expect(mm.zoneOf((4 * GiB) / PAGE)).toBe('NORMAL');
    expect(mm.stats().totalPages).toBe((8 * GiB) / PAGE);
  });

  test('GFP_KERNEL takes NORMAL first, GFP_DMA32 stays below 4 GiB, GFP_DMA below 16 MiB', () => {
    const normal = mm.allocPages(0, GFP_KERNEL) as number;
    const dma32 = mm.allocPages(3, GFP_DMA32) as number;
    const dma = mm.allocPages(1, GFP_DMA) as number;
    expect(mm.zoneOf(normal)).toBe('NORMAL');
    expect(normal * PAGE).toBeGreaterThanOrEqual(4 * GiB);
    expect(mm.zoneOf(dma32)).toBe('DMA32');
    expect(dma32 * PAGE).toBeLessThan(4 * GiB);
    expect(mm.zoneOf(dma)).toBe('DMA');
    expect(dma * PAGE).toBeLessThan(16 * MiB);
    expect(dma32 % 8).toBe(0); // naturally aligned blocks
    mm.freePages(normal, 0);
    mm.freePages(dma32, 3);
    mm.freePages(dma, 1);
  });

  test('a machine without a DMA or DMA32 zone serves those flags from NORMAL', () => {
    const { mm: arm } = machine([{ base: 0x8000_0000, size: 64 * MiB }]);
    expect(arm.zoneNames).toEqual(['NORMAL']);
    const pfn = arm.allocPages(0, GFP_DMA) as number;
    expect(arm.zoneOf(pfn)).toBe('NORMAL');
    expect(arm.zoneOf(arm.allocPages(0, GFP_DMA32) as number)).toBe('NORMAL');
  });

  test('an ARM machine with a DMA zone limit keeps GFP_DMA below it', () => {
    const { mm: arm } = machine([{ base: 0xc000_0000, size: 256 * MiB }], {
      zones: [
        { name: 'DMA', end: 0xc000_0000 + 128 * MiB },
        { name: 'NORMAL', end: Infinity },
      ],
    });
    const dma = arm.allocPages(4, GFP_DMA) as number;
    expect(dma * PAGE).toBeLessThan(0xc000_0000 + 128 * MiB);
    // No DMA32 zone: GFP_DMA32 means NORMAL, which may fall back to DMA.
    expect(arm.zoneOf(arm.allocPages(0, GFP_DMA32) as number)).toBe('NORMAL');
  });
});

describe('fallback, failure and the zonelist order', () => {
  test('GFP_KERNEL falls back NORMAL → DMA32 → DMA; GFP_DMA32 never takes NORMAL; GFP_DMA never DMA32', () => {
    const { mm, hw } = smallX86Machine();
    const zonesSeen: ZoneType[] = [];
    for (;;) {
      const pfn = mm.allocPages(10, GFP_KERNEL | __GFP_NOWARN);
      if (pfn === null) break;
      zonesSeen.push(mm.zoneOf(pfn) as ZoneType);
    }
    // 8 MiB NORMAL = 2 blocks of 4 MiB; DMA32 16 MiB = 4; DMA 16 MiB minus the 1 MiB image = 3.
    expect(zonesSeen).toEqual(['NORMAL', 'NORMAL', 'DMA32', 'DMA32', 'DMA32', 'DMA32', 'DMA', 'DMA', 'DMA']);
    expect(hw.dmesg.entries()).toEqual([]);

    const { mm: fresh } = smallX86Machine();
    const dma32: ZoneType[] = [];
    for (let pfn = fresh.allocPages(10, GFP_DMA32 | __GFP_NOWARN); pfn !== null; pfn = fresh.allocPages(10, GFP_DMA32 | __GFP_NOWARN)) {
      dma32.push(fresh.zoneOf(pfn) as ZoneType);
    }
    expect(dma32).toEqual(['DMA32', 'DMA32', 'DMA32', 'DMA32', 'DMA', 'DMA', 'DMA']);
    // NORMAL is untouched, but GFP_DMA cannot use it.
    expect(fresh.allocPages(0, GFP_DMA | __GFP_NOWARN)).not.toBeNull(); // 1 MiB of DMA is left in smaller blocks
    expect(fresh.zoneOf(fresh.allocPages(10) as number)).toBe('NORMAL');
  });

  test('failure returns null, prints the kernel line unless __GFP_NOWARN, and changes nothing', () => {
    const { mm, hw } = smallX86Machine();
    const before = mm.stats();
    const info = mm.buddyinfo();
    expect(mm.allocPages(11)).toBeNull(); // beyond MAX_ORDER
    expect(mm.allocPages(11, GFP_ATOMIC | __GFP_NOWARN)).toBeNull();
    const held: number[] = [];
    for (let pfn = mm.allocPages(10, GFP_DMA | __GFP_NOWARN); pfn !== null; pfn = mm.allocPages(10, GFP_DMA | __GFP_NOWARN)) held.push(pfn);
    const mid = mm.stats();
    expect(mm.allocPages(10, GFP_DMA)).toBeNull();
    expect(mm.stats()).toEqual(mid);
    expect(hw.dmesg.entries().map((e) => [e.level, e.message])).toEqual([
      ['warn', 'page allocation failure: order:11, mode:0xd0'],
      ['warn', 'page allocation failure: order:10, mode:0x1'],
    ]);
    for (const pfn of held) mm.freePages(pfn, 10);
    expect(mm.stats()).toEqual(before);
    expect(mm.buddyinfo()).toEqual(info);
  });

  test('__GFP_ZERO clears through cached stores: on a non-coherent machine memory keeps the old bytes', () => {
    const { mm, hw } = machine([{ base: 0, size: 16 * MiB }], {}, { cacheModel: true });
    const pfn = mm.allocPages(0) as number;
    hw.ram.write(pfn * PAGE, pattern(PAGE));
    mm.freePages(pfn, 0);
    const again = mm.allocPages(0, GFP_KERNEL | __GFP_ZERO) as number;
    expect(again).toBe(pfn); // LIFO: the page just freed
    expect(mm.cpu.read(PAGE_OFFSET + again * PAGE, PAGE).every((b) => b === 0)).toBe(true);
    expect(hw.ram.read(again * PAGE, 4)).toEqual(pattern(4)); // the zeroes sit in dirty lines
    hw.cacheClean(again * PAGE, PAGE);
    expect(hw.ram.read(again * PAGE, 4)).toEqual(new Uint8Array(4));
  });
});

describe('bad frees are the kernel\'s "Bad page state": they throw and change nothing', () => {
  test('double free, wrong order, a tail page, a reserved page, a hole', () => {
    const { mm } = x86Machine();
    const pfn = mm.allocPages(2) as number;
    const before = mm.stats();
    expect(thrown(() => mm.freePages(pfn, 1)).message).toMatch(/Bad page state.*allocated with order 2/);
    expect(thrown(() => mm.freePages(pfn + 1, 0)).message).toMatch(/not its first page/);
    expect(thrown(() => mm.freePages(0, 0)).message).toMatch(/reserved/); // the kernel image
    expect(thrown(() => mm.freePages((3 * GiB) / PAGE, 0)).message).toMatch(/no RAM page/);
    expect(mm.stats()).toEqual(before);
    mm.freePages(pfn, 2);
    const after = mm.stats();
    expect(thrown(() => mm.freePages(pfn, 2)).message).toMatch(/double free/);
    expect(mm.stats()).toEqual(after);
  });

  test('bad arguments throw naming the argument', () => {
    const { mm } = smallX86Machine();
    expect(thrown(() => mm.allocPages(-1))).toEqual(new RangeError('order must be in [0, 63], got -1'));
    expect(thrown(() => mm.allocPages(1.5))).toBeInstanceOf(RangeError);
    expect(thrown(() => mm.allocPages('1' as unknown as number))).toBeInstanceOf(TypeError);
    expect(thrown(() => mm.allocPages(0, 'GFP_KERNEL' as unknown as number)).message).toMatch(/^gfp must be a GFP mask/);
    expect(thrown(() => mm.allocPages(0, 'GFP_KERNEL' as unknown as number))).toBeInstanceOf(TypeError);
    expect(thrown(() => mm.allocPages(0, -1))).toBeInstanceOf(RangeError);
    expect(thrown(() => mm.allocPages(0, GFP_DMA | GFP_DMA32)).message).toMatch(/GFP_ZONE_BAD/);
    expect(thrown(() => mm.freePages(Number.NaN, 0)).message).toMatch(/^pfn/);
    // Unknown bits are ignored.
    expect(mm.allocPages(0, GFP_KERNEL | 0x4000_0000)).not.toBeNull();
  });
});

describe('split and exact allocations', () => {
  test('splitPage makes each page freeable; allocPagesExact gives back the tail', () => {
    const { mm } = smallX86Machine();
    const initial = mm.stats().freePages;
    const pfn = mm.allocPages(2) as number;
    mm.splitPage(pfn, 2);
    expect(thrown(() => mm.freePages(pfn, 2)).message).toMatch(/order 0/);
    for (let i = 0; i < 4; i++) mm.freePages(pfn + i, 0);
    expect(mm.stats().freePages).toBe(initial);
    const exact = mm.allocPagesExact(5 * PAGE) as number;
    expect(mm.stats().freePages).toBe(initial - 5);
    expect(mm.pageState(exact + 4)).toBe('allocated');
    expect(mm.pageState(exact + 5)).toBe('free');
    mm.freePagesExact(exact, 5 * PAGE);
    expect(mm.stats().freePages).toBe(initial);
  });
});

interface Live {
  readonly pfn: number;
  readonly order: number;
  readonly gfp: number;
}

function checkInvariants(mm: Mm, live: readonly Live[], initialFree: number, dmaEnd: number, pageSize: number): void {
  const LIMIT: Record<number, number> = { [GFP_DMA]: dmaEnd, [GFP_DMA32]: 4 * GiB, [GFP_KERNEL]: Infinity };
  const sorted = [...live].sort((a, b) => a.pfn - b.pfn);
  let used = 0;
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as Live;
    const pages = 2 ** a.order;
    used += pages;
    // no two live allocations overlap
    const next = sorted[i + 1];
    if (next !== undefined) expect(a.pfn + pages).toBeLessThanOrEqual(next.pfn);
    // zones respected: the block lies in one zone the flags allow
    expect((a.pfn + pages) * pageSize).toBeLessThanOrEqual(LIMIT[a.gfp] as number);
    expect(mm.zoneOf(a.pfn)).toBe(mm.zoneOf(a.pfn + pages - 1));
    expect(a.pfn % pages).toBe(0);
  }
  expect(mm.stats().freePages).toBe(initialFree - used);
}

describe('property: the buddy allocator', () => {
  test('no two live allocations overlap, zones are respected, freeing everything restores maximal blocks', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), order: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 10 })), gfp: fc.constantFrom(GFP_KERNEL, GFP_DMA32, GFP_DMA) }),
      fc.record({ kind: fc.constant('free' as const), index: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), fc.constantFrom(4096, 16384), (ops, pageSize) => {
        // Unaligned region and zone boundaries, so blocks must respect holes, region and zone edges.
        const dmaEnd = 13 * MiB + 3 * pageSize;
        const { mm } = machine(
          [
            { base: 0, size: 20 * MiB + 3 * pageSize },
            { base: 20 * MiB + 5 * pageSize, size: 9 * MiB + pageSize },
            { base: 4 * GiB + 7 * pageSize, size: 6 * MiB },
          ],
          {
            zones: [
              { name: 'DMA', end: dmaEnd },
              { name: 'DMA32', end: 4 * GiB },
              { name: 'NORMAL', end: Infinity },
            ],
            pageSize,
            kernelImageSize: 4 * pageSize,
          },
        );
        const initialFree = mm.stats().freePages;
        const initialInfo = mm.buddyinfo();
        const live: Live[] = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const pfn = mm.allocPages(o.order, o.gfp | __GFP_NOWARN);
            if (pfn !== null) live.push({ pfn, order: o.order, gfp: o.gfp });
          } else if (live.length > 0) {
            const [victim] = live.splice(o.index % live.length, 1);
            mm.freePages((victim as Live).pfn, (victim as Live).order);
          }
        }
        checkInvariants(mm, live, initialFree, dmaEnd, pageSize);
        for (const a of live) mm.freePages(a.pfn, a.order);
        expect(mm.stats().freePages).toBe(initialFree);
        expect(mm.buddyinfo()).toEqual(initialInfo);
      }),
      { numRuns: 60 },
    );
  });
});

describe('size', () => {
  test('a 64 GiB machine builds cheaply and allocates from the top zone', () => {
    const { mm } = machine(
      [
        { base: 0, size: 3 * GiB },
        { base: 4 * GiB, size: 61 * GiB },
      ],
      { zones: X86_64_ZONES, kernelImageSize: 8 * MiB },
    );
    expect(mm.stats().totalPages).toBe(16 * 2 ** 20);
    const pfn = mm.allocPages(0) as number;
    expect(pfn * PAGE).toBe(4 * GiB);
    expect(mm.allocPages(10)).toBe(pfn + 1024);
    mm.freePages(pfn, 0);
    expect(mm.buddyinfo()[2]?.freeAreas[10]).toBe((61 * GiB) / (4 * MiB) - 1);
  });

  test('maxOrder is an option', () => {
    const { mm } = machine([{ base: 0, size: 64 * MiB }], { maxOrder: 12 });
    expect(mm.maxOrder).toBe(12);
    expect(mm.allocPages(12)).not.toBeNull();
    expect(mm.allocPages(13, __GFP_NOWARN)).toBeNull();
  });
});
