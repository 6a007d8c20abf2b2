import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CpuFault } from './cpu-fault.js';
import { GFP_KERNEL, __GFP_NOWARN } from './gfp.js';
import { CONSISTENT_BASE, VMALLOC_START } from './layout.js';
import { PAGE_KERNEL, PAGE_KERNEL_RO, pgprotNoncached, pgprotWritecombine } from './pgprot.js';
import { machine, MiB, pattern, thrown } from './test-machine.js';

const PAGE = 4096;

describe('vmap and vunmap', () => {
  test('maps scattered pages contiguously; the page after the area is a guard page', () => {
    const { mm } = machine();
    const pfns = [mm.allocPages(0) as number, mm.allocPages(3) as number, mm.allocPages(0) as number];
    const kva = mm.vmap(pfns, PAGE_KERNEL) as number;
    expect(kva).toBe(VMALLOC_START);
    expect(mm.isVmallocAddress(kva)).toBe(true);
    expect(mm.stats().vmallocUsed).toBe(3 * PAGE);
    expect(mm.vmallocToPfn(kva + PAGE + 5)).toBe(pfns[1]);
    expect(mm.kvaToPhys(kva + 2 * PAGE + 7)).toBe((pfns[2] as number) * PAGE + 7);

    // A write across the page boundaries lands on the three pages.
    const bytes = pattern(PAGE + 200);
    mm.cpu.write(kva + PAGE - 100, bytes);
    expect(mm.cpu.read(mm.pageAddress(pfns[0] as number) + PAGE - 100, 100)).toEqual(bytes.subarray(0, 100));
    expect(mm.cpu.read(mm.pageAddress(pfns[1] as number), PAGE)).toEqual(bytes.subarray(100, PAGE + 100));
    expect(mm.cpu.read(mm.pageAddress(pfns[2] as number), 100)).toEqual(bytes.subarray(PAGE + 100));
    expect(mm.cpu.read(kva + PAGE - 100, PAGE + 200)).toEqual(bytes);

    // One byte past the end: the guard page. The access moves nothing.
    const fault = thrown(() => mm.cpu.write(kva + 3 * PAGE - 2, new Uint8Array([9, 9, 9]))) as CpuFault;
    expect(fault).toBeInstanceOf(CpuFault);
    expect(fault).toMatchObject({ address: kva + 3 * PAGE, write: true, reason: 'guard-page' });
    expect(mm.cpu.read(kva + 3 * PAGE - 2, 2)).toEqual(new Uint8Array(2));

    // The next area starts after the guard page.
    const next = mm.vmap([pfns[0] as number], PAGE_KERNEL) as number;
    expect(next).toBe(kva + 4 * PAGE);

    mm.vunmap(kva);
    expect(mm.stats().vmallocUsed).toBe(PAGE);
    expect(thrown(() => mm.cpu.read(kva, 1))).toMatchObject({ reason: 'unmapped', address: kva });
    expect(mm.vmallocToPfn(kva)).toBeNull();
    // The pages were only mapped: they are still the caller's.
    expect(mm.pageState(pfns[1] as number)).toBe('allocated');
    // First fit at the lowest address: the hole is reused.
    expect(mm.vmap([pfns[2] as number], PAGE_KERNEL)).toBe(kva);
  });

  test('the pgprot decides the memory type: a wc mapping holds stores until a barrier', () => {
    const { mm, hw } = machine();
    const pfn = mm.allocPages(0) as number;
    const wc = mm.vmap([pfn], pgprotWritecombine(PAGE_KERNEL)) as number;
    const uc = mm.vmap([pfn], pgprotNoncached(PAGE_KERNEL)) as number;
    expect(mm.memoryTypeAt(wc)).toBe('wc');
    expect(mm.memoryTypeAt(uc)).toBe('uncached');
    expect(mm.memoryTypeAt(mm.pageAddress(pfn))).toBe('normal');
    mm.cpu.write(wc, new Uint8Array([1, 2, 3, 4]));
    expect(hw.ram.read(pfn * PAGE, 4)).toEqual(new Uint8Array(4)); // still in the WC buffer
    expect(mm.cpu.read(wc, 4)).toEqual(new Uint8Array([1, 2, 3, 4])); // the CPU sees its own stores
    mm.cpu.wmb();
    expect(hw.ram.read(pfn * PAGE, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  test('a read-only mapping faults on a store', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(0) as number;
    const ro = mm.vmap([pfn], PAGE_KERNEL_RO) as number;
    expect(mm.cpu.read(ro, 4)).toEqual(new Uint8Array(4));
    expect(thrown(() => mm.cpu.fill(ro, 4, 1))).toMatchObject({ reason: 'read-only', write: true });
  });

  test('a full area returns null with the kernel message; bad calls throw', () => {
    const { mm, hw } = machine([{ base: 0, size: 64 * MiB }], { vmallocSize: 4 * PAGE });
    const pfn = mm.allocPages(0) as number;
    expect(mm.vmap([pfn, pfn, pfn], PAGE_KERNEL)).toBe(VMALLOC_START); // 3 pages + guard = all of it
    expect(mm.vmap([pfn], PAGE_KERNEL)).toBeNull();
    expect(hw.dmesg.entries().at(-1)?.message).toBe('vmap allocation for size 4096 failed: use vmalloc=<size> to increase size.');
    expect(thrown(() => mm.vmap([], PAGE_KERNEL)).message).toMatch(/^pfns/);
    expect(thrown(() => mm.vmap([1.5], PAGE_KERNEL)).message).toMatch(/^pfns\[0\]/);
    expect(thrown(() => mm.vmap([pfn], { memoryType: 'cached', flags: 3 } as never)).message).toMatch(/^pgprot\.memoryType/);
    expect(thrown(() => mm.vunmap(VMALLOC_START + PAGE)).message).toMatch(/nonexistent vm area/);
    expect(thrown(() => mm.vfree(VMALLOC_START)).message).toMatch(/use vunmap/);
  });
});

describe('vmalloc and vfree', () => {
  test('vmalloc takes order-0 pages and vfree returns them; a failure leaves nothing behind', () => {
    const { mm, hw } = machine([{ base: 0, size: 8 * MiB }]);
    const free = mm.stats().freePages;
    const kva = mm.vmalloc(5 * PAGE + 1) as number;
    expect(mm.stats()).toMatchObject({ vmallocUsed: 6 * PAGE, freePages: free - 6 });
    mm.cpu.write(kva + 5 * PAGE, pattern(PAGE));
    expect(mm.cpu.read(kva + 5 * PAGE, PAGE)).toEqual(pattern(PAGE));
    expect(thrown(() => mm.vunmap(kva)).message).toMatch(/use vfree/);
    mm.vfree(kva);
    mm.vfree(null);
    expect(mm.stats()).toMatchObject({ vmallocUsed: 0, freePages: free });

    expect(mm.vmalloc(8 * MiB)).toBeNull(); // more pages than there are
    expect(hw.dmesg.entries().at(-1)?.message).toMatch(/^vmalloc: allocation failure, allocated \d+ of 8388608 bytes$/);
    expect(mm.stats()).toMatchObject({ vmallocUsed: 0, freePages: free });
    expect(mm.vmalloc(8 * MiB, GFP_KERNEL | __GFP_NOWARN)).toBeNull();
    expect(thrown(() => mm.vmalloc(0)).message).toMatch(/^size/);
  });

  test('vzalloc zeroes', () => {
    const { mm } = machine();
    const a = mm.vmalloc(PAGE) as number;
    mm.cpu.fill(a, PAGE, 0xaa);
    mm.vfree(a);
    const z = mm.vzalloc(PAGE) as number;
    expect(mm.cpu.read(z, PAGE).every((b) => b === 0)).toBe(true);
  });

  test('property: vmalloc accounting is exact and freeing everything restores the area', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 9 * PAGE }), fc.constant(-1), fc.nat({ max: 50 }).map((n) => -2 - n)), { maxLength: 80 }), (ops) => {
        const { mm } = machine([{ base: 0, size: 32 * MiB }], { vmallocSize: 64 * PAGE });
        const free = mm.stats().freePages;
        const live: [number, number][] = [];
        for (const op of ops) {
          if (op > 0) {
            const kva = mm.vmalloc(op, GFP_KERNEL | __GFP_NOWARN);
            if (kva !== null) live.push([kva, Math.ceil(op / PAGE) * PAGE]);
          } else if (live.length > 0) {
            const [kva] = live.splice((-op - 1) % live.length, 1)[0] as [number, number];
            mm.vfree(kva);
          }
          // exact: used is the sum of the live areas' page-rounded sizes
          expect(mm.stats().vmallocUsed).toBe(live.reduce((s, [, size]) => s + size, 0));
          expect(mm.stats().freePages).toBe(free - mm.stats().vmallocUsed / PAGE);
        }
        // areas and their guard pages never overlap
        const sorted = [...live].sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < sorted.length; i++) {
          const [start, size] = sorted[i - 1] as [number, number];
          expect(start + size + PAGE).toBeLessThanOrEqual((sorted[i] as [number, number])[0]);
        }
        for (const [kva] of live) mm.vfree(kva);
        expect(mm.stats()).toMatchObject({ vmallocUsed: 0, vmallocTotal: 64 * PAGE, freePages: free });
        // nothing fragmented: the largest area (all but its guard page) fits again
        const all = mm.vmalloc(63 * PAGE) as number;
        expect(all).toBe(VMALLOC_START);
      }),
      { numRuns: 60 },
    );
  });
});

