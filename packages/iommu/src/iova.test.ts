import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { IovaDomain, type IovaRange } from './iova.js';
import { Iova, IovaRbTree } from './iova-rbtree.js';
import { IOVA_MAG_SIZE, MAX_GLOBAL_MAGS } from './iova-rcache.js';

const SZ_4K = 4096;
const PFN_32 = 0x100000; // dma_32bit_pfn for a 4 KiB granule

function cpus(count: number): { count: number; current(): number; id: number } {
  const c = { count, id: 0, current: () => c.id };
  return c;
}

function overlaps(a: IovaRange, b: IovaRange): boolean {
  return a.pfnLo <= b.pfnHi && b.pfnLo <= a.pfnHi;
}

describe('IovaRbTree (lib/rbtree.c)', () => {
  it('stays balanced and ordered through random inserts and erases, and walks in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 500 })), { maxLength: 400 }), (ops) => {
        const tree = new IovaRbTree();
        const live = new Map<number, Iova>();
        for (const [insert, key] of ops) {
          if (insert && !live.has(key)) {
            const node = new Iova(key, key);
            expect(tree.insert(node, null)).toBe(true);
            live.set(key, node);
          } else if (!insert && live.has(key)) {
            tree.erase(live.get(key) as Iova);
            live.delete(key);
          }
          tree.verify();
        }
        const keys = [...live.keys()].sort((a, b) => a - b);
        const walked: number[] = [];
        for (let n = tree.first(); n !== null; n = IovaRbTree.next(n)) walked.push(n.pfnLo);
        expect(walked).toEqual(keys);
        const back: number[] = [];
        let last = tree.first();
        while (last !== null && IovaRbTree.next(last) !== null) last = IovaRbTree.next(last);
        for (let n = last; n !== null; n = IovaRbTree.prev(n)) back.push(n.pfnLo);
        expect(back).toEqual(keys.reverse());
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a duplicate key, as iova_insert_rbtree WARNs', () => {
    const tree = new IovaRbTree();
    expect(tree.insert(new Iova(5, 5), null)).toBe(true);
    expect(tree.insert(new Iova(5, 9), null)).toBe(false);
    expect(tree.size).toBe(1);
  });

  it('has logarithmic height with 100 000 ascending inserts', () => {
    const tree = new IovaRbTree();
    for (let i = 0; i < 100_000; i++) tree.insert(new Iova(i, i), null);
    // A red-black tree's black height is at most log2(n + 1).
    expect(tree.verify()).toBeLessThanOrEqual(18);
  });
});

