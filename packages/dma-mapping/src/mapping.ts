import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_WRITE_COMBINE,
  type DmaAttrsInput,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { checkInteger, getOrder } from '@kdma/hw';
import { GFP_DMA, GFP_DMA32, PAGE_KERNEL, PAGE_OFFSET, __GFP_HIGHMEM, __GFP_NOWARN, remapPfnRange, type Vma } from '@kdma/mm';
import type { Scatterlist, SgTable } from '@kdma/scatterlist';
import { attrsArg, checkCpuAddr, checkDmaAddr, checkDmaSize, checkSgl, dirArg, gfpArg } from './checks.js';
import { dmaAllocFromDevCoherent, dmaMmapFromDevCoherent, dmaReleaseFromDevCoherent } from './coherent.js';
import { checkDevice, type Device } from './device.js';
import { dmaDirectMapPage, dmaDirectSyncSingleForCpu, dmaDirectSyncSingleForDevice, dmaDirectUnmapPage } from './dma-direct.js';
import { DMA_MAPPING_ERROR, getDmaOps, type DmaAllocation } from './dma-map-ops.js';
import type { DmaDebug } from './debug/dma-debug-hooks.js';
import { EINVAL, EIO, ENOMEM, ENXIO, EREMOTEIO } from './errno.js';

/*
 * The consumer API (include/linux/dma-mapping.h, kernel/dma/mapping.c): argument checks, the
 * per-device coherent pool, dispatch through the device's ops (dma-direct when it has none), and
 * the dma-debug hooks exactly where the kernel calls them.
 */

const ZONE_GFP = GFP_DMA | GFP_DMA32 | __GFP_HIGHMEM;

/**
 * Runs the ops' part of a hand-back to the CPU (unmap, sync for CPU): a bounce copy into the
 * driver's buffer is the DMA API's own doing, not a CPU touching a device-owned buffer.
 */
function withoutOwnershipChecks(dev: Device, fn: () => void): void {
  const debug = dev.machine.dmaDebug;
  if (debug === null) {
    fn();
    return;
  }
  debug.enterSuppress();
  try {
    fn();
  } finally {
    debug.exitSuppress();
  }
}

/**
 * `dma_alloc_attrs`: the 2011 redesign's single allocation entry point. Returns the CPU address
 * (a cookie with `DMA_ATTR_NO_KERNEL_MAPPING`) and the bus address, or null.
 */
export function dmaAllocAttrs(dev: Device, size: number, attrs?: DmaAttrsInput, gfp?: number): DmaAllocation | null {
  checkDevice(dev);
  checkDmaSize(size);
  const flags = attrsArg(attrs);
  let gfpFlags = gfpArg(gfp);
  if (dev.coherentDmaMask === 0) dev.machine.warnOnce(dev, 'no-coherent-mask', 'dma_alloc_attrs: coherent_dma_mask is 0');

  const fromPool = dmaAllocFromDevCoherent(dev, size);
  if (fromPool !== undefined) return fromPool;

  // "let the implementation decide on the zone to allocate from"
  gfpFlags &= ~ZONE_GFP;
  const ops = getDmaOps(dev);
  if (ops.alloc === undefined) return null;
  const buffer = ops.alloc(dev, size, gfpFlags, flags);
  if (buffer !== null) dev.machine.dmaDebug?.allocCoherent(dev, size, buffer.dmaHandle, buffer.cpuAddr, flags);
  return buffer;
}

/** `dma_free_attrs`: the attributes must be those given to `dma_alloc_attrs`. */
export function dmaFreeAttrs(dev: Device, size: number, cpuAddr: number | null, dmaHandle: number, attrs?: DmaAttrsInput): void {
  checkDevice(dev);
  checkDmaSize(size);
  checkDmaAddr(dmaHandle, 'dmaHandle');
  const flags = attrsArg(attrs);
  if (cpuAddr !== null) checkCpuAddr(cpuAddr, 'cpuAddr');
  if (cpuAddr !== null && dmaReleaseFromDevCoherent(dev, getOrder(size, dev.machine.pageSize), cpuAddr)) return;
  if (cpuAddr === null) return;
  dev.machine.dmaDebug?.freeCoherent(dev, size, cpuAddr, dmaHandle);
  getDmaOps(dev).free?.(dev, size, cpuAddr, dmaHandle, flags);
}

