/**
 * The scatterlist core of lib/scatterlist.c and include/linux/scatterlist.h: entries, tables and
 * the walks over them.
 *
 * A kernel `struct scatterlist *` is an array here and a chain of arrays is one array (chaining only
 * worked around the kernel's page-sized allocations; callers never saw it). The array's length plays
 * the end mark (`sg_mark_end`): `sgNents(sgl)` is `sgl.length`.
 */

import { checkInteger } from '@kdma/hw';
import { EINVAL } from '@kdma/mm';

/** UINT_MAX: `length`, `offset` and `dma_length` are `unsigned int` in the kernel. */
export const SG_UINT_MAX = 2 ** 32 - 1;

/**
 * `struct scatterlist`: one CPU segment (a page frame, an offset into it and a length; the bytes
 * continue into the following frames) and, once mapped, one DMA segment.
 */
export interface Scatterlist {
  /** `sg_page(sg)` as a page frame number (pfn 0 is a valid page). */
  pfn: number;
  /** Byte offset of the data from the start of the frame. */
  offset: number;
  /** Bytes of data. */
  length: number;
  /** `sg_dma_address(sg)`: written by `dma_map_sg`; meaningful for the first `nents` mapped entries. */
  dmaAddress: number;
  /** `sg_dma_len(sg)`: written by `dma_map_sg`. */
  dmaLength: number;
}

/**
 * `struct sg_table`: `origNents` CPU entries in `sgl`; `nents` is the count `dma_map_sg` returned
 * (the DMA segments after merging), equal to `origNents` until the table is mapped.
 */
export interface SgTable {
  sgl: Scatterlist[];
  nents: number;
  origNents: number;
}

/** A zeroed entry, as the kernel's memset leaves it. */
export function sgEntry(): Scatterlist {
  return { pfn: 0, offset: 0, length: 0, dmaAddress: 0, dmaLength: 0 };
}

function checkNents(sgl: readonly Scatterlist[], nents: number, name = 'nents'): void {
  checkInteger(nents, name, 0, sgl.length);
}

/**
 * `sg_alloc_table(table, nents, gfp)`: a table of `nents` zeroed entries. The kernel returns
 * -EINVAL for 0 entries; here 0 (and anything but an integer in [1, UINT_MAX]) is a RangeError.
 */
export function sgAllocTable(nents: number): SgTable {
  checkInteger(nents, 'nents', 1, SG_UINT_MAX);
  const sgl: Scatterlist[] = [];
  for (let i = 0; i < nents; i++) sgl.push(sgEntry());
  return { sgl, nents, origNents: nents };
}

/** `sg_free_table(table)`: drops the entries and leaves an empty table, as the kernel's leaves `sgl` NULL. */
export function sgFreeTable(sgt: SgTable): void {
  sgt.sgl = [];
  sgt.nents = 0;
  sgt.origNents = 0;
}

/**
 * `sg_init_table(sgl, nents)`: zeroes the first `nents` entries (creating missing ones) and marks the
 * end after them, which here means the array is cut to `nents` entries.
 */
export function sgInitTable(sgl: Scatterlist[], nents: number): void {
  checkInteger(nents, 'nents', 1, SG_UINT_MAX);
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i];
    if (sg === undefined) {
      sgl[i] = sgEntry();
    } else {
      sg.pfn = 0;
      sg.offset = 0;
      sg.length = 0;
      sg.dmaAddress = 0;
      sg.dmaLength = 0;
    }
  }
  sgl.length = nents;
}

/** `sg_set_page(sg, page, len, offset)`: points the entry at `length` bytes from `offset` into frame `pfn`. */
export function sgSetPage(sg: Scatterlist, pfn: number, length: number, offset: number): void {
  checkInteger(pfn, 'pfn');
  checkInteger(length, 'length', 0, SG_UINT_MAX);
  checkInteger(offset, 'offset', 0, SG_UINT_MAX);
  sg.pfn = pfn;
  sg.length = length;
  sg.offset = offset;
}

/** `sg_phys(sg)`: the physical address of the entry's data; the page size is the machine's. */
export function sgPhys(sg: Scatterlist, pageSize: number): number {
  return sg.pfn * pageSize + sg.offset;
}

/** `sg_dma_address(sg)`. */
export function sgDmaAddress(sg: Scatterlist): number {
  return sg.dmaAddress;
}

/** `sg_dma_len(sg)`. */
export function sgDmaLen(sg: Scatterlist): number {
  return sg.dmaLength;
}

/** `for_each_sg(sgl, sg, nents, i)`: calls `fn` on the first `nents` entries in order. */
export function forEachSg(sgl: readonly Scatterlist[], nents: number, fn: (sg: Scatterlist, index: number) => void): void {
  checkNents(sgl, nents);
  for (let i = 0; i < nents; i++) fn(sgl[i] as Scatterlist, i);
}

/** `for_each_sg` as a generator, for `for…of`; checks `nents` at the call, not at the first step. */
export function sgEntries(sgl: readonly Scatterlist[], nents: number): Generator<Scatterlist, void, undefined> {
  checkNents(sgl, nents);
  return entries(sgl, nents);
}

function* entries(sgl: readonly Scatterlist[], nents: number): Generator<Scatterlist, void, undefined> {
  for (let i = 0; i < nents; i++) yield sgl[i] as Scatterlist;
}

/** `for_each_sgtable_sg(sgt, sg, i)`: every CPU entry (`origNents`). */
export function forEachSgtableSg(sgt: SgTable, fn: (sg: Scatterlist, index: number) => void): void {
  forEachSg(sgt.sgl, sgt.origNents, fn);
}

/** `for_each_sgtable_dma_sg(sgt, sg, i)`: every mapped DMA segment (`nents`, what `dma_map_sgtable` set). */
export function forEachSgtableDmaSg(sgt: SgTable, fn: (sg: Scatterlist, index: number) => void): void {
  forEachSg(sgt.sgl, sgt.nents, fn);
}

/** `sg_nents(sgl)`: entries up to the end mark, which is the array's end. */
export function sgNents(sgl: readonly Scatterlist[]): number {
  return sgl.length;
}

/**
 * `sg_nents_for_len(sg, len)`: how many of the first `nents` entries it takes to hold `len` bytes;
 * 0 for `len` 0, `-EINVAL` when they do not hold that much.
 */
export function sgNentsForLen(sgl: readonly Scatterlist[], nents: number, len: number): number {
  checkNents(sgl, nents);
  checkInteger(len, 'len');
  if (len === 0) return 0;
  let total = 0;
  for (let i = 0; i < nents; i++) {
    total += (sgl[i] as Scatterlist).length;
    if (total >= len) return i + 1;
  }
  return -EINVAL;
}

/** `sg_last(sgl, nents)`: the last of the first `nents` entries, or null when there are none. */
export function sgLast(sgl: readonly Scatterlist[], nents: number): Scatterlist | null {
  checkNents(sgl, nents);
  return nents === 0 ? null : (sgl[nents - 1] as Scatterlist);
}

/** The bytes the first `nents` DMA segments cover (the sum of `sg_dma_len`), e.g. after `dma_map_sg`. */
export function sgDmaLenTotal(sgl: readonly Scatterlist[], nents: number): number {
  checkNents(sgl, nents);
  let total = 0;
  for (let i = 0; i < nents; i++) total += (sgl[i] as Scatterlist).dmaLength;
  return total;
}
