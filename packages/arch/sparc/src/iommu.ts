import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrMod, alignDown, alignUp, type DmaFault, type DmaFaultKind, type DmaTranslation, getOrder, pow2, type TranslationRun } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps, type IommuStats, type Machine, type MachineIommu } from '@kdma/dma-mapping/ops';
import { dmaGetSegBoundaryNrPages, iommuIsSpanBoundary, iommuNumPages } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { IO_PAGE_SIZE } from './arch.js';
import { IommuArena } from './iommu-common.js';
import { Strbuf } from './strbuf.js';

/*
 * arch/sparc/kernel/iommu.c (+ include/asm/iommu_64.h): the IOMMU of sun4u PCI controllers
 * (psycho, sabre, schizo, tomatillo) and SBus (sysio), as Schizo has it: a TSB of 8-byte IOPTEs
 * over the DVMA window from the "virtual-dma" property, an arena bitmap with a hint
 * (`iommu_range_alloc`), 4096 contexts that tag each streaming mapping so the streaming buffer
 * can be flushed by context, and the streaming buffer itself (`strbuf.ts`). Unmapped IOPTEs are
 * pointed at a dummy page and stay valid, so a device's late access lands there harmlessly;
 * an IOPTE never used is invalid and faults.
 *
 * Followed from later kernels: `dma_4u_supported` accepts any mask that covers the DVMA window
 * (v3.4's `dma_supported` refused masks of 32 bits and more, which drivers then retried
 * narrower); `mmap`/`get_sgtable` are the common helpers.
 */

/** IOPTE bits (`IOPTE_VALID`, `IOPTE_STBUF`, `IOPTE_WRITE`, `IOPTE_CACHE`), one byte per entry here. */
export const IOPTE_VALID = 1;
export const IOPTE_STBUF = 2;
export const IOPTE_WRITE = 4;
export const IOPTE_CACHE = 8;

/** `IOMMU_NUM_CTXS`. */
export const IOMMU_NUM_CTXS = 4096;

/** Schizo's "virtual-dma": 1 GiB of DVMA at 0xc0000000 (`tsbsize` 128 K entries). */
export const SUN4U_DVMA_BASE = 0xc000_0000;
export const SUN4U_DVMA_SIZE = 0x4000_0000;

/** The PCI bus module's OF name, as the error handlers print it. */
export const SUN4U_PBM_NAME = '/pci@1e,600000';

/** The sun4u IOMMU's counters (the streaming buffer has its own). */
export interface Sun4uIommuStats {
  /** TSB entries allocated in the arena. */
  readonly entriesInUse: number;
  /** Contexts in use. */
  readonly contextsInUse: number;
  /** `iommu_flushall` calls (the arena wrapped). */
  readonly flushAlls: number;
  /** Device accesses that reached the dummy page through an unmapped IOPTE. */
  readonly dummyHits: number;
  readonly faults: number;
}

/** `struct iommu` of a sun4u PCI controller, with its `struct strbuf`. */
export class Sun4uIommu implements MachineIommu, DmaTranslation {
  readonly name = 'sun4u-iommu';
  readonly machine: Machine;
  /** `page_table_map_base`: the first DVMA address. */
  readonly pageTableMapBase: number;
  /** `dma_addr_mask`: what a device's mask must cover. */
  readonly dmaAddrMask: number;
  readonly entries: number;
  /** The TSB: each IOPTE's page (`IOPTE_PAGE`), flags and context. */
  readonly ptePaddr: Float64Array;
  readonly pteFlags: Uint8Array;
  readonly pteCtx: Uint16Array;
  /** `iommu->arena`. */
  readonly arena: IommuArena;
  /** `ctx_bitmap`, `ctx_lowest_free`. */
  readonly ctxBitmap = new Uint8Array(IOMMU_NUM_CTXS);
  ctxLowestFree = 1;
  /** `iommu_ctxflush`: the controller flushes by context. */
  readonly ctxflush = true;
  /** `dummy_page_pa`. */
  readonly dummyPagePaddr: number;
  /** The controller's streaming buffer. */
  readonly strbuf: Strbuf;
  private counters = { flushAlls: 0, dummyHits: 0, faults: 0 };