/** `dma_alloc_coherent`: `dma_alloc_attrs` with no attributes (NO_WARN from `__GFP_NOWARN`). */
export function dmaAllocCoherent(dev: Device, size: number, gfp?: number): DmaAllocation | null {
  const flags = gfpArg(gfp);
  return dmaAllocAttrs(dev, size, (flags & __GFP_NOWARN) !== 0 ? DMA_ATTR_NO_WARN : 0, flags);
}

/** `dma_free_coherent`. */
export function dmaFreeCoherent(dev: Device, size: number, cpuAddr: number | null, dmaHandle: number): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, 0);
}

/** `dma_alloc_writecombine` (later `dma_alloc_wc`): `DMA_ATTR_WRITE_COMBINE`. */
export function dmaAllocWritecombine(dev: Device, size: number, gfp?: number): DmaAllocation | null {
  const flags = gfpArg(gfp);
  const attrs = DMA_ATTR_WRITE_COMBINE | ((flags & __GFP_NOWARN) !== 0 ? DMA_ATTR_NO_WARN : 0);
  return dmaAllocAttrs(dev, size, attrs, flags);
}

/** `dma_free_writecombine` (later `dma_free_wc`). */
export function dmaFreeWritecombine(dev: Device, size: number, cpuAddr: number | null, dmaHandle: number): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, DMA_ATTR_WRITE_COMBINE);
}

/** `dma_alloc_wc`: today's name of `dma_alloc_writecombine`. */
export const dmaAllocWc = dmaAllocWritecombine;
/** `dma_free_wc`. */
export const dmaFreeWc = dmaFreeWritecombine;

/**
 * `dma_alloc_noncoherent` as the 2011 series defined it: `DMA_ATTR_NON_CONSISTENT`, memory the
 * platform may return cached, kept consistent by the driver with `dmaCacheSync`.
 */
export function dmaAllocNoncoherent(dev: Device, size: number, gfp?: number): DmaAllocation | null {
  return dmaAllocAttrs(dev, size, DMA_ATTR_NON_CONSISTENT, gfp);
}

/** `dma_free_noncoherent` (2011: `dma_free_attrs` with `DMA_ATTR_NON_CONSISTENT`). */
export function dmaFreeNoncoherent(dev: Device, size: number, cpuAddr: number | null, dmaHandle: number): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, DMA_ATTR_NON_CONSISTENT);
}

