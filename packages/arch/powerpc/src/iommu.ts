import { DMA_BIDIRECTIONAL, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrAnd, addrMod, alignUp, checkInteger, getOrder, hex, pow2 } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { dmaGetSegBoundaryNrPages, iommuAreaAlloc, iommuNumPages } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { IOMMU_PAGE_SIZE, type IoPageTable } from './io-page-table.js';

/*
 * arch/powerpc/kernel/iommu.c as of v3.4: the `struct iommu_table` allocator (a bitmap, `it_map`,
 * with the top quarter set aside for large allocations), and the map/unmap/alloc functions that
 * `dma_iommu_ops`, VIO and the Cell code build on. The TCEs themselves are written by the
 * platform's `ppc_md.tce_build`/`tce_free` (`TceOps`).
 */

/** `IOMAP_MAX_ORDER`: `iommu_alloc_coherent` refuses this order and above. */
export const IOMAP_MAX_ORDER = 13;

/** `largealloc = npages > 15`: allocations of 16 IO pages or more go to the large area. */
export const IOMMU_LARGE_ALLOC_PAGES = 16;

/** `DMA_ERROR_CODE` of the range allocator (the kernel's `~0`). */
const RANGE_ERROR = -1;

/** `ppc_md.tce_build`, `tce_free`, `tce_flush`: how a platform writes its translation entries. */
export interface TceOps {
  /** Writes `npages` entries from table entry `index` (absolute, `it_offset` included); 0 or an error. */
  build(tbl: IommuTable, index: number, npages: number, paddr: number, dir: DmaDataDirection, attrs: number): number;
  /** Invalidates `npages` entries from absolute entry `index`. */
  free(tbl: IommuTable, index: number, npages: number): void;
  flush?(tbl: IommuTable): void;
}

/** `struct iommu_table` (v3.4). */
export class IommuTable {
  readonly machine: Machine;
  /** `it_busno`. */
  readonly itBusno: number;
  /** `it_index`: the LIOBN on pSeries, the node on Cell. */
  readonly itIndex: number;
  /** `it_offset`: the first IO page number of the window. */
  readonly itOffset: number;
  /** `it_size`: entries. */
  readonly itSize: number;
  /** `it_blocksize`: small allocations start on a new block of this many entries. */
  readonly itBlocksize: number;
  /** `it_halfpoint`: "Set aside 1/4 of the table for large allocations". */
  readonly itHalfpoint: number;
  /** `it_hint`: where the next small allocation starts looking. */
  itHint = 0;
  /** `it_largehint`: where the next large allocation starts looking. */
  itLargehint: number;
  /** `it_map`: one byte per entry (the kernel's bit), 1 = allocated. */
  readonly itMap: Uint8Array;
  /** The hardware entries (`it_base`). */
  readonly hw: IoPageTable;
  readonly tce: TceOps;
  /** Failed allocations (the "iommu_alloc failed" messages). */
  allocFailures = 0;

  constructor(
    machine: Machine,
    init: { busno: number; index: number; blocksize: number; hw: IoPageTable; tce: TceOps },
  ) {
    checkInteger(init.blocksize, 'blocksize', 1);
    this.machine = machine;
    this.itBusno = init.busno;
    this.itIndex = init.index;
    this.hw = init.hw;
    this.itOffset = init.hw.offset;
    this.itSize = init.hw.entries;
    this.itBlocksize = init.blocksize;
    this.tce = init.tce;
    // iommu_init_table
    this.itHalfpoint = Math.floor((this.itSize * 3) / 4);
    this.itMap = new Uint8Array(this.itSize);
    // "Reserve page 0 so it will not be used for any mappings. This avoids buggy drivers that
    // consider page 0 to be invalid to crash the machine or even lose data."
    if (this.itOffset === 0) this.itMap[0] = 1;
    this.itLargehint = this.itHalfpoint;
    // iommu_table_clear: "Clear the table in case firmware left allocations in it".
    init.hw.clear(0, this.itSize);
  }

  /** Entries allocated in `it_map`. */
  usedEntries(): number {
    let n = 0;
    const map = this.itMap;
    for (let i = map.indexOf(1); i >= 0; i = map.indexOf(1, i + 1)) n++;
    return n;
  }
}

/** `get_iommu_order(size)`: the IO page order a coherent buffer's mapping is aligned to. */
export function getIommuOrder(size: number): number {
  return getOrder(size, IOMMU_PAGE_SIZE);
}