  constructor(machine: Machine, base = SUN4U_DVMA_BASE, size = SUN4U_DVMA_SIZE) {
    this.machine = machine;
    this.pageTableMapBase = base;
    this.dmaAddrMask = 0xffff_ffff;
    this.entries = size / IO_PAGE_SIZE;
    this.ptePaddr = new Float64Array(this.entries);
    this.pteFlags = new Uint8Array(this.entries);
    this.pteCtx = new Uint16Array(this.entries);
    this.arena = new IommuArena(this.entries, base / IO_PAGE_SIZE, IO_PAGE_SIZE, () => this.flushAll());
    const dummy = machine.mm.allocPages(getOrder(IO_PAGE_SIZE, machine.pageSize));
    if (dummy === null) throw new Error('IOMMU: Error, gfp(dummy_page) failed.');
    this.dummyPagePaddr = dummy * machine.pageSize;
    machine.cpu.fill(machine.mm.pageAddress(dummy), IO_PAGE_SIZE, 0);
    // "Initialize all IOPTEs to point to the dummy page" (not valid yet).
    this.ptePaddr.fill(this.dummyPagePaddr);
    this.strbuf = new Strbuf(machine);
  }

  stats(): IommuStats {
    const inUse = this.inUse();
    const s = this.strbuf.stats();
    return {
      iotlbHits: 0,
      iotlbMisses: 0,
      faults: this.counters.faults,
      mappedBytes: inUse * IO_PAGE_SIZE,
      flushes: s.pflushes + s.ctxflushes + this.counters.flushAlls,
      pendingFlushes: s.dirtyLines,
    };
  }

  sun4uStats(): Sun4uIommuStats {
    let contexts = 0;
    for (let i = 1; i < IOMMU_NUM_CTXS; i++) contexts += this.ctxBitmap[i] as number;
    return { entriesInUse: this.inUse(), contextsInUse: contexts, ...this.counters };
  }

  private inUse(): number {
    return this.arena.inUse();
  }

  /** The TSB entry of a DVMA address. */
  entryOf(dvma: number): number {
    return Math.floor((dvma - this.pageTableMapBase) / IO_PAGE_SIZE);
  }

