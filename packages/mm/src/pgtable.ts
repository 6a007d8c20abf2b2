/**
 * Page tables: a sparse map from virtual page to a packed PTE number (pfn, memory type, PROT_*
 * flags) — no object per PTE. Kernel tables cover the vmalloc and consistent areas (the linear map
 * is implicit: every RAM page, normal memory); each process has a user table. Walks check a whole
 * range before anything moves, so a faulting access does nothing.
 */
import type { MemoryType } from '@kdma/hw';
import { CpuFault } from './cpu-fault.js';
import type { CpuFaultReason } from './cpu-fault.js';
import type { MemMap } from './memmap.js';
import { MEMORY_TYPES, memoryTypeCode, PROT_WRITE } from './pgprot.js';
import type { Pgprot } from './pgprot.js';
import { LINEAR_MAP_END, NO_KERNEL_MAPPING_BASE, PAGE_OFFSET } from './layout.js';
import { addrMod } from '@kdma/hw';

const FLAG_SPAN = 16;
const TYPE_SPAN = 4;

/** mk_pte(): packs pfn, memory type and flags into one number (pfn * 64 + type * 16 + flags). */
export function makePte(pfn: number, prot: Pgprot): number {
  return pfn * FLAG_SPAN * TYPE_SPAN + memoryTypeCode(prot.memoryType) * FLAG_SPAN + prot.flags;
}

/** pte_pfn(). */
export function ptePfn(pte: number): number {
  return Math.floor(pte / (FLAG_SPAN * TYPE_SPAN));
}

/** The physical address behind `va` in the page a PTE maps (`pte_pfn` plus the offset in the page). */
export function ptePhys(pte: number, va: number, pageSize: number): number {
  return ptePfn(pte) * pageSize + addrMod(va, pageSize);
}

/** The memory type a PTE gives its page. */
export function pteMemoryType(pte: number): MemoryType {
  return MEMORY_TYPES[addrMod(Math.floor(pte / FLAG_SPAN), TYPE_SPAN)] as MemoryType;
}

/** The PROT_* flags of a PTE. */
export function pteFlags(pte: number): number {
  return addrMod(pte, FLAG_SPAN);
}

/** Called once per physically contiguous run of pages with one memory type. */
export type RunVisitor = (paddr: number, type: MemoryType, offset: number, length: number) => void;

/** PTEs per leaf table, as on x86-64 and arm64 with 4 KiB pages. */
const PTRS_PER_PTE = 512;

/**
 * A sparse page table over [base, end): leaf tables of 512 PTEs (a Float64Array each, -1 for
 * none) under a directory. A walk of consecutive pages stays in one leaf, and the last leaf used
 * is remembered, so reading a mapped frame costs an array load per page rather than a hash lookup.
 */
export class PageTable {
  readonly base: number;
  readonly end: number;
  readonly pageSize: number;
  private readonly leaves = new Map<number, Float64Array>();
  private present = 0;
  private lastLeafIndex = -1;
  private lastLeaf: Float64Array | null = null;

  constructor(base: number, end: number, pageSize: number) {
    this.base = base;
    this.end = end;
    this.pageSize = pageSize;
  }

  /** Number of present PTEs. */
  get size(): number {
    return this.present;
  }

  private index(va: number): number {
    return Math.floor((va - this.base) / this.pageSize);
  }

  /** The leaf table holding page index `i`, or null (made when `create`). */
  private leaf(i: number, create: boolean): Float64Array | null {
    const li = Math.floor(i / PTRS_PER_PTE);
    if (li === this.lastLeafIndex) return this.lastLeaf;
    let leaf = this.leaves.get(li) ?? null;
    if (leaf === null) {
      if (!create) return null;
      leaf = new Float64Array(PTRS_PER_PTE).fill(-1);
      this.leaves.set(li, leaf);
    }
    this.lastLeafIndex = li;
    this.lastLeaf = leaf;
    return leaf;
  }

  /** The PTE of the page holding `va`, or -1 when there is none. */
  get(va: number): number {
    if (va < this.base || va >= this.end) return -1;
    const i = this.index(va);
    const leaf = this.leaf(i, false);
    return leaf === null ? -1 : (leaf[addrMod(i, PTRS_PER_PTE)] as number);
  }

  /** set_pte_at(). */
  set(va: number, pte: number): void {
    const i = this.index(va);
    const leaf = this.leaf(i, true) as Float64Array;
    const slot = addrMod(i, PTRS_PER_PTE);
    if (leaf[slot] === -1) this.present++;
    leaf[slot] = pte;
  }

