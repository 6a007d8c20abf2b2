/**
 * `sg_alloc_append_table_from_pages` and its wrappers (lib/scatterlist.c, v5.15+): build a table
 * from an array of page frames, one entry per run of consecutive frames, each at most `max_segment`
 * bytes, optionally continuing a table built by an earlier call.
 */

import { alignDown, checkInteger, isPowerOfTwo } from '@kdma/hw';
import { EINVAL } from '@kdma/mm';
import { SG_UINT_MAX, sgEntry, sgPhys } from './scatterlist.js';
import type { Scatterlist, SgTable } from './scatterlist.js';

/** The page size when the caller gives none. Callers on machines with other page sizes pass `machine.pageSize`. */
export const SG_DEFAULT_PAGE_SIZE = 4096;

/** What `sg_alloc_table_from_pages` passes as `max_segment`: UINT_MAX (aligned down to the page size inside). */
export const SG_DEFAULT_MAX_SEGMENT = SG_UINT_MAX;

/**
 * `struct sg_append_table`: a table being built by successive appends, and `prv`, its last populated
 * entry, which the next append may grow. The kernel's `total_nents` (allocated slots, chain entries
 * included) is `sgt.sgl.length` here and always equals `sgt.nents`.
 */
export interface SgAppendTable {
  sgt: SgTable;
  prv: Scatterlist | null;
}

/** An empty append table: what `struct sg_append_table append = {}` declares. */
export function createSgAppendTable(): SgAppendTable {
  return { sgt: { sgl: [], nents: 0, origNents: 0 }, prv: null };
}

/** `sg_free_append_table(table)`. */
export function sgFreeAppendTable(append: SgAppendTable): void {
  append.sgt.sgl = [];
  append.sgt.nents = 0;
  append.sgt.origNents = 0;
  append.prv = null;
}

/**
 * Argument checks the kernel leaves to its callers. Beyond the kernel, `offset` must lie in the
 * first page and `size` must end in the last page: the kernel would compute lengths from an
 * unsigned wrap-around otherwise.
 */
function checkFromPagesArgs(pages: readonly number[], offset: number, size: number, maxSegment: number, pageSize: number): void {
  if (!Array.isArray(pages)) throw new TypeError('pages must be an array of page frame numbers');
  const n = pages.length;
  if (n === 0) throw new RangeError('pages must hold at least one page frame number');
  for (let i = 0; i < n; i++) {
    const pfn = pages[i];
    if (!(typeof pfn === 'number' && Number.isSafeInteger(pfn) && pfn >= 0)) checkInteger(pfn, `pages[${i}]`);
  }
  checkInteger(pageSize, 'pageSize', 1);
  if (!isPowerOfTwo(pageSize)) throw new RangeError(`pageSize must be a power of two, got ${pageSize}`);
  checkInteger(offset, 'offset', 0, pageSize - 1);
  checkInteger(size, 'size', Math.max(1, (n - 1) * pageSize - offset + 1), n * pageSize - offset);
  checkInteger(maxSegment, 'maxSegment', 0, SG_UINT_MAX);
}

/**
 * `sg_alloc_append_table_from_pages(sgt_append, pages, n_pages, offset, size, max_segment,
 * left_pages, gfp)` → 0 or −errno, following the kernel exactly:
 * - `max_segment` is aligned down to the page size; below one page → -EINVAL.
 * - With a previous entry (`append.prv`), `offset` must be 0 (else -EINVAL). If `pages[0]` is the
 *   frame after prv's end, prv grows by whole pages while the frames stay consecutive and prv stays
 *   within `max_segment`. Those pages do not count against `size` (as in the kernel, where only
 *   ib_umem-style callers append, with whole pages).
 * - The remaining pages form chunks of consecutive frames of at most `max_segment / pageSize` pages;
 *   the first chunk starts at `offset`, each entry's length is `min(size left, chunk bytes)`.
 * - `nents += added`, `origNents = nents`, `prv` = the last entry.
 * `leftPages` (pages still to come) only sized the kernel's allocations and end mark; it is checked
 * and has no other effect here. A call that returns an error changes nothing.
 */