  // ---- the hardware side

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const base = this.pageTableMapBase;
    if (busAddr < base || busAddr >= base + this.entries * IO_PAGE_SIZE) return 'translation';
    let i = this.entryOf(busAddr);
    const flags = this.pteFlags[i] as number;
    if ((flags & IOPTE_VALID) === 0) return 'translation';
    if (write && (flags & IOPTE_WRITE) === 0) return 'permission';
    const off = busAddr - base - i * IO_PAGE_SIZE;
    const paddr = this.ptePaddr[i] as number;
    if (paddr === this.dummyPagePaddr) this.counters.dummyHits++;
    if ((flags & IOPTE_STBUF) !== 0 && this.strbuf.enabled) {
      const ctx = this.pteCtx[i] as number;
      return write ? this.strbuf.write(i, ctx, paddr, off, length, out) : this.strbuf.read(i, paddr, off, length, out);
    }
    let run = IO_PAGE_SIZE - off;
    let next = paddr + IO_PAGE_SIZE;
    while (run < length && i + 1 < this.entries) {
      const nf = this.pteFlags[i + 1] as number;
      if ((nf & IOPTE_VALID) === 0 || (nf & IOPTE_STBUF) !== 0 || (write && (nf & IOPTE_WRITE) === 0) || this.ptePaddr[i + 1] !== next) break;
      i++;
      run += IO_PAGE_SIZE;
      next += IO_PAGE_SIZE;
    }
    out.paddr = paddr + off;
    out.length = Math.min(run, length);
    return null;
  }

  /** schizo_check_iommu_error: "IOMMU Error, type[Protection Error]" or "[Invalid Error]". */
  onFault(fault: DmaFault): void {
    this.strbuf.abandon();
    if (fault.kind !== 'translation' && fault.kind !== 'permission') return;
    this.counters.faults++;
    const type = fault.kind === 'permission' ? 'Protection Error' : 'Invalid Error';
    this.machine.printk('err', null, `${SUN4U_PBM_NAME}: IOMMU Error, type[${type}]`);
  }

  // ---- the arena and the contexts

  /** `iommu_flushall`: invalidates the IOMMU's TLB (no TLB model: counted). */
  flushAll(): void {
    this.counters.flushAlls++;
  }

  /** `iommu_range_alloc`: see `IommuArena`; -1 when the arena is full. */
  rangeAlloc(dev: Device, npages: number, handle: { value: number } | null = null): number {
    return this.arena.alloc(dev, npages, handle);
  }

  /** `iommu_range_free`. */
  rangeFree(dvma: number, npages: number): void {
    this.arena.free(this.entryOf(dvma), npages);
  }

  /** `iommu_alloc_ctx`: the lowest free context from `ctx_lowest_free`, wrapping; 0 when none. */
  allocCtx(): number {
    const lowest = this.ctxLowestFree;
    let n = this.ctxBitmap.indexOf(0, lowest);
    if (n < 0) {
      n = this.ctxBitmap.subarray(0, lowest).indexOf(0, 1);
      if (n < 0) {
        this.machine.printk('warn', null, 'IOMMU: Ran out of contexts.');
        n = 0;
      }
    }
    if (n !== 0) this.ctxBitmap[n] = 1;
    return n;
  }

  /** `iommu_free_ctx`. */
  freeCtx(ctx: number): void {
    if (ctx === 0) return;
    this.ctxBitmap[ctx] = 0;
    if (ctx < this.ctxLowestFree) this.ctxLowestFree = ctx;
  }

  /** Writes `npages` IOPTEs from `entry`: `prot` (flags), `ctx`, pages from `paddr`. */
  setPtes(entry: number, npages: number, paddr: number, flags: number, ctx: number): void {
    for (let i = 0; i < npages; i++, paddr += IO_PAGE_SIZE) {
      this.ptePaddr[entry + i] = paddr;
      this.pteFlags[entry + i] = flags;
      this.pteCtx[entry + i] = ctx;
    }
  }

  /** `iopte_make_dummy`: the page becomes the dummy page; the other bits (valid!) stay. */
  makeDummy(entry: number, npages: number): void {
    this.ptePaddr.fill(this.dummyPagePaddr, entry, entry + npages);
  }

  /**
   * `strbuf_flush`: by context where the controller can (one write, however many lines match),
   * else page by page; then, unless the device could not have written (`DMA_TO_DEVICE`), the
   * flush-flag handshake that waits for the data to reach memory.
   */
  strbufFlush(vaddr: number, ctx: number, npages: number, dir: DmaDataDirection): void {
    const strbuf = this.strbuf;
    if (strbuf.ctxflush && this.ctxflush) {
      strbuf.ctxFlush(ctx);
    } else {
      const first = this.entryOf(vaddr);
      for (let i = 0; i < npages; i++) strbuf.pflush(first + i);
    }
    if (dir === DMA_TO_DEVICE) return;
    strbuf.flushSync();
  }
}

const KEY = 'sparc:sun4u-iommu';

/** The machine's sun4u IOMMU, or null. */
export function sun4uIommuOf(machine: Machine): Sun4uIommu | null {
  const iommu = machine.archState.get(KEY);
  return iommu instanceof Sun4uIommu ? iommu : null;
}

/** `psycho_iommu_init`/`schizo_pbm_iommu_init`: the controller's IOMMU and STC on the machine. */
export function sun4uIommuInit(machine: Machine): Sun4uIommu {
  const iommu = new Sun4uIommu(machine);
  machine.archState.set(KEY, iommu);
  machine.iommu = iommu;
  return iommu;
}

function iommuOf(dev: Device): Sun4uIommu {
  const iommu = sun4uIommuOf(dev.machine);
  if (iommu === null) throw new Error(`${dev.name} uses sun4u_dma_ops on a machine without a sun4u IOMMU`);
  return iommu;
}