/** `dma_cache_sync`: hand `DMA_ATTR_NON_CONSISTENT` memory over; a no-op where it is consistent. */
export function dmaCacheSync(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkCpuAddr(cpuAddr, 'cpuAddr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  getDmaOps(dev).cacheSync?.(dev, cpuAddr, size, direction);
}

/** Pages from `dmaAllocPages`: the first page frame and the bus address. */
export interface DmaPages {
  readonly pfn: number;
  readonly dmaHandle: number;
}

/**
 * `dma_alloc_pages` (v5.10): cached, non-coherent pages owned through the streaming sync calls.
 * Zone flags in `gfp` are a caller bug (WARN, null), as in the kernel.
 */
export function dmaAllocPages(dev: Device, size: number, dir: DmaDataDirection, gfp?: number): DmaPages | null {
  checkDevice(dev);
  checkDmaSize(size);
  const direction = dirArg(dir);
  const flags = gfpArg(gfp);
  if (dev.coherentDmaMask === 0 || (flags & ZONE_GFP) !== 0) {
    dev.machine.warnOnce(dev, 'alloc-pages-gfp', 'dma_alloc_pages: zone flags or no coherent mask');
    return null;
  }
  const ops = getDmaOps(dev);
  if (ops.allocPages === undefined) return null;
  const pages = ops.allocPages(dev, size, direction, flags);
  if (pages !== null) dev.machine.dmaDebug?.allocPages(dev, pages.pfn, size, direction, pages.dmaHandle, 0);
  return pages;
}

/** `dma_free_pages`. */
export function dmaFreePages(dev: Device, size: number, pfn: number, dmaHandle: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkDmaSize(size);
  checkInteger(pfn, 'pfn');
  checkDmaAddr(dmaHandle, 'dmaHandle');
  const direction = dirArg(dir);
  dev.machine.dmaDebug?.freePages(dev, pfn, size, direction, dmaHandle);
  getDmaOps(dev).freePages?.(dev, size, pfn, dmaHandle, direction);
}

/** `dma_mmap_pages`: maps pages from `dmaAllocPages` with the VMA's own (cached) protection. */
export function dmaMmapPages(dev: Device, vma: Vma, size: number, pfn: number): number {
  checkDevice(dev);
  checkDmaSize(size);
  checkInteger(pfn, 'pfn');
  return mmapPfns(dev, vma, size, (index) => pfn + index);
}

/**
 * The pgoff and size rule shared by every DMA mmap helper: -ENXIO unless the VMA lies inside the
 * buffer; then each page is inserted (`remap_pfn_range` for contiguous buffers).
 */
function mmapPfns(dev: Device, vma: Vma, size: number, pfnAt: (index: number) => number): number {
  const { mm } = dev.machine;
  const count = Math.ceil(size / mm.pageSize);
  const userCount = (vma.end - vma.start) / mm.pageSize;
  if (vma.pgoff >= count || userCount > count - vma.pgoff) return -ENXIO;
  for (let i = 0; i < userCount; i++) {
    const ret = remapPfnRange(vma, vma.start + i * mm.pageSize, pfnAt(vma.pgoff + i), mm.pageSize, vma.pgprot);
    if (ret !== 0) return ret;
  }
  return 0;
}

/**
 * `dma_alloc_noncontiguous`: pages that are contiguous in DMA space (one DMA segment), possibly
 * scattered in memory (several CPU entries) behind an IOMMU. Only `DMA_ATTR_ALLOC_SINGLE_PAGES`
 * is accepted, as in the kernel.
 */
export function dmaAllocNoncontiguous(
  dev: Device,
  size: number,
  dir: DmaDataDirection,
  gfp?: number,
  attrs?: DmaAttrsInput,
): SgTable | null {
  checkDevice(dev);
  checkDmaSize(size);
  const direction = dirArg(dir);
  const flags = attrsArg(attrs);
  const gfpFlags = gfpArg(gfp);
  const ops = getDmaOps(dev);
  if ((flags & ~DMA_ATTR_ALLOC_SINGLE_PAGES) !== 0) {
    dev.machine.warnOnce(dev, 'noncontiguous-attrs', 'dma_alloc_noncontiguous: invalid attrs');
    return null;
  }
  let sgt: SgTable | null;
  if (ops.allocNoncontiguous !== undefined) {
    sgt = ops.allocNoncontiguous(dev, size, direction, gfpFlags, flags);
  } else {
    // alloc_single_sgt: one entry of dma_alloc_pages.
    const pages = dmaAllocPagesNoDebug(dev, size, direction, gfpFlags);
    if (pages === null) return null;
    sgt = singleEntryTable(pages.pfn, pages.dmaHandle, size);
  }
  if (sgt !== null) dev.machine.dmaDebug?.allocNoncontiguous(dev, sgt.sgl, sgt.origNents, direction, flags);
  return sgt;
}

function dmaAllocPagesNoDebug(dev: Device, size: number, dir: DmaDataDirection, gfp: number): DmaPages | null {
  return getDmaOps(dev).allocPages?.(dev, size, dir, gfp) ?? null;
}

function singleEntryTable(pfn: number, dmaHandle: number, size: number): SgTable {
  const entry: Scatterlist = { pfn, offset: 0, length: size, dmaAddress: dmaHandle, dmaLength: size };
  return { sgl: [entry], nents: 1, origNents: 1 };
}

/** `dma_free_noncontiguous`. */
export function dmaFreeNoncontiguous(dev: Device, size: number, sgt: SgTable, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkDmaSize(size);
  const direction = dirArg(dir);
  dev.machine.dmaDebug?.unmapSg(dev, sgt.sgl, sgt.origNents, direction);
  const ops = getDmaOps(dev);
  if (ops.freeNoncontiguous !== undefined) {
    ops.freeNoncontiguous(dev, size, sgt, direction);
    return;
  }
  const entry = sgt.sgl[0];
  if (entry !== undefined) ops.freePages?.(dev, size, entry.pfn, entry.dmaAddress, direction);
}

/**
 * `dma_vmap_noncontiguous`: a kernel mapping of the pages (the linear address when they are one
 * contiguous run). Its users must `flush_kernel_vmap_range` around DMA, as in the kernel.
 */
export function dmaVmapNoncontiguous(dev: Device, size: number, sgt: SgTable): number | null {
  checkDevice(dev);
  checkDmaSize(size);
  const { mm } = dev.machine;
  if (sgt.origNents === 1 && sgt.sgl[0] !== undefined) return mm.pageAddress(sgt.sgl[0].pfn);
  return mm.vmap(sgtPfns(dev, sgt, size), PAGE_KERNEL);
}

/** `dma_vunmap_noncontiguous`. */
export function dmaVunmapNoncontiguous(dev: Device, vaddr: number): void {
  checkDevice(dev);
  checkCpuAddr(vaddr, 'vaddr');
  if (dev.machine.mm.isVmallocAddress(vaddr)) dev.machine.mm.vunmap(vaddr);
}

/** `dma_mmap_noncontiguous`: the VMA's own protection; -ENXIO outside the buffer. */
export function dmaMmapNoncontiguous(dev: Device, vma: Vma, size: number, sgt: SgTable): number {
  checkDevice(dev);
  checkDmaSize(size);
  const pfns = sgtPfns(dev, sgt, size);
  return mmapPfns(dev, vma, size, (index) => pfns[index] as number);
}

function sgtPfns(dev: Device, sgt: SgTable, size: number): number[] {
  const pageSize = dev.machine.pageSize;
  const pfns: number[] = [];
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i] as Scatterlist;
    const pages = Math.ceil((sg.offset + sg.length) / pageSize);
    for (let p = 0; p < pages; p++) pfns.push(sg.pfn + p);
  }
  return pfns.slice(0, Math.ceil(size / pageSize));
}