/**
 * `iommu_range_alloc` (v3.4): `npages` entries below `mask` (in IO pages), for small allocations
 * (15 pages or fewer) from `it_hint` in `[0, it_halfpoint)`, for large ones from `it_largehint` in
 * `[it_halfpoint, it_size)`. "First failure, just rescan the half of the table. Second failure,
 * rescan the other half of the table." A small allocation's hint then moves to the next
 * `it_blocksize` boundary; a large one's does not ("to avoid fragmentation"). `handle` carries the
 * end of the previous segment of a scatterlist. Returns the table index or -1.
 */
export function iommuRangeAlloc(
  dev: Device | null,
  tbl: IommuTable,
  npages: number,
  handle: { value: number } | null,
  mask: number,
  alignOrder: number,
): number {
  const largealloc = npages > 15;
  let pass = 0;
  // 0xffffffffffffffff >> (64 - align_order): 0 for order 0 on PPC64 (a 64-bit shift is 0).
  const alignMask = alignOrder === 0 ? 0 : pow2(alignOrder) - 1;
  if (npages === 0) {
    tbl.machine.printk('warn', dev, 'WARNING: iommu_range_alloc of 0 pages');
    return RANGE_ERROR;
  }
  let start = handle !== null && handle.value !== 0 ? handle.value : largealloc ? tbl.itLargehint : tbl.itHint;
  // "Use only half of the table for small allocs (15 pages or less)"
  let limit = largealloc ? tbl.itSize : tbl.itHalfpoint;
  if (largealloc && start < tbl.itHalfpoint) start = tbl.itHalfpoint;
  // "The case below can happen if we have a small segment appended to a large, or when the
  // previous alloc was at the very end of the available space. If so, go back to the initial start."
  if (start >= limit) start = largealloc ? tbl.itLargehint : tbl.itHint;

  const boundarySize = dmaGetSegBoundaryNrPages(dev, IOMMU_PAGE_SIZE);
  for (;;) {
    if (limit + tbl.itOffset > mask) {
      limit = mask - tbl.itOffset + 1;
      // "If we're constrained on address range, first try at the masked hint to avoid O(n)
      // search complexity, but on second pass, start at 0."
      if (addrAnd(start, mask) >= limit || pass > 0) start = 0;
      else start = addrAnd(start, mask);
    }
    // A mask below the window's first entry leaves no entry at all (the kernel's unsigned limit
    // would wrap instead).
    const n = limit <= 0 ? RANGE_ERROR : iommuAreaAlloc(tbl.itMap, limit, start, npages, tbl.itOffset, boundarySize, alignMask);
    if (n === RANGE_ERROR) {
      if (pass < 2) {
        start = ((largealloc ? 1 : 0) ^ pass) !== 0 ? tbl.itHalfpoint : 0;
        limit = pass !== 0 ? tbl.itSize : limit;
        pass++;
        continue;
      }
      // "Third failure, give up"
      return RANGE_ERROR;
    }
    const end = n + npages;
    if (largealloc) {
      // "Don't bump to new block to avoid fragmentation"
      tbl.itLargehint = end;
    } else {
      // "Overflow will be taken care of at the next allocation"
      tbl.itHint = alignUp(end, tbl.itBlocksize);
    }
    if (handle !== null) handle.value = end;
    return n;
  }
}

/** `iommu_alloc`: allocates entries, builds the TCEs, returns the bus address of the first. */
function iommuAlloc(
  dev: Device,
  tbl: IommuTable,
  paddr: number,
  npages: number,
  dir: DmaDataDirection,
  mask: number,
  alignOrder: number,
  attrs: number,
): number {
  const entry = iommuRangeAlloc(dev, tbl, npages, null, mask, alignOrder);
  if (entry === RANGE_ERROR) return DMA_MAPPING_ERROR;
  const index = entry + tbl.itOffset;
  const ret = index * IOMMU_PAGE_SIZE;
  if (tbl.tce.build(tbl, index, npages, paddr - addrMod(paddr, IOMMU_PAGE_SIZE), dir, attrs) !== 0) {
    // "ppc_md.tce_build() only returns non-zero for transient errors."
    iommuFreeEntries(tbl, ret, npages);
    return DMA_MAPPING_ERROR;
  }
  tbl.tce.flush?.(tbl);
  return ret;
}

/** `iommu_free_check`: the entries lie inside the table, else an "iommu_free: invalid entry" WARN. */
function iommuFreeCheck(tbl: IommuTable, dmaAddr: number, npages: number): boolean {
  const entry = Math.floor(dmaAddr / IOMMU_PAGE_SIZE);
  const freeEntry = entry - tbl.itOffset;
  if (freeEntry + npages > tbl.itSize || entry < tbl.itOffset) {
    tbl.machine.printk(
      'info',
      null,
      `iommu_free: invalid entry\n\tentry     = ${hex(entry)}\n\tdma_addr  = ${hex(dmaAddr)}\n\tbus#      = ${hex(tbl.itBusno)}\n\tsize      = ${hex(tbl.itSize)}\n\tstartOff  = ${hex(tbl.itOffset)}\n\tindex     = ${hex(tbl.itIndex)}`,
    );
    return false;
  }
  return true;
}