/** `WARN_ON(1)` of a failed map. */
function warnMapFailed(dev: Device, fn: string): void {
  dev.machine.printk('warn', null, `WARNING: at arch/sparc/kernel/iommu.c ${fn}()`);
}

/** `dma_4u_alloc_coherent`: pages (order < 10), zeroed, mapped consistent and writable with context 0. */
export function dma4uAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const iommu = iommuOf(dev);
  const { mm } = dev.machine;
  size = alignUp(size, IO_PAGE_SIZE);
  const order = getOrder(size, mm.pageSize);
  if (order >= 10) return null;
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  dev.machine.cpu.fill(cpuAddr, mm.pageSize * pow2(order), 0);
  const npages = size / IO_PAGE_SIZE;
  const entry = iommu.rangeAlloc(dev, npages);
  if (entry < 0) {
    mm.freePages(pfn, order);
    return null;
  }
  iommu.setPtes(entry, npages, pfn * mm.pageSize, IOPTE_VALID | IOPTE_CACHE | IOPTE_WRITE, 0);
  return { cpuAddr, dmaHandle: iommu.pageTableMapBase + entry * IO_PAGE_SIZE };
}

/** `dma_4u_free_coherent`: frees the arena range and the pages (the IOPTEs are left as they are). */
export function dma4uFreeCoherent(dev: Device, size: number, cpuAddr: number, dvma: number, _attrs: number): void {
  const { mm } = dev.machine;
  iommuOf(dev).rangeFree(dvma, alignUp(size, IO_PAGE_SIZE) / IO_PAGE_SIZE);
  const order = getOrder(size, mm.pageSize);
  if (order < 10) mm.freePages(mm.virtToPfn(cpuAddr), order);
}

/** The IOPTE flags of a streaming mapping in direction `dir` (`IOPTE_STREAMING(ctx)` [| `IOPTE_WRITE`]). */
function streamingProt(iommu: Sun4uIommu, dir: DmaDataDirection): number {
  const base = iommu.strbuf.enabled ? IOPTE_VALID | IOPTE_CACHE | IOPTE_STBUF : IOPTE_VALID | IOPTE_CACHE;
  return dir !== DMA_TO_DEVICE ? base | IOPTE_WRITE : base;
}

/** `dma_4u_map_page`: TSB entries, a context, streaming IOPTEs; the offset in the IO page kept. */
export function dma4uMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const iommu = iommuOf(dev);
  const oaddr = pfn * dev.machine.pageSize + offset;
  const npages = (alignUp(oaddr + size, IO_PAGE_SIZE) - alignDown(oaddr, IO_PAGE_SIZE)) / IO_PAGE_SIZE;
  const entry = iommu.rangeAlloc(dev, npages);
  const ctx = iommu.ctxflush ? iommu.allocCtx() : 0;
  if (entry < 0) {
    iommu.freeCtx(ctx);
    warnMapFailed(dev, 'dma_4u_map_page');
    return DMA_MAPPING_ERROR;
  }
  iommu.setPtes(entry, npages, alignDown(oaddr, IO_PAGE_SIZE), streamingProt(iommu, dir), ctx);
  return iommu.pageTableMapBase + entry * IO_PAGE_SIZE + addrMod(oaddr, IO_PAGE_SIZE);
}

/**
 * `dma_4u_unmap_page`: "Step 1: Kick data out of streaming buffers if necessary. Step 2: Clear
 * out TSB entries." — pointed at the dummy page — then the range and the context are freed.
 */
export function dma4uUnmapPage(dev: Device, busAddr: number, size: number, dir: DmaDataDirection, _attrs: number): void {
  const iommu = iommuOf(dev);
  const npages = (alignUp(busAddr + size, IO_PAGE_SIZE) - alignDown(busAddr, IO_PAGE_SIZE)) / IO_PAGE_SIZE;
  const entry = iommu.entryOf(busAddr);
  const vaddr = alignDown(busAddr, IO_PAGE_SIZE);
  const ctx = iommu.ctxflush ? (iommu.pteCtx[entry] as number) : 0;
  if (iommu.strbuf.enabled) iommu.strbufFlush(vaddr, ctx, npages, dir);
  iommu.makeDummy(entry, npages);
  iommu.rangeFree(vaddr, npages);
  iommu.freeCtx(ctx);
}