/**
 * `dma_mmap_attrs`: hands a coherent buffer to user space with the page attributes the arch
 * chooses (the 2011 series' reason to exist). 0 or a negative errno.
 */
export function dmaMmapAttrs(
  dev: Device,
  vma: Vma,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
  attrs?: DmaAttrsInput,
): number {
  checkDevice(dev);
  checkCpuAddr(cpuAddr, 'cpuAddr');
  checkDmaAddr(dmaHandle, 'dmaHandle');
  checkDmaSize(size);
  const flags = attrsArg(attrs);
  const fromPool = dmaMmapFromDevCoherent(dev, vma, cpuAddr, size);
  if (fromPool !== undefined) return fromPool;
  const ops = getDmaOps(dev);
  if (ops.mmap === undefined) return -ENXIO;
  return ops.mmap(dev, vma, cpuAddr, dmaHandle, size, flags);
}

/** `dma_mmap_coherent`. */
export function dmaMmapCoherent(dev: Device, vma: Vma, cpuAddr: number, dmaHandle: number, size: number): number {
  return dmaMmapAttrs(dev, vma, cpuAddr, dmaHandle, size, 0);
}

/** `dma_mmap_writecombine` (later `dma_mmap_wc`). */
export function dmaMmapWritecombine(dev: Device, vma: Vma, cpuAddr: number, dmaHandle: number, size: number): number {
  return dmaMmapAttrs(dev, vma, cpuAddr, dmaHandle, size, DMA_ATTR_WRITE_COMBINE);
}

/** `dma_mmap_wc`. */
export const dmaMmapWc = dmaMmapWritecombine;

/** `dma_can_mmap`. */
export function dmaCanMmap(dev: Device): boolean {
  checkDevice(dev);
  return getDmaOps(dev).mmap !== undefined;
}

/** `dma_get_sgtable_attrs`: a table describing a coherent buffer, or a negative errno. */
export function dmaGetSgtableAttrs(
  dev: Device,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
  attrs?: DmaAttrsInput,
): SgTable | number {
  checkDevice(dev);
  checkCpuAddr(cpuAddr, 'cpuAddr');
  checkDmaAddr(dmaHandle, 'dmaHandle');
  checkDmaSize(size);
  const ops = getDmaOps(dev);
  if (ops.getSgtable === undefined) return -ENXIO;
  return ops.getSgtable(dev, cpuAddr, dmaHandle, size, attrsArg(attrs));
}

/** `dma_get_sgtable`. */
export function dmaGetSgtable(dev: Device, cpuAddr: number, dmaHandle: number, size: number): SgTable | number {
  return dmaGetSgtableAttrs(dev, cpuAddr, dmaHandle, size, 0);
}

// ---------------------------------------------------------------------------------------------
// Streaming mappings

