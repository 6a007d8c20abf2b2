/**
 * User processes: an address space (`struct mm_struct`: the VMAs and the user page table) and the
 * task that owns it. mmap() calls the driver's handler as a `file_operations.mmap` call; user
 * loads and stores go through the user page table with each PTE's memory type, so a
 * write-combined user mapping really goes through the write-combine buffer.
 */
import { alignUp, checkAddress, checkInteger, checkSize, hex } from '@kdma/hw';
import type { MemoryType } from '@kdma/hw';
import { CpuFault } from './cpu-fault.js';
import { EINVAL, ENOMEM } from './errno.js';
import type { PhysicalCpuAccess } from './hardware.js';
import { USER_SPACE_END, taskUnmappedBase } from './layout.js';
import { checkPgprot, PAGE_SHARED, PROT_WRITE } from './pgprot.js';
import type { Pgprot } from './pgprot.js';
import { PageTable, pteMemoryType } from './pgtable.js';
import { RunCopier } from './run-copier.js';
import { Vma, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED, VM_WRITE } from './vma.js';

/** mmap() failed: the handler returned `-errno` (or no address space was left). Nothing is mapped. */
export class MmapError extends Error {
  override readonly name = 'MmapError';
  /** The positive errno. */
  readonly errno: number;

  constructor(errno: number, message: string) {
    super(message);
    this.errno = errno;
  }
}

/** The driver's mmap file operation: returns 0 or a negative errno. */
export type MmapHandler = (vma: Vma) => number;

export interface MmapOptions {
  /** vm_pgoff: the offset argument of mmap() in pages (default 0). */
  readonly pgoff?: number;
  /** The initial vm_page_prot (default PAGE_SHARED); without PROT_WRITE the mapping is read-only. */
  readonly pgprot?: Pgprot;
}

/** A process's address space: VMAs and the user page table. */
export class MmStruct {
  readonly pageSize: number;
  readonly pageTable: PageTable;
  /** Is the page at pfn in use (allocated, reserved, CMA-allocated)? vm_insert_page's page_count(). */
  readonly isPageInUse: (pfn: number) => boolean;
  private readonly areas: Vma[] = [];

  constructor(pageSize: number, isPageInUse: (pfn: number) => boolean) {
    this.pageSize = pageSize;
    this.pageTable = new PageTable(0, USER_SPACE_END, pageSize);
    this.isPageInUse = isPageInUse;
  }

  /** The VMAs, lowest first. */
  vmas(): readonly Vma[] {
    return [...this.areas];
  }

  /** find_vma() that must contain `uva`. */
  findVma(uva: number): Vma | undefined {
    return this.areas.find((v) => uva >= v.start && uva < v.end);
  }

  /** Is `vma` one of this address space's live VMAs? */
  owns(vma: Vma): boolean {
    return this.areas.includes(vma);
  }

  /** get_unmapped_area(): the lowest free range of `length` bytes from TASK_UNMAPPED_BASE. */
  getUnmappedArea(length: number): number | null {
    let candidate = taskUnmappedBase(this.pageSize);
    for (const vma of this.areas) {
      if (vma.end <= candidate) continue;
      if (candidate + length <= vma.start) break;
      candidate = vma.end;
    }
    return candidate + length <= USER_SPACE_END ? candidate : null;
  }

  insertVma(vma: Vma): void {
    const i = this.areas.findIndex((v) => v.start > vma.start);
    this.areas.splice(i < 0 ? this.areas.length : i, 0, vma);
  }

  /** zap_page_range(): clears the PTEs of [start, end). */
  zap(start: number, end: number): void {
    this.pageTable.clearRange(start, end);
  }

  /** do_munmap(): unmaps [start, end), trimming or splitting the VMAs it cuts. */
  unmap(start: number, end: number): void {
    const ps = this.pageSize;
    for (const vma of [...this.areas]) {
      if (vma.end <= start || vma.start >= end) continue;
      if (start <= vma.start && end >= vma.end) {
        this.areas.splice(this.areas.indexOf(vma), 1);
      } else if (start <= vma.start) {
        vma.pgoff += (end - vma.start) / ps;
        vma.setRange(end, vma.end);
      } else if (end >= vma.end) {
        vma.setRange(vma.start, start);
      } else {
        const upper = new Vma(this, end, vma.end, vma.pgoff + (end - vma.start) / ps, vma.pgprot, vma.flags);
        vma.setRange(vma.start, start);
        this.insertVma(upper);
      }
    }
    this.zap(start, end);
  }
}

