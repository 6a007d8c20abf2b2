import { describe, expect, test } from '@jest/globals';
import { Hardware } from '@kdma/hw';
import { CpuFault } from './cpu-fault.js';
import * as errno from './errno.js';
import { GFP_ATOMIC, GFP_KERNEL, GFP_NOWAIT, gfpZone, __GFP_DMA, __GFP_HIGHMEM, __GFP_ZERO } from './gfp.js';
import { addressArea, CONSISTENT_BASE, NO_KERNEL_MAPPING_BASE, PAGE_OFFSET, USER_SPACE_END, VMALLOC_START } from './layout.js';
import { Mm } from './mm.js';
import { remapPfnRange } from './memory.js';
import { makePgprot, PAGE_KERNEL, PAGE_READONLY, PAGE_SHARED, pgprotNoncached, pgprotWritecombine, PROT_READ, PROT_USER, PROT_WRITE } from './pgprot.js';
import { GiB, machine, MiB, pattern, thrown, x86Machine } from './test-machine.js';

const PAGE = 4096;

describe('layout, constants and pgprot', () => {
  test('the virtual layout of DESIGN.md', () => {
    expect([USER_SPACE_END, PAGE_OFFSET, VMALLOC_START, CONSISTENT_BASE, NO_KERNEL_MAPPING_BASE]).toEqual([2 ** 47, 2 ** 48, 2 ** 49, 2 ** 50, 2 ** 51]);
    expect(addressArea(PAGE_OFFSET + 5)).toBe('linear');
    expect(addressArea(NO_KERNEL_MAPPING_BASE + 5)).toBe('no-kernel-mapping');
  });

  test('errno values are the kernel\'s, positive', () => {
    expect(errno).toMatchObject({ ENOMEM: 12, EINVAL: 22, EAGAIN: 11, ENXIO: 6, EIO: 5, EFAULT: 14, EADDRINUSE: 98, ENOTSUPP: 524, EOPNOTSUPP: 95 });
  });

  test('GFP values are v3.4\'s and gfp_zone ignores unknown bits', () => {
    expect([GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT, __GFP_ZERO]).toEqual([0xd0, 0x20, 0, 0x8000]);
    expect(gfpZone(GFP_KERNEL | __GFP_HIGHMEM)).toBe('NORMAL');
    expect(gfpZone(__GFP_DMA | 0x100000)).toBe('DMA');
  });

  test('pgprot helpers return the same frozen objects', () => {
    const wc = pgprotWritecombine(PAGE_SHARED);
    expect(wc).toBe(pgprotWritecombine(PAGE_SHARED));
    expect(wc).toBe(makePgprot('wc', PROT_READ | PROT_WRITE | PROT_USER));
    expect(Object.isFrozen(wc)).toBe(true);
    expect(pgprotNoncached(wc)).toEqual({ memoryType: 'uncached', flags: PAGE_SHARED.flags });
    expect(PAGE_KERNEL).toEqual({ memoryType: 'normal', flags: PROT_READ | PROT_WRITE });
    expect(thrown(() => pgprotNoncached({ memoryType: 'normal', flags: 99 }))).toBeInstanceOf(RangeError);
  });
});

describe('Mm options', () => {
  test('defaults: 4 KiB pages, one NORMAL zone, 240 MiB of vmalloc, an 8 MiB kernel image, stats', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 64 * MiB }] });
    const mm = new Mm(hw);
    expect(mm.pageSize).toBe(4096);
    expect(mm.maxOrder).toBe(10);
    expect(mm.kmallocMinAlign).toBe(8);
    expect(mm.threadSize).toBe(16384);
    expect(mm.stats()).toEqual({
      vmallocUsed: 0,
      vmallocTotal: 240 * MiB,
      consistentUsed: 0,
      consistentTotal: 0,
      freePages: (56 * MiB) / PAGE,
      cmaUsed: 0,
      cmaTotal: 0,
      totalPages: (64 * MiB) / PAGE,
    });
    expect(mm.kernelImage).toEqual({
      text: { start: PAGE_OFFSET, end: PAGE_OFFSET + 4 * MiB },
      rodata: { start: PAGE_OFFSET + 4 * MiB, end: PAGE_OFFSET + 6 * MiB },
      data: { start: PAGE_OFFSET + 6 * MiB, end: PAGE_OFFSET + 8 * MiB },
    });
  });

  test('bad options throw naming the option', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 64 * MiB }] });
    expect(thrown(() => new Mm(hw, { pageSize: 3000 })).message).toMatch(/^options\.pageSize/);
    expect(thrown(() => new Mm(hw, { pageSize: 2 ** 17 })).message).toMatch(/^options\.pageSize/);
    expect(thrown(() => new Mm(hw, { zones: [{ name: 'NORMAL', end: 4 * GiB }] })).message).toMatch(/^zones\[0\]\.end must be Infinity/);
    expect(thrown(() => new Mm(hw, { zones: [{ name: 'DMA32', end: 4 * GiB }, { name: 'DMA', end: Infinity }] })).message).toMatch(/^zones\[1\]\.name/);
    expect(thrown(() => new Mm(hw, { zones: [{ name: 'HIGHMEM', end: Infinity }] as never })).message).toMatch(/^zones\[0\]\.name/);
    expect(thrown(() => new Mm(hw, { vmallocSize: 1000 })).message).toMatch(/^options\.vmallocSize/);
    expect(thrown(() => new Mm(hw, { kmallocMinAlign: 48 })).message).toMatch(/^kmallocMinAlign/);
    expect(thrown(() => new Mm(hw, { kernelImageSize: 128 * MiB })).message).toMatch(/^options\.kernelImageSize/);
    expect(thrown(() => new Mm(hw, { maxOrder: -1 })).message).toMatch(/^options\.maxOrder/);
  });

  test('64 KiB pages', () => {
    const { mm } = machine([{ base: 0, size: 256 * MiB }], { pageSize: 65536 });
    const pfn = mm.allocPages(0) as number;
    expect(mm.pageAddress(pfn)).toBe(PAGE_OFFSET + pfn * 65536);
    const kva = mm.vmap([pfn], PAGE_KERNEL) as number;
    mm.cpu.write(kva + 65530, pattern(6));
    expect(mm.cpu.read(mm.pageAddress(pfn) + 65530, 6)).toEqual(pattern(6));
    expect(thrown(() => mm.cpu.read(kva + 65536, 1))).toMatchObject({ reason: 'guard-page' });
  });
});

