import { describe, expect, test } from '@jest/globals';
import { CpuFault } from './cpu-fault.js';
import { EACCES, EBUSY, EFAULT, EINVAL, ENXIO } from './errno.js';
import { remapPfnRange, vmInsertPage, vmMapPages } from './memory.js';
import { taskUnmappedBase } from './layout.js';
import { MmapError } from './process.js';
import { PAGE_READONLY, PAGE_SHARED, pgprotNoncached, pgprotWritecombine } from './pgprot.js';
import { machine, pattern, thrown } from './test-machine.js';
import { VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_SHARED } from './vma.js';
import type { Vma } from './vma.js';

const PAGE = 4096;

describe('mmap with a driver handler', () => {
  test('remapPfnRange with a wc pgprot: the user sees wc pages and the bytes the kernel wrote', () => {
    const { mm, hw } = machine();
    const pfn = mm.allocPages(1) as number;
    const kva = mm.vmap([pfn, pfn + 1], pgprotWritecombine(PAGE_SHARED)) as number;
    mm.cpu.write(kva + PAGE - 3, pattern(10));
    mm.cpu.wmb();
    const proc = mm.createProcess();
    let seen: Vma | undefined;
    const uva = proc.mmap(2 * PAGE, (vma) => {
      seen = vma;
      vma.pgprot = pgprotWritecombine(vma.pgprot);
      return remapPfnRange(vma, vma.start, pfn + vma.pgoff, vma.end - vma.start, vma.pgprot);
    });
    expect(uva).toBe(taskUnmappedBase(PAGE));
    expect(proc.pgprotAt(uva)).toBe('wc');
    expect(proc.pgprotAt(uva + PAGE)).toBe('wc');
    expect(proc.read(uva + PAGE - 3, 10)).toEqual(pattern(10));
    const vma = seen as Vma;
    expect(vma.flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED)).toBe(VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED);
    expect(proc.vmas()).toEqual([vma]);
    expect(vma.mm).toBe(proc.mm);

    // A user store through the wc mapping waits in the write-combine buffer like the kernel's.
    proc.write(uva, new Uint8Array([7, 7]));
    expect(hw.ram.read(pfn * PAGE, 2)).toEqual(new Uint8Array(2));
    hw.wmb();
    expect(mm.cpu.read(mm.pageAddress(pfn), 2)).toEqual(new Uint8Array([7, 7]));
  });

  test('pgoff reaches the handler; the handler may use it', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(2) as number;
    mm.cpu.write(mm.pageAddress(pfn + 2), new Uint8Array([42]));
    const proc = mm.createProcess();
    const uva = proc.mmap(
      PAGE,
      (vma) => {
        expect(vma.pgoff).toBe(2);
        return remapPfnRange(vma, vma.start, pfn + vma.pgoff, PAGE, vma.pgprot);
      },
      { pgoff: 2 },
    );
    expect(proc.read(uva, 1)).toEqual(new Uint8Array([42]));
    expect(proc.pgprotAt(uva)).toBe('normal');
  });

  test('a failing handler maps nothing: MmapError with the errno, no VMA, no PTE', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(1) as number;
    const proc = mm.createProcess();
    let start = 0;
    const error = thrown(() =>
      proc.mmap(2 * PAGE, (vma) => {
        start = vma.start;
        expect(remapPfnRange(vma, vma.start, pfn, PAGE, vma.pgprot)).toBe(0);
        return -ENXIO;
      }),
    );
    expect(error).toBeInstanceOf(MmapError);
    expect((error as MmapError).errno).toBe(ENXIO);
    expect(proc.vmas()).toEqual([]);
    expect(thrown(() => proc.read(start, 1))).toBeInstanceOf(CpuFault);
    expect(thrown(() => proc.pgprotAt(start))).toMatchObject({ reason: 'unmapped', user: true });

    // A handler that throws is torn down the same way; a bad return value is a TypeError.
    expect(thrown(() => proc.mmap(PAGE, (vma) => {
      remapPfnRange(vma, vma.start, pfn, PAGE, vma.pgprot);
      throw new Error('driver bug');
    })).message).toBe('driver bug');
    expect(thrown(() => proc.mmap(PAGE, () => 1))).toBeInstanceOf(TypeError);
    expect(proc.vmas()).toEqual([]);
    // The same range is free again.
    expect(proc.mmap(PAGE, () => 0)).toBe(start);
  });

  test('remapPfnRange returns -EINVAL outside the VMA or unaligned, -EACCES over a PTE, and changes nothing then', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(2) as number;
    const proc = mm.createProcess();
    const results: number[] = [];
    proc.mmap(2 * PAGE, (vma) => {
      results.push(remapPfnRange(vma, vma.start + 1, pfn, PAGE, vma.pgprot));
      results.push(remapPfnRange(vma, vma.start + PAGE, pfn, 2 * PAGE, vma.pgprot));
      results.push(remapPfnRange(vma, vma.start - PAGE, pfn, PAGE, vma.pgprot));
      results.push(remapPfnRange(vma, vma.start, pfn, 0, vma.pgprot));
      results.push(vma.flags & VM_PFNMAP);
      results.push(remapPfnRange(vma, vma.start, pfn, 1, vma.pgprot)); // size rounds up to a page
      results.push(remapPfnRange(vma, vma.start, pfn, 2 * PAGE, vma.pgprot));
      return 0;
    });
    expect(results).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0, -EACCES]);
    const [vma] = proc.vmas();
    expect(thrown(() => proc.read((vma as Vma).start + PAGE, 1))).toMatchObject({ reason: 'unmapped' });
  });

  test('vmInsertPage maps allocated pages only; vmMapPages honours pgoff', () => {
    const { mm } = machine();
    const proc = mm.createProcess();
    const pages = [mm.allocPages(0) as number, mm.allocPages(0) as number, mm.allocPages(0) as number];
    pages.forEach((pfn, i) => mm.cpu.fill(mm.pageAddress(pfn), PAGE, i + 1));
    const freed = mm.allocPages(0) as number;
    mm.freePages(freed, 0);
    const results: number[] = [];
    const uva = proc.mmap(2 * PAGE, (vma) => {
      vma.pgprot = pgprotNoncached(vma.pgprot);
      results.push(vmInsertPage(vma, vma.end, pages[0] as number));
      results.push(vmInsertPage(vma, vma.start, freed));
      results.push(vmInsertPage(vma, vma.start, pages[0] as number));
      results.push(vmInsertPage(vma, vma.start, pages[1] as number));
      results.push(vmInsertPage(vma, vma.start + PAGE, pages[2] as number));
      results.push(vma.flags & VM_MIXEDMAP);
      return 0;
    });
    expect(results).toEqual([-EFAULT, -EINVAL, 0, -EBUSY, 0, VM_MIXEDMAP]);
    expect(proc.read(uva, 1)).toEqual(new Uint8Array([1]));
    expect(proc.read(uva + PAGE, 1)).toEqual(new Uint8Array([3]));
    expect(proc.pgprotAt(uva)).toBe('uncached');

    const other = proc.mmap(2 * PAGE, (vma) => vmMapPages(vma, pages), { pgoff: 1 });
    expect(proc.read(other, 1)).toEqual(new Uint8Array([2]));
    expect(proc.read(other + PAGE, 1)).toEqual(new Uint8Array([3]));
    expect((thrown(() => proc.mmap(3 * PAGE, (vma) => vmMapPages(vma, pages), { pgoff: 1 })) as MmapError).errno).toBe(ENXIO);
  });

  test('a read-only mapping faults on a user store and writes nothing', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(0) as number;
    const proc = mm.createProcess();
    const uva = proc.mmap(PAGE, (vma) => remapPfnRange(vma, vma.start, pfn, PAGE, vma.pgprot), { pgprot: PAGE_READONLY });
    expect(thrown(() => proc.write(uva, new Uint8Array([1])))).toMatchObject({ reason: 'read-only', write: true, user: true });
    expect(mm.cpu.read(mm.pageAddress(pfn), 1)).toEqual(new Uint8Array([0]));
  });

  test('munmap trims and splits VMAs, adjusting pgoff, and unmaps the pages', () => {
    const { mm } = machine();
    const pfn = mm.allocPages(2) as number;
    const proc = mm.createProcess();
    const uva = proc.mmap(4 * PAGE, (vma) => remapPfnRange(vma, vma.start, pfn, 4 * PAGE, vma.pgprot));
    proc.munmap(uva + PAGE, PAGE);
    expect(proc.vmas().map((v) => [v.start - uva, v.end - uva, v.pgoff])).toEqual([
      [0, PAGE, 0],
      [2 * PAGE, 4 * PAGE, 2],
    ]);
    expect(thrown(() => proc.read(uva + PAGE, 1))).toBeInstanceOf(CpuFault);
    expect(proc.read(uva + 2 * PAGE, 1)).toEqual(new Uint8Array(1));
    proc.munmap(uva, 3 * PAGE);
    expect(proc.vmas().map((v) => [v.start - uva, v.end - uva, v.pgoff])).toEqual([[3 * PAGE, 4 * PAGE, 3]]);
    expect(thrown(() => proc.munmap(uva + 1, PAGE))).toBeInstanceOf(RangeError);
    proc.exit();
    expect(proc.vmas()).toEqual([]);
    // A page can be checked as still in use by the kernel
    expect(mm.pageState(pfn)).toBe('allocated');
  });

  test('bad arguments throw naming the argument; processes get distinct pids', () => {
    const { mm } = machine();
    const proc = mm.createProcess();
    expect(mm.createProcess().pid).toBe(proc.pid + 1);
    expect(thrown(() => proc.mmap(0, () => 0)).message).toMatch(/^length/);
    expect(thrown(() => proc.mmap(PAGE, 'x' as never)).message).toMatch(/^handler/);
    expect(thrown(() => proc.mmap(PAGE, () => 0, { pgoff: -1 })).message).toMatch(/^options\.pgoff/);
    expect(thrown(() => proc.read(-1, 1)).message).toMatch(/^uva/);
    expect(thrown(() => proc.mmap(PAGE, (vma) => remapPfnRange(vma, vma.start, 1.5, PAGE, vma.pgprot))).message).toMatch(/^pfn/);
    expect(thrown(() => remapPfnRange({} as Vma, 0, 0, PAGE, PAGE_SHARED)).message).toMatch(/^vma/);
    expect(thrown(() => proc.mmap(PAGE, (vma) => remapPfnRange(vma, vma.start, 0, PAGE, null as never))).message).toMatch(/^pgprot/);
  });
});