export function sgAllocAppendTableFromPages(
  append: SgAppendTable,
  pages: readonly number[],
  offset: number,
  size: number,
  maxSegment: number,
  leftPages: number,
  pageSize: number = SG_DEFAULT_PAGE_SIZE,
): number {
  if (typeof append !== 'object' || append === null || typeof append.sgt !== 'object' || append.sgt === null) {
    throw new TypeError('append must be an SgAppendTable ({ sgt, prv })');
  }
  checkFromPagesArgs(pages, offset, size, maxSegment, pageSize);
  checkInteger(leftPages, 'leftPages', 0, SG_UINT_MAX);

  // The chunk walk below needs a page-aligned max_segment, or it could overshoot it.
  const maxSeg = alignDown(maxSegment, pageSize);
  if (maxSeg < pageSize) return -EINVAL;

  const n = pages.length;
  let start = 0;
  const prv = append.prv;
  if (prv !== null) {
    if (offset !== 0) return -EINVAL;
    // Integer division, as the kernel's: a prv that ends inside a page names that page.
    const nextPfn = Math.floor((sgPhys(prv, pageSize) + prv.length) / pageSize);
    if (pages[0] === nextPfn) {
      let last = nextPfn - 1;
      while (start < n && pages[start] === last + 1) {
        if (prv.length + pageSize > maxSeg) break;
        prv.length += pageSize;
        last = pages[start] as number;
        start++;
      }
      if (start === n) return 0;
    }
  }

  const sgt = append.sgt;
  const sgl = sgt.sgl;
  let index = sgt.nents;
  let cur = start;
  let last: Scatterlist | null = prv;
  while (cur < n) {
    // Look for the end of the current chunk: a break in the frames, or max_segment reached.
    let j = cur + 1;
    let segLen = 0;
    for (; j < n; j++) {
      segLen += pageSize;
      if (segLen >= maxSeg || pages[j] !== (pages[j - 1] as number) + 1) break;
    }
    const chunkSize = (j - cur) * pageSize - offset;
    const sg = sgEntry();
    sg.pfn = pages[cur] as number;
    sg.offset = offset;
    sg.length = Math.min(size, chunkSize);
    sgl[index++] = sg;
    last = sg;
    size -= chunkSize;
    offset = 0;
    cur = j;
  }
  sgl.length = index;
  sgt.nents = index;
  sgt.origNents = index;
  append.prv = last;
  return 0;
}

/**
 * `sg_alloc_table_from_pages_segment(sgt, pages, n_pages, offset, size, max_segment, gfp)`: one
 * append to an empty table. Returns the table, or −errno (-EINVAL when `maxSegment` is below a page).
 */
export function sgAllocTableFromPagesSegment(
  pages: readonly number[],
  offset: number,
  size: number,
  maxSegment: number,
  pageSize: number = SG_DEFAULT_PAGE_SIZE,
): SgTable | number {
  const append = createSgAppendTable();
  const err = sgAllocAppendTableFromPages(append, pages, offset, size, maxSegment, 0, pageSize);
  return err !== 0 ? err : append.sgt;
}

/**
 * `sg_alloc_table_from_pages(sgt, pages, n_pages, offset, size, gfp)`: consecutive frames merge into
 * one entry of at most UINT_MAX rounded down to a page, unless `maxSegment` says less.
 */
export function sgAllocTableFromPages(
  pages: readonly number[],
  offset: number,
  size: number,
  maxSegment: number = SG_DEFAULT_MAX_SEGMENT,
  pageSize: number = SG_DEFAULT_PAGE_SIZE,
): SgTable | number {
  return sgAllocTableFromPagesSegment(pages, offset, size, maxSegment, pageSize);
}
