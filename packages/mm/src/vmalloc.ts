/**
 * A finite kernel virtual area handed out in page-granular pieces (mm/vmalloc.c's vmap_area
 * allocator, alloc_vmap_area()): first fit at the lowest address, each piece followed by unmapped
 * guard pages so that an overrun faults. One instance is the vmalloc area (vmap, vmalloc); another,
 * without guard pages, is 2011 ARM's consistent DMA region (arch/arm/mm/vmregion.c).
 *
 * Accounting: `used` is the bytes actually mapped (page-rounded, guard pages excluded), as the
 * kernel's VmallocUsed counts mapped pages; fitting counts each area with its guard pages.
 */
import { alignUp, checkInteger, checkSize, hex, isPowerOfTwo } from '@kdma/hw';
import type { CpuFaultReason } from './cpu-fault.js';
import { GFP_KERNEL, __GFP_NOWARN } from './gfp.js';
import type { PhysicalCpuAccess } from './hardware.js';
import type { PageAllocator } from './page-alloc.js';
import { PageTable, makePte, ptePfn } from './pgtable.js';
import type { MappedSpace } from './pgtable.js';
import { checkPgprot, PAGE_KERNEL } from './pgprot.js';
import type { Pgprot } from './pgprot.js';

/** How an area got its pages: vmalloc owns them (vfree frees them), vmap only maps them. */
export type VmAreaKind = 'vmalloc' | 'vmap';

/** One mapped area (kernel `struct vm_struct`). */
export interface VmArea {
  /** First mapped address. */
  readonly start: number;
  /** Mapped bytes (a whole number of pages), guard pages excluded. */
  readonly size: number;
  readonly kind: VmAreaKind;
  readonly pgprot: Pgprot;
  /** The pfn behind each page. */
  readonly pfns: Float64Array;
}

interface AreaRecord extends VmArea {
  /** Bytes the area occupies, guard pages included. */
  readonly span: number;
}

/** A vmap area allocator with its page table. */
export class VmapSpace implements MappedSpace {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly pageSize: number;
  readonly guardPages: number;
  readonly table: PageTable;
  private readonly hw: PhysicalCpuAccess;
  private readonly pages: PageAllocator;
  /** Areas sorted by start. */
  private readonly areas: AreaRecord[] = [];
  private usedBytes = 0;

  constructor(name: string, hw: PhysicalCpuAccess, pages: PageAllocator, start: number, size: number, pageSize: number, guardPages: number) {
    this.name = name;
    this.hw = hw;
    this.pages = pages;
    this.start = start;
    this.end = start + size;
    this.pageSize = pageSize;
    this.guardPages = guardPages;
    this.table = new PageTable(start, start + size, pageSize);
  }

  /** Total bytes of the area (VmallocTotal). */
  get total(): number {
    return this.end - this.start;
  }

  /** Mapped bytes (VmallocUsed). */
  get used(): number {
    return this.usedBytes;
  }

  /** Live areas, lowest first. */
  list(): readonly VmArea[] {
    return this.areas.map(({ start, size, kind, pgprot, pfns }) => ({ start, size, kind, pgprot, pfns }));
  }