/** `__iommu_free`: clears the TCEs and the bitmap. */
function iommuFreeEntries(tbl: IommuTable, dmaAddr: number, npages: number): void {
  if (!iommuFreeCheck(tbl, dmaAddr, npages)) return;
  const entry = Math.floor(dmaAddr / IOMMU_PAGE_SIZE);
  tbl.tce.free(tbl, entry, npages);
  tbl.itMap.fill(0, entry - tbl.itOffset, entry - tbl.itOffset + npages);
}

/** `iommu_free`. */
function iommuFree(tbl: IommuTable, dmaAddr: number, npages: number): void {
  iommuFreeEntries(tbl, dmaAddr, npages);
  tbl.tce.flush?.(tbl);
}

/** The alignment `iommu_map_page`/`iommu_map_sg` give a page-aligned buffer of a page or more. */
function pageAlignOrder(machine: Machine, paddr: number, size: number): number {
  const pageSize = machine.pageSize;
  if (pageSize > IOMMU_PAGE_SIZE && size >= pageSize && addrMod(paddr, pageSize) === 0) return getOrder(pageSize, IOMMU_PAGE_SIZE);
  return 0;
}

/**
 * `iommu_map_page`: TCEs for a contiguous kernel buffer; the bus address keeps the buffer's offset
 * within its first IO page. `mask` is the device's DMA mask in bytes.
 */
export function iommuMapPage(
  dev: Device,
  tbl: IommuTable | null,
  pfn: number,
  offset: number,
  size: number,
  mask: number,
  dir: DmaDataDirection,
  attrs: number,
): number {
  if (tbl === null) return DMA_MAPPING_ERROR;
  const paddr = pfn * dev.machine.pageSize + offset;
  const npages = iommuNumPages(paddr, size, IOMMU_PAGE_SIZE);
  const align = pageAlignOrder(dev.machine, paddr, size);
  const handle = iommuAlloc(dev, tbl, paddr, npages, dir, Math.floor(mask / IOMMU_PAGE_SIZE), align, attrs);
  if (handle === DMA_MAPPING_ERROR) {
    tbl.allocFailures++;
    dev.machine.printk('info', dev, `iommu_alloc failed, tbl ${hex(tbl.itIndex)} vaddr ${hex(paddr)} npages ${npages}`);
    return DMA_MAPPING_ERROR;
  }
  return handle + addrMod(paddr, IOMMU_PAGE_SIZE);
}

/** `iommu_unmap_page`. */
export function iommuUnmapPage(tbl: IommuTable | null, dmaHandle: number, size: number): void {
  if (tbl === null) return;
  iommuFree(tbl, dmaHandle, iommuNumPages(dmaHandle, size, IOMMU_PAGE_SIZE));
}

/**
 * `iommu_map_sg`: one allocation per entry, each continuing where the previous ended (`handle`),
 * with "virtual merging": entries whose bus addresses turn out contiguous are merged into one DMA
 * segment up to `max_segment_size`. Returns the number of segments (the entry after the last one
 * gets `DMA_MAPPING_ERROR`/0), or 0 with everything undone.
 */