  /** pte_clear(). */
  clear(va: number): void {
    this.clearIndex(this.index(va));
  }

  private clearIndex(i: number): void {
    const leaf = this.leaf(i, false);
    if (leaf === null) return;
    const slot = addrMod(i, PTRS_PER_PTE);
    if (leaf[slot] !== -1) {
      leaf[slot] = -1;
      this.present--;
    }
  }

  /** Clears every PTE in [start, end), walking whichever is smaller: the range or the leaves. */
  clearRange(start: number, end: number): void {
    const from = this.index(Math.max(start, this.base));
    const to = Math.ceil((Math.min(end, this.end) - this.base) / this.pageSize);
    if (to <= from) return;
    if (to - from > this.leaves.size * PTRS_PER_PTE) {
      for (const [li, leaf] of this.leaves) {
        const lo = Math.max(from - li * PTRS_PER_PTE, 0);
        const hi = Math.min(to - li * PTRS_PER_PTE, PTRS_PER_PTE);
        for (let k = lo; k < hi; k++) {
          if (leaf[k] !== -1) {
            leaf[k] = -1;
            this.present--;
          }
        }
      }
    } else {
      for (let i = from; i < to; i++) this.clearIndex(i);
    }
  }

  /** Throws CpuFault at the first page of [va, va + length) without a PTE, or read-only for a store. */
  checkAccess(va: number, length: number, write: boolean, user: boolean, missReason: (va: number) => CpuFaultReason): void {
    const ps = this.pageSize;
    const end = va + length;
    for (let page = Math.floor(va / ps) * ps; page < end; page += ps) {
      const pte = this.get(page);
      const at = Math.max(page, va);
      if (pte < 0) throw new CpuFault(at, write, missReason(page), user);
      if (write && (pteFlags(pte) & PROT_WRITE) === 0) throw new CpuFault(at, write, 'read-only', user);
    }
  }

  /**
   * The PTE behind an access of [va, va + length) that stays inside one page and may proceed
   * (present; writable for a store), else -1: the caller then checks and walks the range in full,
   * which raises the fault. A descriptor or a register block in coherent memory, or a small user
   * read, is one leaf load this way, with no second walk and no visitor call.
   */
  onePagePte(va: number, length: number, write: boolean): number {
    const ps = this.pageSize;
    if (length <= 0 || Math.floor(va / ps) !== Math.floor((va + length - 1) / ps)) return -1;
    const pte = this.get(va);
    if (pte < 0 || (write && (pteFlags(pte) & PROT_WRITE) === 0)) return -1;
    return pte;
  }

  /** Visits [va, va + length) as runs of physically contiguous pages of one memory type. */
  forEachRun(va: number, length: number, visit: RunVisitor): void {
    const ps = this.pageSize;
    const end = va + length;
    let runPaddr = -1;
    let runType = 0;
    let runOffset = 0;
    let runLength = 0;
    let page = Math.floor(va / ps) * ps;
    while (page < end) {
      const pte = this.get(page);
      const from = Math.max(page, va);
      const to = Math.min(page + ps, end);
      const paddr = ptePfn(pte) * ps + (from - page);
      const type = addrMod(Math.floor(pte / FLAG_SPAN), TYPE_SPAN);
      if (runLength > 0 && paddr === runPaddr + runLength && type === runType) {
        runLength += to - from;
      } else {
        if (runLength > 0) visit(runPaddr, MEMORY_TYPES[runType] as MemoryType, runOffset, runLength);
        runPaddr = paddr;
        runType = type;
        runOffset = from - va;
        runLength = to - from;
      }
      page += ps;
    }
    if (runLength > 0) visit(runPaddr, MEMORY_TYPES[runType] as MemoryType, runOffset, runLength);
  }

  /** Every present page as [va, pte], in address order (reports and tests; allocates). */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (const li of [...this.leaves.keys()].sort((a, b) => a - b)) {
      const leaf = this.leaves.get(li) as Float64Array;
      for (let k = 0; k < PTRS_PER_PTE; k++) {
        const pte = leaf[k] as number;
        if (pte !== -1) out.push([this.base + (li * PTRS_PER_PTE + k) * this.pageSize, pte]);
      }
    }
    return out;
  }
}

/** A kernel area with its own PTEs (vmalloc, consistent). */
export interface MappedSpace {
  readonly start: number;
  readonly end: number;
  readonly table: PageTable;
  /** Why an address of this space without a PTE faults ('guard-page' or 'unmapped'). */
  missReason(va: number): CpuFaultReason;
}