  /** Index of the last area starting at or below `va`, or -1. */
  private indexAtOrBelow(va: number): number {
    let lo = 0;
    let hi = this.areas.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.areas[mid] as AreaRecord).start <= va) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** find_vm_area(): the area whose mapped pages or guard pages hold `va`. */
  find(va: number): VmArea | undefined {
    const i = this.indexAtOrBelow(va);
    const area = i < 0 ? undefined : this.areas[i];
    return area !== undefined && va < area.start + area.span ? area : undefined;
  }

  /** Is `va` an address of this space (is_vmalloc_addr for the vmalloc space)? */
  contains(va: number): boolean {
    return va >= this.start && va < this.end;
  }

  missReason(va: number): CpuFaultReason {
    const area = this.find(va);
    return area !== undefined && va >= area.start + area.size ? 'guard-page' : 'unmapped';
  }

  /** alloc_vmap_area(): the lowest free range of `bytes` plus guard pages, aligned; null if full. */
  private allocRange(bytes: number, align: number): number | null {
    const need = bytes + this.guardPages * this.pageSize;
    let cursor = this.start;
    let index = 0;
    for (; index <= this.areas.length; index++) {
      const candidate = alignUp(cursor, align);
      const next = this.areas[index];
      const limit = next === undefined ? this.end : next.start;
      if (candidate + need <= limit) return candidate;
      if (next === undefined) break;
      cursor = next.start + next.span;
    }
    return null;
  }

  private insert(area: AreaRecord): void {
    this.areas.splice(this.indexAtOrBelow(area.start) + 1, 0, area);
    this.usedBytes += area.size;
  }

  private mapPages(start: number, pfns: Float64Array, pgprot: Pgprot): void {
    for (let i = 0; i < pfns.length; i++) this.table.set(start + i * this.pageSize, makePte(pfns[i] as number, pgprot));
  }

  private checkAlign(align: number): void {
    if (!isPowerOfTwo(align) || align < this.pageSize) throw new RangeError(`align must be a power of two of at least the page size, got ${align}`);
  }

  private warnFull(bytes: number, gfp: number): void {
    if ((gfp & __GFP_NOWARN) === 0) {
      this.hw.dmesg.printk('warn', `vmap allocation for size ${bytes} failed: use vmalloc=<size> to increase size.`);
    }
  }

  /**
   * vmap(): maps `pfns` (any pfns, RAM or not, as ioremap_page_range may) contiguously with
   * `pgprot`; returns the kva or null when the space is full.
   */
  vmap(pfns: readonly number[], pgprot: Pgprot, align?: number, gfp: number = GFP_KERNEL): number | null {
    if (!Array.isArray(pfns)) throw new TypeError(`pfns must be an array of page frame numbers, got ${typeof pfns}`);
    if (pfns.length === 0) throw new RangeError('pfns must not be empty');
    const maxPfn = Math.floor(2 ** 52 / this.pageSize) - 1;
    pfns.forEach((pfn, i) => checkInteger(pfn, `pfns[${i}]`, 0, maxPfn));
    const prot = checkPgprot(pgprot, 'pgprot');
    const alignment = align ?? this.pageSize;
    this.checkAlign(alignment);
    const bytes = pfns.length * this.pageSize;
    const start = this.allocRange(bytes, alignment);
    if (start === null) {
      this.warnFull(bytes, gfp);
      return null;
    }
    const frames = Float64Array.from(pfns);
    this.mapPages(start, frames, prot);
    this.insert({ start, size: bytes, span: bytes + this.guardPages * this.pageSize, kind: 'vmap', pgprot: prot, pfns: frames });
    return start;
  }

  /** The area starting exactly at `kva`, for unmapping; throws the kernel's WARN otherwise. */
  private areaAt(kva: unknown, caller: string): number {
    checkInteger(kva, 'kva');
    const i = this.indexAtOrBelow(kva);
    if (i < 0 || (this.areas[i] as AreaRecord).start !== kva) throw new Error(`Trying to ${caller}() nonexistent vm area (${hex(kva)})`);
    return i;
  }

  private remove(i: number): AreaRecord {
    const area = this.areas[i] as AreaRecord;
    this.table.clearRange(area.start, area.start + area.size);
    this.areas.splice(i, 1);
    this.usedBytes -= area.size;
    return area;
  }

  /** vunmap(): removes a vmap() mapping (the pages stay the caller's). */
  vunmap(kva: number): void {
    const i = this.areaAt(kva, 'vunmap');
    if ((this.areas[i] as AreaRecord).kind !== 'vmap') throw new Error(`vunmap(${hex(kva)}) of a vmalloc() area: use vfree`);
    this.remove(i);
  }

  /**
   * __vmalloc(): `size` bytes of order-0 pages from anywhere, mapped contiguously; null when the
   * space or memory runs out (with the kernel's message), and then nothing stays allocated.
   */
  vmalloc(size: number, gfp: number = GFP_KERNEL, pgprot: Pgprot = PAGE_KERNEL): number | null {
    checkSize(size, 'size');
    const prot = checkPgprot(pgprot, 'pgprot');
    const count = Math.ceil(size / this.pageSize);
    const bytes = count * this.pageSize;
    const start = this.allocRange(bytes, this.pageSize);
    if (start === null) {
      this.warnFull(bytes, gfp);
      return null;
    }
    const frames = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const pfn = this.pages.allocPages(0, gfp | __GFP_NOWARN);
      if (pfn === null) {
        for (let j = 0; j < i; j++) this.pages.freePages(frames[j] as number, 0);
        if ((gfp & __GFP_NOWARN) === 0) {
          this.hw.dmesg.printk('warn', `vmalloc: allocation failure, allocated ${i * this.pageSize} of ${bytes} bytes`);
        }
        return null;
      }
      frames[i] = pfn;
    }
    this.mapPages(start, frames, prot);
    this.insert({ start, size: bytes, span: bytes + this.guardPages * this.pageSize, kind: 'vmalloc', pgprot: prot, pfns: frames });
    return start;
  }

  /** vfree(): unmaps a vmalloc() area and frees its pages; null is ignored as in the kernel. */
  vfree(kva: number | null): void {
    if (kva === null) return;
    const i = this.areaAt(kva, 'vfree');
    if ((this.areas[i] as AreaRecord).kind !== 'vmalloc') throw new Error(`vfree(${hex(kva)}) of a vmap() area: use vunmap`);
    const area = this.remove(i);
    for (let j = 0; j < area.pfns.length; j++) this.pages.freePages(area.pfns[j] as number, 0);
  }

  /** vmalloc_to_pfn(): the pfn mapped at `kva`, or null. */
  toPfn(kva: number): number | null {
    checkInteger(kva, 'kva');
    const pte = this.table.get(kva);
    return pte < 0 ? null : ptePfn(pte);
  }
}