describe('the consistent area (2011 ARM)', () => {
  test('maps without guard pages, counts separately, and is absent by default', () => {
    const { mm } = machine([{ base: 0, size: 64 * MiB }], { consistentSize: 2 * MiB });
    const pfn = mm.allocPages(1) as number;
    const a = mm.consistentMap([pfn, pfn + 1], pgprotNoncached(PAGE_KERNEL)) as number;
    const b = mm.consistentMap([pfn], pgprotNoncached(PAGE_KERNEL)) as number;
    expect(a).toBe(CONSISTENT_BASE);
    expect(b).toBe(a + 2 * PAGE);
    expect(mm.isConsistentAddress(a)).toBe(true);
    expect(mm.isVmallocAddress(a)).toBe(false);
    expect(mm.memoryTypeAt(b)).toBe('uncached');
    expect(mm.vmallocToPfn(a + PAGE)).toBe(pfn + 1);
    expect(mm.stats()).toMatchObject({ consistentUsed: 3 * PAGE, consistentTotal: 2 * MiB, vmallocUsed: 0 });
    mm.consistentUnmap(a);
    expect(mm.stats().consistentUsed).toBe(PAGE);
    expect(thrown(() => mm.cpu.read(a, 1))).toMatchObject({ reason: 'unmapped' });
    expect(mm.consistentMap([pfn], PAGE_KERNEL, 4 * PAGE)).toBe(CONSISTENT_BASE);

    const { mm: none } = machine();
    expect(none.stats()).toMatchObject({ consistentUsed: 0, consistentTotal: 0 });
    expect(none.consistentMap([pfn], PAGE_KERNEL)).toBeNull();
  });
});