/**
 * `dma_4u_map_sg`: each entry its own TSB range (continuing from the last, `handle`), one context
 * for the list; entries whose DVMA follows the previous one merge into one segment unless the
 * max segment size or the segment boundary forbids. An entry after the last segment gets
 * `DMA_ERROR_CODE` and length 0. 0 on failure, everything undone.
 */
export function dma4uMapSg(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection, _attrs: number): number {
  const iommu = iommuOf(dev);
  if (nelems === 0) return 0;
  const pageSize = dev.machine.pageSize;
  const ctx = iommu.ctxflush ? iommu.allocCtx() : 0;
  const prot = streamingProt(iommu, dir);
  const maxSegSize = dev.dmaParms.maxSegmentSize;
  const segBoundarySize = dmaGetSegBoundaryNrPages(dev, IO_PAGE_SIZE);
  const baseShift = iommu.pageTableMapBase / IO_PAGE_SIZE;
  const handle = { value: 0 };
  let outIndex = 0;
  let outs = sgl[0] as Scatterlist;
  let segstart = 0;
  let outcount = 1;
  let dmaNext = 0;
  let outEntry = 0;
  outs.dmaLength = 0;
  for (let i = 0; i < nelems; i++) {
    const s = sgl[i] as Scatterlist;
    const slen = s.length;
    if (slen === 0) {
      dmaNext = 0;
      continue;
    }
    const paddr = s.pfn * pageSize + s.offset;
    const npages = iommuNumPages(paddr, slen, IO_PAGE_SIZE);
    const entry = iommu.rangeAlloc(dev, npages, handle);
    if (entry < 0) {
      dev.machine.printk('info', null, `iommu_alloc failed, iommu ${SUN4U_PBM_NAME} paddr ${paddr.toString(16)} npages ${npages.toString(16)}`);
      unwindSg(iommu, sgl, nelems, outIndex);
      iommu.freeCtx(ctx);
      return 0;
    }
    const dmaAddr = iommu.pageTableMapBase + entry * IO_PAGE_SIZE + addrMod(paddr, IO_PAGE_SIZE);
    iommu.setPtes(entry, npages, alignDown(paddr, IO_PAGE_SIZE), prot, ctx);
    if (segstart !== i) {
      // is_span_boundary: would the merged segment cross the device's boundary? (The kernel
      // resets out_entry every iteration; the segment's own first entry is meant.)
      const nr = iommuNumPages(outs.pfn * pageSize + outs.offset, outs.dmaLength + slen, IO_PAGE_SIZE);
      if (dmaAddr !== dmaNext || outs.dmaLength + slen > maxSegSize || iommuIsSpanBoundary(outEntry, nr, baseShift, segBoundarySize)) {
        segstart = i;
        outcount++;
        outIndex++;
        outs = sgl[outIndex] as Scatterlist;
      } else {
        outs.dmaLength += slen;
      }
    }
    if (segstart === i) {
      outs.dmaAddress = dmaAddr;
      outs.dmaLength = slen;
      outEntry = entry;
    }
    dmaNext = dmaAddr + slen;
  }
  if (outcount < nelems) {
    const after = sgl[outIndex + 1] as Scatterlist;
    after.dmaAddress = DMA_MAPPING_ERROR;
    after.dmaLength = 0;
  }
  return outcount;
}

/** `iommu_map_failed`: frees what the segments so far hold and points their IOPTEs at the dummy page. */
function unwindSg(iommu: Sun4uIommu, sgl: Scatterlist[], nelems: number, lastOut: number): void {
  for (let i = 0; i < nelems && i <= lastOut; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength !== 0) {
      const vaddr = alignDown(s.dmaAddress, IO_PAGE_SIZE);
      const npages = iommuNumPages(s.dmaAddress, s.dmaLength, IO_PAGE_SIZE);
      iommu.rangeFree(vaddr, npages);
      iommu.makeDummy(iommu.entryOf(vaddr), npages);
      s.dmaAddress = DMA_MAPPING_ERROR;
      s.dmaLength = 0;
    }
  }
}