export function iommuMapSg(dev: Device, tbl: IommuTable | null, sgl: Scatterlist[], nelems: number, mask: number, dir: DmaDataDirection, attrs: number): number {
  if (nelems === 0 || tbl === null) return 0;
  const pageSize = dev.machine.pageSize;
  const handle = { value: 0 };
  const ioMask = Math.floor(mask / IOMMU_PAGE_SIZE);
  const maxSegSize = dev.dmaParms.maxSegmentSize;
  let outs = 0;
  let segstart = 0;
  let outcount = 1;
  let dmaNext = 0;
  (sgl[0] as Scatterlist).dmaLength = 0;
  for (let i = 0; i < nelems; i++) {
    const s = sgl[i] as Scatterlist;
    const slen = s.length;
    if (slen === 0) {
      dmaNext = 0;
      continue;
    }
    const paddr = s.pfn * pageSize + s.offset;
    const npages = iommuNumPages(paddr, slen, IOMMU_PAGE_SIZE);
    const align = pageAlignOrder(dev.machine, paddr, slen);
    const entry = iommuRangeAlloc(dev, tbl, npages, handle, ioMask, align);
    if (entry === RANGE_ERROR) {
      tbl.allocFailures++;
      dev.machine.printk('info', dev, `iommu_alloc failed, tbl ${hex(tbl.itIndex)} vaddr ${hex(paddr)} npages ${npages}`);
      return iommuMapSgFailure(tbl, sgl, nelems, outs);
    }
    const index = entry + tbl.itOffset;
    const dmaAddr = index * IOMMU_PAGE_SIZE + (s.offset % IOMMU_PAGE_SIZE);
    if (tbl.tce.build(tbl, index, npages, paddr - addrMod(paddr, IOMMU_PAGE_SIZE), dir, attrs) !== 0) {
      return iommuMapSgFailure(tbl, sgl, nelems, outs);
    }
    // "If we are in an open segment, try merging"
    if (segstart !== i) {
      const out = sgl[outs] as Scatterlist;
      if (dmaAddr !== dmaNext || out.dmaLength + slen > maxSegSize) {
        // "Can't merge: create a new segment"
        segstart = i;
        outcount++;
        outs++;
      } else {
        out.dmaLength += slen;
      }
    }
    if (segstart === i) {
      const out = sgl[outs] as Scatterlist;
      out.dmaAddress = dmaAddr;
      out.dmaLength = slen;
    }
    dmaNext = dmaAddr + slen;
  }
  tbl.tce.flush?.(tbl);
  // "For the sake of iommu_unmap_sg, we clear out the length in the next entry of the sglist if
  // we didn't fill the list completely"
  if (outcount < nelems) {
    const next = sgl[outs + 1] as Scatterlist;
    next.dmaAddress = DMA_MAPPING_ERROR;
    next.dmaLength = 0;
  }
  return outcount;
}

function iommuMapSgFailure(tbl: IommuTable, sgl: Scatterlist[], nelems: number, outs: number): number {
  for (let i = 0; i < nelems; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength !== 0) {
      const start = s.dmaAddress - addrMod(s.dmaAddress, IOMMU_PAGE_SIZE);
      iommuFreeEntries(tbl, start, iommuNumPages(s.dmaAddress, s.dmaLength, IOMMU_PAGE_SIZE));
      s.dmaAddress = DMA_MAPPING_ERROR;
      s.dmaLength = 0;
    }
    if (i === outs) break;
  }
  return 0;
}

/** `iommu_unmap_sg`: frees each mapped segment up to the first of length 0. */
export function iommuUnmapSg(tbl: IommuTable | null, sgl: Scatterlist[], nelems: number): void {
  if (tbl === null) return;
  for (let i = 0; i < nelems; i++) {
    const sg = sgl[i] as Scatterlist;
    if (sg.dmaLength === 0) break;
    iommuFreeEntries(tbl, sg.dmaAddress, iommuNumPages(sg.dmaAddress, sg.dmaLength, IOMMU_PAGE_SIZE));
  }
  tbl.tce.flush?.(tbl);
}

/**
 * `iommu_alloc_coherent`: whole pages from the page allocator, zeroed, mapped
 * `DMA_BIDIRECTIONAL` with their IOVA aligned to the buffer's size (`get_iommu_order`); the CPU
 * uses the linear mapping (every device of an IOMMU platform is coherent).
 */
export function iommuAllocCoherent(dev: Device, tbl: IommuTable | null, size: number, mask: number, gfp: number): DmaAllocation | null {
  const { mm } = dev.machine;
  size = alignUp(size, mm.pageSize);
  const order = getOrder(size, mm.pageSize);
  // "Client asked for way too much space."
  if (order >= IOMAP_MAX_ORDER) {
    dev.machine.printk('info', dev, `iommu_alloc_consistent size too large: ${hex(size)}`);
    return null;
  }
  if (tbl === null) return null;
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  dev.machine.cpu.fill(cpuAddr, size, 0);
  const mapping = iommuAlloc(dev, tbl, pfn * mm.pageSize, size / IOMMU_PAGE_SIZE, DMA_BIDIRECTIONAL, Math.floor(mask / IOMMU_PAGE_SIZE), getIommuOrder(size), 0);
  if (mapping === DMA_MAPPING_ERROR) {
    tbl.allocFailures++;
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle: mapping };
}

/** `iommu_free_coherent`. */
export function iommuFreeCoherent(dev: Device, tbl: IommuTable | null, size: number, cpuAddr: number, dmaHandle: number): void {
  if (tbl === null) return;
  const { mm } = dev.machine;
  size = alignUp(size, mm.pageSize);
  iommuFree(tbl, dmaHandle, size / IOMMU_PAGE_SIZE);
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}
