/**
 * Virtual memory areas (`struct vm_area_struct`): a user address range with the page offset and
 * page protection the driver's mmap handler may rewrite (`vma->vm_pgoff`, `vma->vm_page_prot`)
 * and the VM_* flags that remap_pfn_range and vm_insert_page set.
 */
import type { Pgprot } from './pgprot.js';
import type { MmStruct } from './process.js';

/** VM_* flags with the kernel's values (include/linux/mm.h, v3.7 on). */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
/** Page frames without struct page semantics: remap_pfn_range's mappings. */
export const VM_PFNMAP = 0x400;
/** Memory-mapped I/O or similar: not core-dumped, not followed by get_user_pages. */
export const VM_IO = 0x4000;
/** mremap() may not grow it. */
export const VM_DONTEXPAND = 0x40000;
/** Left out of core dumps (with VM_DONTEXPAND, the old VM_RESERVED). */
export const VM_DONTDUMP = 0x4000000;
/** Mixed struct-page and pfn mappings: vm_insert_page's mark. */
export const VM_MIXEDMAP = 0x10000000;

/** A VMA. `start` and `end` belong to the address space; the handler may set pgoff and pgprot. */
export class Vma {
  #start: number;
  #end: number;
  /** vm_pgoff: the offset, in pages, that mmap asked for. */
  pgoff: number;
  /** vm_page_prot: the protection new PTEs of this VMA get. */
  pgprot: Pgprot;
  /** vm_flags. */
  flags: number;
  /** vm_mm: the owning address space. */
  readonly mm: MmStruct;

  constructor(mm: MmStruct, start: number, end: number, pgoff: number, pgprot: Pgprot, flags: number) {
    this.mm = mm;
    this.#start = start;
    this.#end = end;
    this.pgoff = pgoff;
    this.pgprot = pgprot;
    this.flags = flags;
  }

  /** vm_start. */
  get start(): number {
    return this.#start;
  }

  /** vm_end (exclusive). */
  get end(): number {
    return this.#end;
  }

  /** vma_pages(). */
  get pages(): number {
    return (this.#end - this.#start) / this.mm.pageSize;
  }

  /** Moves the VMA's bounds (munmap trimming); only the address space calls this. */
  setRange(start: number, end: number): void {
    this.#start = start;
    this.#end = end;
  }
}

/** is_cow_mapping(): private and possibly writable. */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}