/** `dma_4u_unmap_sg`: each segment flushed, dummied and freed; then the list's context. */
export function dma4uUnmapSg(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection, _attrs: number): void {
  const iommu = iommuOf(dev);
  const first = sgl[0] as Scatterlist;
  const ctx = iommu.ctxflush ? (iommu.pteCtx[iommu.entryOf(first.dmaAddress)] as number) : 0;
  for (let i = 0; i < nelems; i++) {
    const sg = sgl[i] as Scatterlist;
    if (sg.dmaLength === 0) break;
    const npages = iommuNumPages(sg.dmaAddress, sg.dmaLength, IO_PAGE_SIZE);
    const vaddr = alignDown(sg.dmaAddress, IO_PAGE_SIZE);
    iommu.rangeFree(vaddr, npages);
    if (iommu.strbuf.enabled) iommu.strbufFlush(vaddr, ctx, npages, dir);
    iommu.makeDummy(iommu.entryOf(vaddr), npages);
  }
  iommu.freeCtx(ctx);
}

/** `dma_4u_sync_single_for_cpu`: a streaming-buffer flush of the mapping's pages. */
export function dma4uSyncSingleForCpu(dev: Device, busAddr: number, size: number, dir: DmaDataDirection): void {
  const iommu = iommuOf(dev);
  if (!iommu.strbuf.enabled) return;
  const npages = (alignUp(busAddr + size, IO_PAGE_SIZE) - alignDown(busAddr, IO_PAGE_SIZE)) / IO_PAGE_SIZE;
  const vaddr = alignDown(busAddr, IO_PAGE_SIZE);
  const ctx = iommu.ctxflush && iommu.strbuf.ctxflush ? (iommu.pteCtx[iommu.entryOf(vaddr)] as number) : 0;
  iommu.strbufFlush(vaddr, ctx, npages, dir);
}

/** `dma_4u_sync_sg_for_cpu`: one flush from the first segment's page to the last segment's end. */
export function dma4uSyncSgForCpu(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection): void {
  const iommu = iommuOf(dev);
  if (!iommu.strbuf.enabled) return;
  const first = sgl[0] as Scatterlist;
  const ctx = iommu.ctxflush && iommu.strbuf.ctxflush ? (iommu.pteCtx[iommu.entryOf(first.dmaAddress)] as number) : 0;
  const busAddr = alignDown(first.dmaAddress, IO_PAGE_SIZE);
  let last = first;
  for (let i = 0; i < nelems; i++) {
    const sg = sgl[i] as Scatterlist;
    if (sg.dmaLength === 0) break;
    last = sg;
  }
  const npages = (alignUp(last.dmaAddress + last.dmaLength, IO_PAGE_SIZE) - busAddr) / IO_PAGE_SIZE;
  iommu.strbufFlush(busAddr, ctx, npages, dir);
}

/** `dma_4u_supported`: the mask must cover the DVMA window (`dma_addr_mask`). */
export function dma4uSupported(dev: Device, mask: number): boolean {
  return mask >= iommuOf(dev).dmaAddrMask;
}

/** `sun4u_dma_ops`. No sync for the device: nothing stands between a CPU write and the device. */
export const sun4uDmaOps: DmaMapOps = Object.freeze({
  name: 'sun4u_dma_ops',
  alloc: dma4uAllocCoherent,
  free: dma4uFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: dma4uMapPage,
  unmapPage: dma4uUnmapPage,
  mapSg: dma4uMapSg,
  unmapSg: dma4uUnmapSg,
  syncSingleForCpu: dma4uSyncSingleForCpu,
  syncSgForCpu: dma4uSyncSgForCpu,
  dmaSupported: dma4uSupported,
});