describe('the linear map and the kernel CPU', () => {
  test('page_address, virt_to_phys, phys_to_virt, virt_addr_valid, pfn_valid', () => {
    const { mm } = x86Machine();
    const pfn = mm.allocPages(0) as number;
    const kva = mm.pageAddress(pfn);
    expect(kva).toBe(PAGE_OFFSET + pfn * PAGE);
    expect(mm.virtToPhys(kva + 12)).toBe(pfn * PAGE + 12);
    expect(mm.physToVirt(pfn * PAGE + 12)).toBe(kva + 12);
    expect(mm.virtAddrValid(kva)).toBe(true);
    expect(mm.virtAddrValid(PAGE_OFFSET + 3 * GiB)).toBe(false); // the hole
    expect(mm.pfnValid((3 * GiB) / PAGE)).toBe(false);
    expect(mm.pfnValid((4 * GiB) / PAGE)).toBe(true);
    const v = mm.vmalloc(PAGE) as number;
    expect(thrown(() => mm.virtToPhys(v))).toBeInstanceOf(RangeError);
    expect(mm.virtAddrValid(v)).toBe(false);
    expect(mm.kvaToPhys(v)).toBe((mm.vmallocToPfn(v) as number) * PAGE);
  });

  test('reads and writes through the linear map, one run even across pages', () => {
    const { mm, hw } = x86Machine();
    const pfn = mm.allocPages(2) as number;
    const kva = mm.pageAddress(pfn);
    mm.cpu.write(kva + 100, pattern(3 * PAGE));
    expect(hw.ram.read(pfn * PAGE + 100, 3 * PAGE)).toEqual(pattern(3 * PAGE));
    const into = new Uint8Array(10);
    mm.cpu.readInto(kva + 100, into);
    expect(into).toEqual(pattern(10));
    mm.cpu.fill(kva, 4, 0xee);
    expect(mm.cpu.read(kva, 4)).toEqual(new Uint8Array([0xee, 0xee, 0xee, 0xee]));
    expect(mm.cpu.id).toBe(0);
    expect(hw.runOn(1, () => mm.cpu.id)).toBe(1);
  });

  test('reads and writes a window of a buffer, in the linear map and through vmalloc pages', () => {
    const { mm } = x86Machine();
    const linear = mm.pageAddress(mm.allocPages(1) as number);
    const mapped = mm.vmalloc(3 * PAGE) as number;
    for (const kva of [linear, mapped + PAGE - 8]) {
      const bytes = pattern(64);
      mm.cpu.write(kva, bytes, 16, 32);
      expect(mm.cpu.read(kva, 32)).toEqual(bytes.subarray(16, 48));
      const into = new Uint8Array(64).fill(0xaa);
      mm.cpu.readInto(kva, into, 8, 32);
      expect(into.subarray(0, 8)).toEqual(new Uint8Array(8).fill(0xaa));
      expect(into.subarray(8, 40)).toEqual(bytes.subarray(16, 48));
      expect(into.subarray(40)).toEqual(new Uint8Array(24).fill(0xaa));
      expect(() => mm.cpu.readInto(kva, into, 40, 32)).toThrow(/length/);
      expect(() => mm.cpu.write(kva, bytes, -1)).toThrow(/offset/);
    }
  });

  test('accesses inside one mapped page and across its edge: each byte lands once, a fault moves nothing', () => {
    const { mm } = x86Machine();
    const kva = mm.vmap([mm.allocPages(0) as number, mm.allocPages(0) as number], pgprotNoncached(PAGE_KERNEL)) as number;
    // The last 16 bytes of the first page, then 16 that straddle both pages (two pages, two frames).
    mm.cpu.write(kva + PAGE - 16, pattern(16));
    mm.cpu.write(kva + 2 * PAGE - 24, pattern(32).subarray(16), 0, 8);
    expect(mm.cpu.read(kva + PAGE - 16, 16)).toEqual(pattern(16));
    expect(mm.cpu.read(kva + 2 * PAGE - 24, 8)).toEqual(pattern(32).subarray(16, 24));
    expect(mm.memoryTypeAt(kva + PAGE - 1)).toBe('uncached');
    // vmap leaves a guard page after the area: the store that reaches it writes none of its bytes.
    expect(thrown(() => mm.cpu.write(kva + 2 * PAGE - 8, new Uint8Array(16).fill(0xee)))).toMatchObject({ reason: 'guard-page' });
    expect(mm.cpu.read(kva + 2 * PAGE - 8, 8)).toEqual(new Uint8Array(8));
    // A read-only user page: loads take the one-page path, a store inside it still faults.
    const proc = mm.createProcess();
    const ro = proc.mmap(PAGE, (vma) => remapPfnRange(vma, vma.start, mm.allocPages(0) as number, PAGE, vma.pgprot), { pgprot: PAGE_READONLY });
    expect(proc.read(ro + 8, 8)).toEqual(new Uint8Array(8));
    expect(thrown(() => proc.write(ro + 8, new Uint8Array([1])))).toMatchObject({ reason: 'read-only', user: true });
    expect(proc.read(ro + 8, 1)).toEqual(new Uint8Array(1));
  });

  test('CpuFault: cookies, the hole, user addresses; a faulting access moves nothing', () => {
    const { mm } = x86Machine();
    const cookie = NO_KERNEL_MAPPING_BASE + 0x1000;
    const fault = thrown(() => mm.cpu.read(cookie, 4));
    expect(fault).toBeInstanceOf(CpuFault);
    expect(fault).toMatchObject({ address: cookie, write: false, reason: 'no-kernel-mapping' });
    expect(fault.message).toBe('Unable to handle kernel paging request at virtual address 0x8000000001000 (read, no-kernel-mapping)');
    expect(thrown(() => mm.cpu.write(cookie, new Uint8Array(1)))).toMatchObject({ write: true });
    expect(thrown(() => mm.kvaToPhys(cookie))).toBeInstanceOf(CpuFault);
    expect(thrown(() => mm.memoryTypeAt(cookie))).toBeInstanceOf(CpuFault);
    expect(thrown(() => mm.cpu.read(0x1000, 1))).toMatchObject({ reason: 'unmapped' });
    expect(thrown(() => mm.cpu.read(VMALLOC_START + 100 * GiB, 1))).toMatchObject({ reason: 'unmapped' });

    // A store that runs from the last page of low RAM into the hole writes nothing.
    const last = PAGE_OFFSET + 3 * GiB - 4;
    expect(thrown(() => mm.cpu.write(last, pattern(8)))).toMatchObject({ reason: 'not-ram', address: PAGE_OFFSET + 3 * GiB });
    expect(mm.cpu.read(last, 4)).toEqual(new Uint8Array(4));
  });

  test('kernel text and rodata are read-only; data is writable', () => {
    const { mm } = machine();
    const { text, rodata, data } = mm.kernelImage;
    expect(mm.isKernelText(text.start)).toBe(true);
    expect(mm.isKernelRodata(rodata.start)).toBe(true);
    expect(mm.isKernelText(rodata.start)).toBe(false);
    expect(mm.cpu.read(text.start, 4)).toEqual(new Uint8Array(4));
    expect(thrown(() => mm.cpu.write(rodata.end - 2, pattern(4)))).toMatchObject({ reason: 'read-only', address: rodata.end - 2 });
    expect(mm.cpu.read(rodata.end, 2)).toEqual(new Uint8Array(2));
    mm.cpu.write(data.start, pattern(4));
    expect(mm.pageState(mm.virtToPfn(text.start))).toBe('reserved');
  });
});

describe('kernel stacks', () => {
  test('stackAlloc gives THREAD_SIZE of linear memory that isStackAddress recognises until stackFree', () => {
    const { mm } = machine();
    const free = mm.stats().freePages;
    const stack = mm.stackAlloc() as number;
    expect(mm.stats().freePages).toBe(free - 4);
    expect(mm.isStackAddress(stack)).toBe(true);
    expect(mm.isStackAddress(stack + 16383)).toBe(true);
    expect(mm.isStackAddress(stack + 16384)).toBe(false);
    expect(mm.virtAddrValid(stack)).toBe(true);
    const small = mm.stackAlloc(8192) as number;
    expect(mm.isStackAddress(small + 8191)).toBe(true);
    expect(mm.isStackAddress(mm.kmalloc(64) as number)).toBe(false);
    mm.stackFree(stack);
    expect(mm.isStackAddress(stack)).toBe(false);
    expect(thrown(() => mm.stackFree(stack)).message).toMatch(/not the base of a kernel stack/);
    expect(thrown(() => mm.stackAlloc(0)).message).toMatch(/^size/);
  });
});