/** `dma_map_page_attrs`: `DMA_MAPPING_ERROR` on failure, to be tested with `dmaMappingError`. */
export function dmaMapPageAttrs(
  dev: Device,
  pfn: number,
  offset: number,
  size: number,
  dir: DmaDataDirection,
  attrs?: DmaAttrsInput,
): number {
  checkDevice(dev);
  checkInteger(pfn, 'pfn');
  checkInteger(offset, 'offset');
  checkDmaSize(size);
  return mapPage(dev, pfn, offset, size, dirArg(dir), attrsArg(attrs));
}

/** The body of `dma_map_page_attrs` once the arguments are known to be good. */
function mapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  if (dev.dmaMask === 0) return noDmaMask(dev);
  const ops = dev.dmaOps;
  // dma_map_direct(): no ops means dma-direct, called directly rather than through the table.
  let addr: number;
  if (ops === null) addr = dmaDirectMapPage(dev, pfn, offset, size, dir, attrs);
  else addr = ops.mapPage === undefined ? DMA_MAPPING_ERROR : ops.mapPage(dev, pfn, offset, size, dir, attrs);
  // debug_dma_map_page, which records nothing that dma_mapping_error() would call a failure.
  dev.machine.dmaDebug?.mapPage(dev, pfn, offset, size, dir, addr, attrs);
  return addr;
}

/** `dma_unmap_page_attrs`: every argument must match the map call. */
export function dmaUnmapPageAttrs(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): void {
  checkDevice(dev);
  checkDmaAddr(addr, 'addr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  const flags = attrsArg(attrs);
  const debug = dev.machine.dmaDebug;
  // DMA_MAPPING_ERROR is no mapping: nothing to undo (dma-debug still reports the attempt).
  if (debug !== null) unmapPageDebug(debug, dev, addr, size, direction, flags);
  else if (addr !== DMA_MAPPING_ERROR) unmapPage(dev, addr, size, direction, flags);
}

/**
 * `dma_unmap_page_attrs` with dma-debug on, out of line: the unmap path without it stays small
 * enough for the JIT to inline down to the cache maintenance.
 */
function unmapPageDebug(debug: DmaDebug, dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  if (addr !== DMA_MAPPING_ERROR) runSuppressed(debug, unmapPage, dev, addr, size, dir, attrs);
  debug.unmapPage(dev, addr, size, dir);
}

/** An unmap or sync of one mapping, as `runSuppressed` calls it. */
type SingleMappingOp = (dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number) => void;

/**
 * `withoutOwnershipChecks` for the per-mapping calls, with no closure made per call: the
 * function and its arguments are passed as they are.
 */
function runSuppressed(debug: DmaDebug, op: SingleMappingOp, dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  debug.enterSuppress();
  try {
    op(dev, addr, size, dir, attrs);
  } finally {
    debug.exitSuppress();
  }
}

function noDmaMask(dev: Device): number {
  dev.machine.warnOnce(dev, 'no-dma-mask', 'dma_map_page_attrs: dma_mask is 0');
  return DMA_MAPPING_ERROR;
}

/** The ops' unmap_page, or dma-direct's called directly. */
function unmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const ops = dev.dmaOps;
  if (ops === null) dmaDirectUnmapPage(dev, addr, size, dir, attrs);
  else ops.unmapPage?.(dev, addr, size, dir, attrs);
}

/**
 * `dma_map_single_attrs`: a linear-map (kmalloc or page allocator) buffer. vmalloc memory is
 * rejected with a WARN, as today's kernel does; dma-debug's area checks run first, as in the
 * kernels that introduced them, so the report is there too.
 */
export function dmaMapSingleAttrs(dev: Device, kva: number, size: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): number {
  checkDevice(dev);
  checkCpuAddr(kva, 'kva');
  checkDmaSize(size);
  const direction = dirArg(dir);
  const flags = attrsArg(attrs);
  const machine = dev.machine;
  const mm = machine.mm;
  if (!mm.virtAddrValid(kva)) {
    // dma-debug's area checks report only what fails this same test.
    machine.dmaDebug?.mapSingle(dev, kva, size);
    return mapNonLinear(dev, kva);
  }
  // __pa(): virt_addr_valid() has just vouched for a linear-map address, which virt_to_phys()
  // would check again.
  const paddr = kva - PAGE_OFFSET;
  const pfn = Math.floor(paddr / mm.pageSize);
  return mapPage(dev, pfn, paddr - pfn * mm.pageSize, size, direction, flags);
}