/**
 * The kernel's page tables as the CPU walks them: the linear map (RAM only, kernel text and rodata
 * read-only as with CONFIG_DEBUG_RODATA) plus the PTEs of the vmalloc and consistent spaces.
 */
export class KernelPageTable {
  private readonly memmap: MemMap;
  readonly pageSize: number;
  private readonly roStart: number;
  private readonly roEnd: number;
  private readonly spaces: readonly MappedSpace[];

  constructor(memmap: MemMap, readOnlyLinear: readonly [number, number], spaces: readonly MappedSpace[]) {
    this.memmap = memmap;
    this.pageSize = memmap.pageSize;
    this.roStart = readOnlyLinear[0];
    this.roEnd = readOnlyLinear[1];
    this.spaces = spaces;
  }

  /** Is [kva, kva + length) inside the linear map (not necessarily RAM)? */
  static isLinear(kva: number, length: number): boolean {
    return kva >= PAGE_OFFSET && kva + length <= LINEAR_MAP_END;
  }

  /** The space holding `kva`, if any. */
  spaceOf(kva: number): MappedSpace | undefined {
    for (const space of this.spaces) if (kva >= space.start && kva < space.end) return space;
    return undefined;
  }

  /** Throws CpuFault unless every byte of [kva, kva + length) may be accessed this way. */
  checkAccess(kva: number, length: number, write: boolean): void {
    if (length === 0) return;
    if (KernelPageTable.isLinear(kva, length)) {
      this.checkLinear(kva, length, write);
      return;
    }
    const space = this.spaceOf(kva);
    if (space === undefined) throw new CpuFault(kva, write, kva >= NO_KERNEL_MAPPING_BASE ? 'no-kernel-mapping' : 'unmapped');
    space.table.checkAccess(kva, length, write, false, (va) => (va >= space.end ? 'unmapped' : space.missReason(va)));
  }

  /**
   * For a range inside the linear map: checks it as `checkAccess` does and returns its physical
   * address (one run of normal memory); -1 for any other range, which the caller walks instead.
   * The hot CPU path takes this without a visitor closure.
   */
  linearPhys(kva: number, length: number, write: boolean): number {
    if (!KernelPageTable.isLinear(kva, length)) return -1;
    this.checkLinear(kva, length, write);
    return kva - PAGE_OFFSET;
  }

  /** `PageTable.onePagePte` in the vmalloc or consistent space holding `kva`; -1 outside them. */
  onePagePte(kva: number, length: number, write: boolean): number {
    const space = this.spaceOf(kva);
    return space === undefined ? -1 : space.table.onePagePte(kva, length, write);
  }

  private checkLinear(kva: number, length: number, write: boolean): void {
    const ps = this.pageSize;
    const startPfn = Math.floor((kva - PAGE_OFFSET) / ps);
    const endPfn = Math.ceil((kva + length - PAGE_OFFSET) / ps);
    if (!this.memmap.isRamRange(startPfn, endPfn)) {
      let pfn = startPfn;
      while (pfn < endPfn && this.memmap.pfnValid(pfn)) pfn++;
      throw new CpuFault(Math.max(kva, PAGE_OFFSET + pfn * ps), write, 'not-ram');
    }
    if (write && kva < this.roEnd && kva + length > this.roStart) throw new CpuFault(Math.max(kva, this.roStart), write, 'read-only');
  }

  /** Visits [kva, kva + length) (already checked) as physically contiguous runs of one type. */
  forEachRun(kva: number, length: number, visit: RunVisitor): void {
    if (length === 0) return;
    if (KernelPageTable.isLinear(kva, length)) {
      visit(kva - PAGE_OFFSET, 'normal', 0, length);
      return;
    }
    (this.spaceOf(kva) as MappedSpace).table.forEachRun(kva, length, visit);
  }

  /** The physical address behind `kva`, or a CpuFault (for a load). */
  kvaToPhys(kva: number): number {
    this.checkAccess(kva, 1, false);
    if (KernelPageTable.isLinear(kva, 1)) return kva - PAGE_OFFSET;
    const space = this.spaceOf(kva) as MappedSpace;
    const pte = space.table.get(kva);
    return ptePhys(pte, kva, this.pageSize);
  }

  /** The memory type the CPU uses at `kva`, or a CpuFault. */
  memoryTypeAt(kva: number): MemoryType {
    this.checkAccess(kva, 1, false);
    if (KernelPageTable.isLinear(kva, 1)) return 'normal';
    return pteMemoryType((this.spaceOf(kva) as MappedSpace).table.get(kva));
  }
}