/** A user process. */
export class Process {
  readonly pid: number;
  readonly mm: MmStruct;
  private readonly runs: RunCopier;

  constructor(hw: PhysicalCpuAccess, pid: number, mm: MmStruct) {
    this.runs = new RunCopier(hw, mm.pageSize);
    this.pid = pid;
    this.mm = mm;
  }

  /**
   * mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, pgoff * PAGE_SIZE) on a driver whose
   * mmap file operation is `handler`: returns the user address, or throws MmapError (then
   * nothing the handler mapped stays mapped).
   */
  mmap(length: number, handler: MmapHandler, options: MmapOptions = {}): number {
    checkSize(length, 'length');
    if (typeof handler !== 'function') throw new TypeError(`handler must be a function (vma) => 0 | -errno, got ${typeof handler}`);
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const pgoff = options.pgoff ?? 0;
    checkInteger(pgoff, 'options.pgoff');
    const pgprot = checkPgprot(options.pgprot ?? PAGE_SHARED, 'options.pgprot');
    const mm = this.mm;
    const len = alignUp(length, mm.pageSize);
    const start = mm.getUnmappedArea(len);
    if (start === null) throw new MmapError(ENOMEM, `mmap: no room for ${len} bytes of user address space`);
    const writable = (pgprot.flags & PROT_WRITE) !== 0;
    const flags = VM_READ | VM_MAYREAD | VM_SHARED | VM_MAYSHARE | VM_MAYWRITE | (writable ? VM_WRITE : 0);
    const vma = new Vma(mm, start, start + len, pgoff, pgprot, flags);
    mm.insertVma(vma);
    let ret: unknown;
    try {
      ret = handler(vma);
    } catch (error) {
      mm.unmap(start, start + len);
      throw error;
    }
    if (typeof ret !== 'number' || !Number.isInteger(ret) || ret > 0) {
      mm.unmap(start, start + len);
      throw new TypeError(`the mmap handler must return 0 or a negative errno, got ${String(ret)}`);
    }
    if (ret < 0) {
      mm.unmap(start, start + len);
      throw new MmapError(-ret, `mmap: the driver's mmap handler failed with -${-ret}`);
    }
    return start;
  }

  /** munmap(): unmaps [uva, uva + length) (length rounded up to pages). */
  munmap(uva: number, length: number): void {
    checkAddress(uva, 'uva');
    checkSize(length, 'length');
    const ps = this.mm.pageSize;
    if (uva % ps !== 0) throw new RangeError(`uva must be page-aligned, got ${hex(uva)} (munmap: -EINVAL ${EINVAL})`);
    const end = uva + alignUp(length, ps);
    if (end > USER_SPACE_END) throw new RangeError(`uva + length must be below TASK_SIZE ${hex(USER_SPACE_END)}`);
    this.mm.unmap(uva, end);
  }

  /** Unmaps everything (exit_mmap). */
  exit(): void {
    this.mm.unmap(0, USER_SPACE_END);
  }

  /** The VMAs, lowest first. */
  vmas(): readonly Vma[] {
    return this.mm.vmas();
  }

  /** The memory type of the page at `uva`; CpuFault if the page is not populated. */
  pgprotAt(uva: number): MemoryType {
    checkAddress(uva, 'uva');
    const pte = this.mm.pageTable.get(uva);
    if (pte < 0) throw new CpuFault(uva, false, 'unmapped', true);
    return pteMemoryType(pte);
  }

  /** A user load of `length` bytes. */
  read(uva: number, length: number): Uint8Array {
    checkAddress(uva, 'uva');
    checkSize(length, 'length', 0);
    const target = new Uint8Array(length);
    this.access(uva, target, false);
    return target;
  }

  /** A user load into `target`. */
  readInto(uva: number, target: Uint8Array): void {
    checkAddress(uva, 'uva');
    if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    this.access(uva, target, false);
  }

  /** A user store of `bytes`. */
  write(uva: number, bytes: Uint8Array): void {
    checkAddress(uva, 'uva');
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    this.access(uva, bytes, true);
  }

  private access(uva: number, buffer: Uint8Array, write: boolean): void {
    const table = this.mm.pageTable;
    const length = buffer.length;
    if (length === 0) return;
    const pte = table.onePagePte(uva, length, write);
    if (pte >= 0) {
      this.runs.copyInPage(pte, uva, buffer, 0, length, write);
      return;
    }
    table.checkAccess(uva, length, write, true, unmappedReason);
    this.runs.copy(table, uva, buffer, 0, length, write);
  }

}

function unmappedReason(): 'unmapped' {
  return 'unmapped';
}