function mapNonLinear(dev: Device, kva: number): number {
  if (dev.machine.mm.isVmallocAddress(kva)) {
    dev.machine.warnOnce(dev, 'map-vmalloc', 'rejecting DMA map of vmalloc memory');
  } else {
    // virt_to_page of a non-linear address is garbage in the kernel; here it maps nothing.
    dev.machine.warnOnce(dev, 'map-invalid', `dma_map_single of a non-linear address 0x${kva.toString(16)}`);
  }
  return DMA_MAPPING_ERROR;
}

/** `dma_unmap_single_attrs`. */
export function dmaUnmapSingleAttrs(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, attrs);
}

/** `dma_map_single`. */
export function dmaMapSingle(dev: Device, kva: number, size: number, dir: DmaDataDirection): number {
  return dmaMapSingleAttrs(dev, kva, size, dir, 0);
}

/** `dma_unmap_single`. */
export function dmaUnmapSingle(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, 0);
}

/** `dma_map_page`. */
export function dmaMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection): number {
  return dmaMapPageAttrs(dev, pfn, offset, size, dir, 0);
}

/** `dma_unmap_page`. */
export function dmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, 0);
}

/** `dma_map_resource`: MMIO of another device; never RAM. */
export function dmaMapResource(dev: Device, physAddr: number, size: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): number {
  checkDevice(dev);
  checkCpuAddr(physAddr, 'physAddr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  const flags = attrsArg(attrs);
  if (dev.machine.hw.ram.isRam(physAddr, 1)) {
    dev.machine.warnOnce(dev, 'map-resource-ram', 'dma_map_resource: mapping of RAM is not permitted');
    return DMA_MAPPING_ERROR;
  }
  const ops = getDmaOps(dev);
  const addr = ops.mapResource === undefined ? DMA_MAPPING_ERROR : ops.mapResource(dev, physAddr, size, direction, flags);
  if (addr !== DMA_MAPPING_ERROR) dev.machine.dmaDebug?.mapResource(dev, physAddr, size, direction, addr, flags);
  return addr;
}

/** `dma_unmap_resource`. */
export function dmaUnmapResource(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): void {
  checkDevice(dev);
  checkDmaAddr(addr, 'addr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  getDmaOps(dev).unmapResource?.(dev, addr, size, direction, attrsArg(attrs));
  dev.machine.dmaDebug?.unmapResource(dev, addr, size, direction);
}

/** The internal map_sg: the mapped count, or a negative errno. */
function mapSgInternal(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const ops = getDmaOps(dev);
  let ents = ops.mapSg === undefined ? -EIO : ops.mapSg(dev, sgl, nents, dir, attrs);
  if (ents > 0) {
    dev.machine.dmaDebug?.mapSg(dev, sgl, nents, ents, dir, attrs);
  } else if (ents === 0) {
    ents = -EIO;
  } else if (ents !== -EINVAL && ents !== -ENOMEM && ents !== -EIO && ents !== -EREMOTEIO) {
    dev.machine.warnOnce(dev, 'map-sg-errno', `dma_map_sg: unexpected error ${ents}`);
    ents = -EIO;
  }
  return ents;
}

/**
 * `dma_map_sg_attrs`: the number of DMA segments (possibly fewer than `nents` where an IOMMU or
 * contiguity merged them), or 0 on any error. Unmap with the original `nents`.
 */
export function dmaMapSgAttrs(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): number {
  checkDevice(dev);
  checkSgl(sgl, nents);
  const ret = mapSgInternal(dev, sgl, nents, dirArg(dir), attrsArg(attrs));
  return ret < 0 ? 0 : ret;
}

/** `dma_unmap_sg_attrs`. */
export function dmaUnmapSgAttrs(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs?: DmaAttrsInput): void {
  checkDevice(dev);
  checkSgl(sgl, nents);
  const direction = dirArg(dir);
  const flags = attrsArg(attrs);
  dev.machine.dmaDebug?.unmapSg(dev, sgl, nents, direction);
  withoutOwnershipChecks(dev, () => getDmaOps(dev).unmapSg?.(dev, sgl, nents, direction, flags));
}

/** `dma_map_sg`. */
export function dmaMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): number {
  return dmaMapSgAttrs(dev, sgl, nents, dir, 0);
}

/** `dma_unmap_sg`. */
export function dmaUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  dmaUnmapSgAttrs(dev, sgl, nents, dir, 0);
}

