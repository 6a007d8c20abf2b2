/**
 * `sg_copy_buffer` and its wrappers (lib/scatterlist.c): copy between a linear buffer and the pages
 * of a scatterlist through the CPU, at the pages' linear-map addresses, as the kernel's sg_miter
 * does through kmap. The bytes go through the CPU's caches like any kernel access, so a copy into a
 * buffer the device owns is a visible ownership mistake, as in the kernel.
 */

import { addrMod, checkInteger } from '@kdma/hw';
import { sgEntry } from './scatterlist.js';
import type { Scatterlist } from './scatterlist.js';

/** The CPU accesses the copies need; a `KernelCpu` of @kdma/mm (`machine.cpu`) has them. */
export interface SgCpu {
  readInto(kva: number, target: Uint8Array): void;
  write(kva: number, bytes: Uint8Array): void;
}

/** The memory-management facts the copies need; `Mm` of @kdma/mm (`machine.mm`) has them. */
export interface SgMm {
  /** `page_address(pfn)`: the frame's linear-map address; consecutive frames are consecutive there. */
  pageAddress(pfn: number): number;
  readonly pageSize: number;
}

/** What `sgSetBuf`/`sgInitOne` need to find the frame behind a linear-map address. */
export interface SgVirtMm {
  virtToPhys(kva: number): number;
  readonly pageSize: number;
}

function checkCopyArgs(sgl: readonly Scatterlist[], nents: number, buf: Uint8Array, skip: number): void {
  if (!Array.isArray(sgl)) throw new TypeError('sgl must be an array of scatterlist entries');
  checkInteger(nents, 'nents', 0, sgl.length);
  if (!(buf instanceof Uint8Array)) throw new TypeError('buf must be a Uint8Array');
  checkInteger(skip, 'skip');
}

/**
 * `sg_copy_buffer(sgl, nents, buf, buflen, skip, to_buffer)`: copies up to `buf.length` bytes,
 * starting `skip` bytes into the list; returns the bytes copied. One CPU access per entry: an
 * entry's frames are consecutive, and so are their linear-map addresses.
 */
function sgCopyBuffer(
  cpu: SgCpu,
  mm: SgMm,
  sgl: readonly Scatterlist[],
  nents: number,
  buf: Uint8Array,
  skip: number,
  toBuffer: boolean,
): number {
  checkCopyArgs(sgl, nents, buf, skip);
  const buflen = buf.length;
  let copied = 0;
  for (let i = 0; i < nents && copied < buflen; i++) {
    const sg = sgl[i] as Scatterlist;
    if (skip >= sg.length) {
      skip -= sg.length;
      continue;
    }
    const len = Math.min(sg.length - skip, buflen - copied);
    const kva = mm.pageAddress(sg.pfn) + sg.offset + skip;
    const part = buf.subarray(copied, copied + len);
    if (toBuffer) cpu.readInto(kva, part);
    else cpu.write(kva, part);
    copied += len;
    skip = 0;
  }
  return copied;
}

/** `sg_pcopy_from_buffer(sgl, nents, buf, buflen, skip)`: linear buffer → scatterlist pages; returns bytes copied. */
export function sgCopyFromBuffer(cpu: SgCpu, mm: SgMm, sgl: readonly Scatterlist[], nents: number, buf: Uint8Array, skip = 0): number {
  return sgCopyBuffer(cpu, mm, sgl, nents, buf, skip, false);
}

/** `sg_pcopy_to_buffer(sgl, nents, buf, buflen, skip)`: scatterlist pages → linear buffer; returns bytes copied. */
export function sgCopyToBuffer(cpu: SgCpu, mm: SgMm, sgl: readonly Scatterlist[], nents: number, buf: Uint8Array, skip = 0): number {
  return sgCopyBuffer(cpu, mm, sgl, nents, buf, skip, true);
}

/** `sg_pcopy_from_buffer`: the kernel's name for the copy with a skip. */
export const sgPcopyFromBuffer: (cpu: SgCpu, mm: SgMm, sgl: readonly Scatterlist[], nents: number, buf: Uint8Array, skip: number) => number =
  sgCopyFromBuffer;

/** `sg_pcopy_to_buffer`: the kernel's name for the copy with a skip. */
export const sgPcopyToBuffer: (cpu: SgCpu, mm: SgMm, sgl: readonly Scatterlist[], nents: number, buf: Uint8Array, skip: number) => number =
  sgCopyToBuffer;

/**
 * `sg_set_buf(sg, buf, buflen)`: points the entry at `buflen` bytes at the linear-map address `buf`
 * (kmalloc memory; not vmalloc, whose frames are not consecutive).
 */
export function sgSetBuf(sg: Scatterlist, mm: SgVirtMm, buf: number, buflen: number): void {
  checkInteger(buflen, 'buflen', 0, 2 ** 32 - 1);
  const phys = mm.virtToPhys(buf);
  const pageSize = mm.pageSize;
  sg.pfn = Math.floor(phys / pageSize);
  sg.offset = addrMod(phys, pageSize);
  sg.length = buflen;
}

/** `sg_init_one(sg, buf, buflen)`: zeroes the entry and points it at the buffer. */
export function sgInitOne(sg: Scatterlist, mm: SgVirtMm, buf: number, buflen: number): void {
  Object.assign(sg, sgEntry());
  sgSetBuf(sg, mm, buf, buflen);
}
