/**
 * Filling a user VMA from a driver's mmap handler (mm/memory.c): remap_pfn_range() for raw page
 * frames, vm_insert_page() and vm_map_pages() for allocated pages. All return 0 or a negative errno
 * as the kernel does, and change nothing when they fail.
 */
import { addrMod, alignUp, checkAddress, checkInteger, checkSize, hex } from '@kdma/hw';
import { EACCES, EBUSY, EFAULT, EINVAL, ENXIO } from './errno.js';
import { checkPgprot } from './pgprot.js';
import type { Pgprot } from './pgprot.js';
import { makePte } from './pgtable.js';
import { isCowMapping, Vma, VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_MIXEDMAP, VM_PFNMAP } from './vma.js';

function checkVma(vma: unknown): asserts vma is Vma {
  if (!(vma instanceof Vma)) throw new TypeError(`vma must be a Vma (the one mmap handed to the handler), got ${vma === null ? 'null' : typeof vma}`);
}

function maxPfn(pageSize: number): number {
  return Math.floor(2 ** 52 / pageSize) - 1;
}

/**
 * remap_pfn_range(): maps `size` bytes (rounded up to pages) of page frames from `pfn` at `uva`
 * inside `vma` with `pgprot`, and marks the VMA VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP.
 * -EINVAL for an unaligned address, an empty or out-of-VMA range, or a partial private writable
 * (COW) VMA; -EACCES over an existing PTE (today's kernel; 2011's BUG_ON).
 */
export function remapPfnRange(vma: Vma, uva: number, pfn: number, size: number, pgprot: Pgprot): number {
  checkVma(vma);
  checkAddress(uva, 'uva');
  const mm = vma.mm;
  const ps = mm.pageSize;
  checkInteger(pfn, 'pfn', 0, maxPfn(ps));
  checkSize(size, 'size', 0);
  const prot = checkPgprot(pgprot, 'pgprot');
  if (addrMod(uva, ps) !== 0) return -EINVAL;
  const bytes = alignUp(size, ps);
  const end = uva + bytes;
  if (bytes === 0 || uva < vma.start || end > vma.end || !mm.owns(vma)) return -EINVAL;
  const cow = isCowMapping(vma.flags);
  if (cow && (uva !== vma.start || end !== vma.end)) return -EINVAL;
  for (let va = uva; va < end; va += ps) if (mm.pageTable.get(va) >= 0) return -EACCES;
  if (pfn + bytes / ps - 1 > maxPfn(ps)) return -EINVAL;
  for (let i = 0; i < bytes / ps; i++) mm.pageTable.set(uva + i * ps, makePte(pfn + i, prot));
  // A COW mapping records its first pfn in vm_pgoff so that the pages are known to be raw.
  if (cow) vma.pgoff = pfn;
  vma.flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  return 0;
}

/**
 * vm_insert_page(): maps the allocated page `pfn` at `uva` with the VMA's vm_page_prot and marks
 * the VMA VM_MIXEDMAP. -EFAULT outside the VMA, -EINVAL for an unaligned address or a page that
 * is not in use (page_count() == 0, or no RAM there), -EBUSY over an existing PTE.
 */
export function vmInsertPage(vma: Vma, uva: number, pfn: number): number {
  checkVma(vma);
  checkAddress(uva, 'uva');
  const mm = vma.mm;
  const ps = mm.pageSize;
  checkInteger(pfn, 'pfn', 0, maxPfn(ps));
  const prot = checkPgprot(vma.pgprot, 'vma.pgprot');
  if (uva < vma.start || uva >= vma.end || !mm.owns(vma)) return -EFAULT;
  if (addrMod(uva, ps) !== 0 || !mm.isPageInUse(pfn)) return -EINVAL;
  if ((vma.flags & VM_PFNMAP) !== 0) throw new Error(`BUG: vmInsertPage(${hex(uva)}) into a VM_PFNMAP vma (use remapPfnRange)`);
  if (mm.pageTable.get(uva) >= 0) return -EBUSY;
  mm.pageTable.set(uva, makePte(pfn, prot));
  vma.flags |= VM_MIXEDMAP;
  return 0;
}

/**
 * vm_map_pages(): inserts `pfns[vma.pgoff …]` from the VMA's start, one page each; -ENXIO when the
 * VMA asks for more pages than there are past its offset.
 */
export function vmMapPages(vma: Vma, pfns: readonly number[]): number {
  checkVma(vma);
  if (!Array.isArray(pfns)) throw new TypeError(`pfns must be an array of page frame numbers, got ${typeof pfns}`);
  const mm = vma.mm;
  const ps = mm.pageSize;
  pfns.forEach((pfn, i) => checkInteger(pfn, `pfns[${i}]`, 0, maxPfn(ps)));
  const offset = vma.pgoff;
  const count = vma.pages;
  if (offset > pfns.length || count > pfns.length - offset) return -ENXIO;
  const prot = checkPgprot(vma.pgprot, 'vma.pgprot');
  if (!mm.owns(vma)) return -EFAULT;
  if ((vma.flags & VM_PFNMAP) !== 0) throw new Error('BUG: vmMapPages into a VM_PFNMAP vma (use remapPfnRange)');
  for (let i = 0; i < count; i++) {
    if (!mm.isPageInUse(pfns[offset + i] as number)) return -EINVAL;
    if (mm.pageTable.get(vma.start + i * ps) >= 0) return -EBUSY;
  }
  for (let i = 0; i < count; i++) mm.pageTable.set(vma.start + i * ps, makePte(pfns[offset + i] as number, prot));
  vma.flags |= VM_MIXEDMAP;
  return 0;
}