/** `dma_map_sgtable`: maps `origNents` entries, sets `nents`; 0 or a negative errno. */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs?: DmaAttrsInput): number {
  checkDevice(dev);
  checkSgl(sgt?.sgl, sgt?.origNents);
  const ret = mapSgInternal(dev, sgt.sgl, sgt.origNents, dirArg(dir), attrsArg(attrs));
  if (ret < 0) return ret;
  sgt.nents = ret;
  return 0;
}

/** `dma_unmap_sgtable`. */
export function dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs?: DmaAttrsInput): void {
  dmaUnmapSgAttrs(dev, sgt.sgl, sgt.origNents, dir, attrs);
}

/** `dma_sync_single_for_cpu`: the CPU owns the buffer until `dmaSyncSingleForDevice`. */
export function dmaSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkDmaAddr(addr, 'addr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  const debug = dev.machine.dmaDebug;
  if (debug === null) {
    syncSingleForCpu(dev, addr, size, direction);
    return;
  }
  // As in unmap: the CPU-side copy or maintenance is not a CPU access to a device-owned buffer.
  runSuppressed(debug, syncSingleForCpu, dev, addr, size, direction, 0);
  debug.syncSingleForCpu(dev, addr, size, direction);
}

function syncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const ops = dev.dmaOps;
  if (ops === null) dmaDirectSyncSingleForCpu(dev, addr, size, dir);
  else ops.syncSingleForCpu?.(dev, addr, size, dir);
}

/** `dma_sync_single_for_device`: hands the buffer back to the device. */
export function dmaSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkDmaAddr(addr, 'addr');
  checkDmaSize(size);
  const direction = dirArg(dir);
  const ops = dev.dmaOps;
  if (ops === null) dmaDirectSyncSingleForDevice(dev, addr, size, direction);
  else ops.syncSingleForDevice?.(dev, addr, size, direction);
  dev.machine.dmaDebug?.syncSingleForDevice(dev, addr, size, direction);
}

/** `dma_sync_single_range_for_cpu`. */
export function dmaSyncSingleRangeForCpu(dev: Device, addr: number, offset: number, size: number, dir: DmaDataDirection): void {
  checkInteger(offset, 'offset');
  dmaSyncSingleForCpu(dev, addr + offset, size, dir);
}

/** `dma_sync_single_range_for_device`. */
export function dmaSyncSingleRangeForDevice(dev: Device, addr: number, offset: number, size: number, dir: DmaDataDirection): void {
  checkInteger(offset, 'offset');
  dmaSyncSingleForDevice(dev, addr + offset, size, dir);
}

/** `dma_sync_sg_for_cpu`: `nents` is the count given to the map call, not its result. */
export function dmaSyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkSgl(sgl, nents);
  const direction = dirArg(dir);
  withoutOwnershipChecks(dev, () => getDmaOps(dev).syncSgForCpu?.(dev, sgl, nents, direction));
  dev.machine.dmaDebug?.syncSgForCpu(dev, sgl, nents, direction);
}

/** `dma_sync_sg_for_device`. */
export function dmaSyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  checkDevice(dev);
  checkSgl(sgl, nents);
  const direction = dirArg(dir);
  getDmaOps(dev).syncSgForDevice?.(dev, sgl, nents, direction);
  dev.machine.dmaDebug?.syncSgForDevice(dev, sgl, nents, direction);
}

/** `dma_sync_sgtable_for_cpu`. */
export function dmaSyncSgtableForCpu(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
  dmaSyncSgForCpu(dev, sgt.sgl, sgt.origNents, dir);
}

/** `dma_sync_sgtable_for_device`. */
export function dmaSyncSgtableForDevice(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
  dmaSyncSgForDevice(dev, sgt.sgl, sgt.origNents, dir);
}

/** `dma_mapping_error`: -ENOMEM for `DMA_MAPPING_ERROR` (or an old ops' own error value), else 0. */
export function dmaMappingError(dev: Device, addr: number): number {
  checkDevice(dev);
  checkDmaAddr(addr, 'addr');
  const machine = dev.machine;
  machine.dmaDebug?.mappingError(dev, addr);
  if (addr === DMA_MAPPING_ERROR) return -ENOMEM;
  const ops = dev.dmaOps;
  return ops !== null && ops.mappingError?.(dev, addr) === true ? -ENOMEM : 0;
}