describe('IovaDomain.allocIova (alloc_iova)', () => {
  it('allocates top-down from the limit, contiguously', () => {
    const d = new IovaDomain(SZ_4K, 1);
    expect(d.allocIova(1, 0xfffff, false)).toMatchObject({ pfnLo: 0xfffff, pfnHi: 0xfffff });
    expect(d.allocIova(3, 0xfffff, false)).toMatchObject({ pfnLo: 0xffffc, pfnHi: 0xffffe });
    expect(d.allocIova(2, 0xfffff, false)).toMatchObject({ pfnLo: 0xffffa, pfnHi: 0xffffb });
  });

  it('aligns to roundup_pow_of_two(size) when size-aligned', () => {
    const d = new IovaDomain(SZ_4K, 1);
    d.allocIova(1, 0xfffff, true); // 0xfffff
    expect(d.allocIova(3, 0xfffff, true)).toMatchObject({ pfnLo: 0xffffc, pfnHi: 0xffffe });
    expect(d.allocIova(5, 0xfffff, true)).toMatchObject({ pfnLo: 0xffff0, pfnHi: 0xffff4 });
  });

  it('leaves alignment gaps behind: the walk goes on down from the cached node', () => {
    const d = new IovaDomain(SZ_4K, 1);
    d.allocIova(1, 0xfffff, true);
    expect(d.allocIova(2, 0xfffff, true)).toMatchObject({ pfnLo: 0xffffc }); // 0xffffe stays free
    expect(d.allocIova(1, 0xfffff, true)).toMatchObject({ pfnLo: 0xffffb });
    expect(d.findIova(0xffffe)).toBeNull();
  });

  it('never goes below startPfn and returns null when full', () => {
    const d = new IovaDomain(SZ_4K, 10);
    expect(d.allocIova(5, 19, false)).toMatchObject({ pfnLo: 15, pfnHi: 19 });
    expect(d.allocIova(5, 19, false)).toMatchObject({ pfnLo: 10, pfnHi: 14 });
    expect(d.allocIova(1, 19, false)).toBeNull();
    expect(d.stats().ranges).toBe(2);
  });

  it('fails fast below 4 GiB once a size did not fit (max32_alloc_size), until something there is freed', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const big = d.allocIova(PFN_32 - 8, PFN_32 - 1, false) as IovaRange;
    expect(big.pfnLo).toBe(8);
    expect(d.allocIova(16, PFN_32 - 1, false)).toBeNull();
    expect(d.max32AllocSize).toBe(16);
    // 7 pages would fit, but anything of 16 or more now fails without a walk; smaller still walks.
    expect(d.allocIova(7, PFN_32 - 1, false)).toMatchObject({ pfnLo: 1 });
    d.freeIova(big.pfnLo);
    expect(d.max32AllocSize).toBe(PFN_32);
    expect(d.allocIova(16, PFN_32 - 1, false)).not.toBeNull();
  });

  it('retries from the top when the walk below the cached node fails (4e89dce72521)', () => {
    // The commit's scenario on a 1 GiB space: 500 MiB, 12 MiB, 499 MiB; free the 12; 13 MiB fails;
    // a 2 MiB allocation then finds the 12 MiB hole only thanks to the retry.
    const MiB = 256; // pages
    const d = new IovaDomain(SZ_4K, 1);
    const limit = 1024 * MiB; // exclusive top of the space, in pages
    d.allocIova(500 * MiB, limit - 1, false);
    const twelve = d.allocIova(12 * MiB, limit - 1, false) as IovaRange;
    d.allocIova(499 * MiB, limit - 1, false);
    d.freeIova(twelve.pfnLo);
    expect(d.allocIova(13 * MiB, limit - 1, false)).toBeNull();
    const two = d.allocIova(2 * MiB, limit - 1, false) as IovaRange;
    expect(two).not.toBeNull();
    expect(two.pfnLo).toBeGreaterThanOrEqual(twelve.pfnLo);
    expect(two.pfnHi).toBeLessThanOrEqual(twelve.pfnHi);
  });

  it('keeps the 32-bit and 64-bit walks apart (cached32_node, cached_node)', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const hi = d.allocIova(1, 2 ** 36 - 1, false) as IovaRange;
    const lo = d.allocIova(1, PFN_32 - 1, false) as IovaRange;
    expect(hi.pfnLo).toBe(2 ** 36 - 1);
    expect(lo.pfnLo).toBe(PFN_32 - 1);
    expect(d.allocIova(1, 2 ** 36 - 1, false)).toMatchObject({ pfnLo: 2 ** 36 - 2 });
    expect(d.allocIova(1, PFN_32 - 1, false)).toMatchObject({ pfnLo: PFN_32 - 2 });
  });

  it('treats a limit above the 52-bit space as no limit', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const r = d.allocIova(1, Number.MAX_SAFE_INTEGER - 1, false) as IovaRange;
    expect(r.pfnHi).toBe(2 ** 40 - 1);
    expect((r.pfnHi + 1) * SZ_4K).toBe(2 ** 52);
  });

  it('finds, frees and reserves ranges', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const r = d.allocIova(4, 0xfffff, true) as IovaRange;
    expect(d.findIova(r.pfnLo + 2)).toBe(r);
    expect(d.findIova(r.pfnLo - 1)).toBeNull();
    d.freeIova(r.pfnLo + 3); // any pfn inside frees the range
    expect(d.findIova(r.pfnLo)).toBeNull();
    d.freeIova(12345); // nothing there: nothing happens
    const res = d.reserveIova(0xfee00, 0xfeeff) as IovaRange;
    expect(res).toMatchObject({ pfnLo: 0xfee00, pfnHi: 0xfeeff });
    expect(d.reserveIova(0xfee80, 0xfef10)).toMatchObject({ pfnLo: 0xfef00, pfnHi: 0xfef10 });
    expect(d.reserveIova(0, 2 ** 40)).toBeNull(); // beyond the space: the kernel's WARN_ON
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new IovaDomain(3000, 1)).toThrow(/granule/);
    expect(() => new IovaDomain(SZ_4K, -1)).toThrow(/startPfn/);
    expect(() => new IovaDomain(SZ_4K, 1, { cpus: { count: 0, current: () => 0 } })).toThrow(/cpus.count/);
    const d = new IovaDomain(SZ_4K, 1);
    expect(() => d.allocIova(0, 10)).toThrow(/size/);
    expect(() => d.allocIova(1.5, 10)).toThrow(/size/);
    expect(() => d.allocIova(1, Number.NaN)).toThrow(/limitPfn/);
    expect(() => d.allocIovaFast(1, -1)).toThrow(/limitPfn/);
    expect(() => d.reserveIova(5, 4)).toThrow(/pfnHi/);
    expect(() => d.freeIovaFast(1, 0)).toThrow(/size/);
  });

  type Op = { kind: 'alloc'; size: number; limit: number; aligned: boolean } | { kind: 'free'; which: number } | { kind: 'reserve'; lo: number; len: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 40 }), limit: fc.integer({ min: 0, max: 600 }), aligned: fc.boolean() }),
    fc.record({ kind: fc.constant('free' as const), which: fc.nat() }),
    fc.record({ kind: fc.constant('reserve' as const), lo: fc.integer({ min: 0, max: 600 }), len: fc.integer({ min: 1, max: 30 }) }),
  );

  it('property: allocations never overlap, stay in [startPfn, limit], are aligned when asked, avoid reserved ranges, and freed space is reusable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.array(opArb, { maxLength: 150 }), (startPfn, ops) => {
        const d = new IovaDomain(SZ_4K, startPfn);
        const live: IovaRange[] = [];
        const reserved: [number, number][] = [];
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const r = d.allocIova(op.size, op.limit, op.aligned);
            if (r === null) continue;
            expect(r.pfnHi - r.pfnLo + 1).toBe(op.size);
            expect(r.pfnLo).toBeGreaterThanOrEqual(startPfn);
            expect(r.pfnHi).toBeLessThanOrEqual(op.limit);
            if (op.aligned) {
              let align = 1;
              while (align < op.size) align *= 2;
              expect(r.pfnLo % align).toBe(0);
            }
            for (const other of live) expect(overlaps(r, other)).toBe(false);
            for (const [lo, hi] of reserved) expect(r.pfnLo > hi || r.pfnHi < lo).toBe(true);
            live.push(r);
          } else if (op.kind === 'free') {
            if (live.length === 0) continue;
            const [r] = live.splice(op.which % live.length, 1) as [IovaRange];
            d.freeIova(r.pfnLo);
            // The space is back: the same size fits again at the same limit.
            const again = d.allocIova(r.pfnHi - r.pfnLo + 1, r.pfnHi, false);
            expect(again).not.toBeNull();
            d.freeIova((again as IovaRange).pfnLo);
          } else {
            const lo = op.lo;
            const hi = op.lo + op.len - 1;
            // A reservation over a live allocation would extend it; keep the two apart here.
            if (live.some((r) => r.pfnLo <= hi && lo <= r.pfnHi)) continue;
            d.reserveIova(lo, hi);
            reserved.push([lo, hi]);
          }
          d.verify();
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('IovaDomain.allocIovaFast / freeIovaFast (per-CPU rcache)', () => {
  it('rounds sizes below 32 granules up to a power of two and size-aligns them', () => {
    const d = new IovaDomain(SZ_4K, 1);
    expect(d.allocIovaFast(1, 0xfffff)).toBe(0xfffff);
    expect(d.allocIovaFast(3, 0xfffff)).toBe(0xffff8); // 4 granules, aligned to 4
    expect(d.findIova(0xffff8)).toMatchObject({ pfnLo: 0xffff8, pfnHi: 0xffffb });
    // 33 granules are not rounded (not cacheable) but still aligned to 64.
    expect(d.allocIovaFast(33, 0xfffff)).toBe(0xfffc0);
    expect(d.findIova(0xfffc0)).toMatchObject({ pfnLo: 0xfffc0, pfnHi: 0xfffc0 + 32 });
  });

  it('hands back the range freed last on the same CPU (LIFO), without touching the tree', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const a = d.allocIovaFast(2, 0xfffff);
    const b = d.allocIovaFast(2, 0xfffff);
    d.freeIovaFast(a, 2);
    d.freeIovaFast(b, 2);
    expect(d.stats()).toMatchObject({ ranges: 2, cached: 2 });
    expect(d.allocIovaFast(2, 0xfffff)).toBe(b);
    expect(d.allocIovaFast(1, 0xfffff)).not.toBe(a); // another size class: from the tree
    expect(d.allocIovaFast(2, 0xfffff)).toBe(a);
  });

  it('skips cached ranges above the limit (iova_magazine_pop with limit_pfn)', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const high = d.allocIovaFast(1, 2 ** 36 - 1);
    d.freeIovaFast(high, 1);
    const low = d.allocIovaFast(1, 0xfffff);
    expect(low).toBeLessThanOrEqual(0xfffff);
    expect(d.allocIovaFast(1, 2 ** 36 - 1)).toBe(high);
  });

  it('keeps caches per CPU: a range freed on CPU 1 is not reused by CPU 0', () => {
    const c = cpus(2);
    const d = new IovaDomain(SZ_4K, 1, { cpus: c });
    c.id = 1;
    const a = d.allocIovaFast(1, 0xfffff);
    d.freeIovaFast(a, 1);
    c.id = 0;
    const b = d.allocIovaFast(1, 0xfffff);
    expect(b).not.toBe(a);
    c.id = 1;
    expect(d.allocIovaFast(1, 0xfffff)).toBe(a);
  });

  it('flushes every CPU cache and retries once when the tree is full (flush_rcache)', () => {
    const c = cpus(2);
    const d = new IovaDomain(SZ_4K, 1, { cpus: c });
    c.id = 1;
    const pfns: number[] = [];
    for (;;) {
      const p = d.allocIovaFast(1, 8);
      if (p === 0) break;
      pfns.push(p);
    }
    expect(pfns).toHaveLength(8);
    for (const p of pfns) d.freeIovaFast(p, 1);
    c.id = 0;
    // CPU 0 sees nothing in its cache and the tree is full of CPU 1's cached ranges.
    expect(d.allocIovaFast(2, 8, false)).toBe(0);
    expect(d.allocIovaFast(2, 8)).not.toBe(0);
    expect(d.stats().cached).toBe(0);
  });

  it('moves full magazines to the depot and frees to the tree when the depot is full', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const n = IOVA_MAG_SIZE * (2 + MAX_GLOBAL_MAGS) + 5;
    const pfns: number[] = [];
    for (let i = 0; i < n; i++) pfns.push(d.allocIovaFast(1, 2 ** 30));
    for (const p of pfns) d.freeIovaFast(p, 1);
    // loaded + prev + the depot hold at most (2 + 32) * 128; one more magazine went back to the tree.
    expect(d.stats().cached).toBe(n - IOVA_MAG_SIZE);
    expect(d.stats().ranges).toBe(n - IOVA_MAG_SIZE);
    d.freeGlobalCachedIovas();
    d.freeCpuCachedIovas(0);
    expect(d.stats()).toMatchObject({ ranges: 0, cached: 0 });
  });

  it('frees sizes of 64 granules and more straight to the tree', () => {
    const d = new IovaDomain(SZ_4K, 1);
    const p = d.allocIovaFast(64, 0xfffff);
    d.freeIovaFast(p, 64);
    expect(d.stats()).toMatchObject({ ranges: 0, cached: 0 });
  });

  it('property: across CPUs, live fast allocations never overlap and stay below their limits', () => {
    type FOp = { alloc: true; cpu: number; size: number; limit: number } | { alloc: false; cpu: number; which: number };
    const fop: fc.Arbitrary<FOp> = fc.oneof(
      fc.record({ alloc: fc.constant(true as const), cpu: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 70 }), limit: fc.integer({ min: 50, max: 2000 }) }),
      fc.record({ alloc: fc.constant(false as const), cpu: fc.integer({ min: 0, max: 3 }), which: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(fop, { maxLength: 300 }), (ops) => {
        const c = cpus(4);
        const d = new IovaDomain(SZ_4K, 1, { cpus: c });
        const live: { lo: number; hi: number; size: number }[] = [];
        for (const op of ops) {
          c.id = op.cpu;
          if (op.alloc) {
            const pfn = d.allocIovaFast(op.size, op.limit);
            if (pfn === 0) continue;
            let rounded = op.size;
            if (op.size < 32) {
              rounded = 1;
              while (rounded < op.size) rounded *= 2;
            }
            const r = { lo: pfn, hi: pfn + rounded - 1, size: op.size };
            expect(r.hi).toBeLessThanOrEqual(op.limit);
            expect(r.lo).toBeGreaterThanOrEqual(1);
            for (const o of live) expect(r.lo > o.hi || r.hi < o.lo).toBe(true);
            live.push(r);
          } else if (live.length > 0) {
            const r = live.splice(op.which % live.length, 1)[0] as { lo: number; size: number };
            d.freeIovaFast(r.lo, r.size);
          }
        }
        d.verify();
      }),
      { numRuns: 150 },
    );
  });
});
