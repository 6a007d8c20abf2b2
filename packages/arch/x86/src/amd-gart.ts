import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { DMA_MAPPING_ERROR, type Device } from '@kdma/dma-mapping';
import {
  dmaCapable,
  dmaDirectAlloc,
  dmaDirectFree,
  dmaDirectGetRequiredMask,
  dmaDirectSupported,
  type DmaMapOps,
  type IommuStats,
  type Machine,
  type MachineIommu,
} from '@kdma/dma-mapping/ops';
import { addrAnd, addrMod, alignUp, type DmaFault, type DmaFaultKind, type DmaTranslation, getOrder, hex, lower32Bits, type MemoryRegion, pow2, type TranslationRun, upper32Bits } from '@kdma/hw';
import { bitmapClear, bitmapSet, dmaGetSegBoundaryNrPages, iommuAreaAlloc, iommuNumPages } from '@kdma/iommu';
import { GFP_DMA, GFP_KERNEL } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { allocCoherentPages, dmaAllocCoherentGfpFlags, dmaCommonAllocPages, dmaCommonFreePages, freeCoherentPages, panic, x86CommonGetSgtable, x86CommonMmap } from './dma-generic.js';
import { TranslationCache } from './translation-cache.js';

/*
 * arch/x86/kernel/amd_gart_64.c as the machine option `iommu: 'gart'`: the AGP GART of the AMD
 * Hammer northbridge used as an IOMMU, so that 32-bit PCI devices can reach RAM above 4 GiB. A
 * device access inside the aperture goes through the flat GATT (one u32 PTE per 4 KiB page, read
 * from memory and cached in the GART-TLB); an access outside it goes straight to memory. The ops
 * map a buffer through the aperture only when the device cannot reach it (`need_iommu`), or
 * always with `forceIommu` (`iommu=force`).
 */

const PAGE_SIZE = 4096;
const TWO_32 = 2 ** 32;
const MIB = 2 ** 20;

/** `GPTE_VALID`, `GPTE_COHERENT`: the low bits of a GATT entry. */
export const GPTE_VALID = 1;
export const GPTE_COHERENT = 2;
/** `EMERGENCY_PAGES`: 128 KiB at the aperture's start never handed out; `bad_dma_addr` is the first. */
export const EMERGENCY_PAGES = 32;
/** `GART_MAX_PHYS_ADDR`: the GART reaches physical addresses below 1 TiB. */
export const GART_MAX_PHYS_ADDR = 2 ** 40;

/** `GPTE_ENCODE`: address bits 12–31 in place, bits 32–39 in bits 4–11, valid and coherent. */
export function gpteEncode(paddr: number): number {
  const low = lower32Bits(paddr);
  return low - (low % PAGE_SIZE) + (upper32Bits(paddr) % 256) * 16 + GPTE_VALID + GPTE_COHERENT;
}

/** `GPTE_DECODE`: the physical page of a GATT entry. */
export function gpteDecode(pte: number): number {
  return pte - (pte % PAGE_SIZE) + (Math.floor(pte / 16) % 256) * TWO_32;
}

/** The GART's state (the statics of amd_gart_64.c), one per machine. */
export class AmdGart implements MachineIommu {
  readonly name = 'gart';
  /** The aperture: RAM the kernel took at boot, now an address window translated by the GATT. */
  readonly apertureBase: number;
  readonly apertureSize: number;
  /** `iommu_bus_base`, `iommu_size`, `iommu_pages`: the part the IOMMU uses (all of it without AGP). */
  readonly busBase: number;
  readonly iommuSize: number;
  readonly iommuPages: number;
  /** `agp_gatt_table`: the pages of the GATT, its physical and kernel addresses. */
  readonly gattPfn: number;
  readonly gattOrder: number;
  readonly gattPhys: number;
  readonly gattKva: number;
  /** `bad_dma_addr`: what a mapping returns when the aperture is full (the first emergency page). */
  readonly badDmaAddr: number;
  /** `gart_unmapped_entry`: a zeroed scratch page every unused entry points at. */
  readonly scratchPfn: number;
  readonly unmappedEntry: number;
  /** `iommu_gart_bitmap`. */
  readonly bitmap: Uint8Array;
  /** `next_bit`: where the next search starts, so freed entries wait for a wrap (and a flush). */
  nextBit = 0;
  /** `need_flush`: set on a wrap (and, with `iommu_fullflush`, on every allocation). */
  needFlush = false;
  /** `iommu_fullflush` (`gartFullflush`). */
  readonly fullflush: boolean;
  /** `force_iommu` (`forceIommu`). */
  readonly forceIommu: boolean;
  /** `iommu_merge`: `iommu=force` turns it on, so sg lists merge into one aperture range. */
  readonly iommuMerge: boolean;
  /** The GART-TLB. */
  readonly tlb: TranslationCache;
  /** Aperture pages mapped now. */
  mappedPages = 0;
  faults = 0;
  /** The hook every device's bus master gets. */
  readonly translation: DmaTranslation;
  private pteBuffer = new Uint8Array(256);
  private pteView = new DataView(this.pteBuffer.buffer);
  private readonly one = new Uint8Array(4);
  private readonly oneView = new DataView(this.one.buffer);

  constructor(
    readonly machine: Machine,
    aperture: MemoryRegion,
    options: { readonly forceIommu: boolean; readonly fullflush: boolean },
  ) {
    const { mm } = machine;
    const info = (message: string): void => machine.printk('info', null, message);
    this.apertureBase = aperture.base;
    this.apertureSize = aperture.size;
    this.forceIommu = options.forceIommu;
    this.fullflush = options.fullflush;
    this.iommuMerge = options.forceIommu;

    // init_amd_gatt: no AGP driver, so the kernel builds the GATT itself, uncached.
    info('PCI-DMA: Disabling AGP.');
    const gattSize = (aperture.size / PAGE_SIZE) * 4;
    this.gattOrder = getOrder(gattSize, PAGE_SIZE);
    const gattPfn = mm.allocPages(this.gattOrder, GFP_KERNEL);
    if (gattPfn === null) panic(machine, 'Cannot allocate GATT table');
    this.gattPfn = gattPfn;
    this.gattPhys = gattPfn * PAGE_SIZE;
    this.gattKva = mm.pageAddress(gattPfn);
    machine.cpu.fill(this.gattKva, PAGE_SIZE * pow2(this.gattOrder), 0);
    info(`PCI-DMA: aperture base @ ${aperture.base.toString(16)} size ${aperture.size / 1024} KB`);

    // gart_iommu_init: without AGP the IOMMU has the whole aperture (check_iommu_size).
    info('PCI-DMA: using GART IOMMU.');
    this.iommuSize = aperture.size;
    if (this.iommuSize < 64 * MIB) {
      machine.printk('warn', null, `PCI-DMA: Warning: Small IOMMU ${this.iommuSize / MIB}MB. Consider increasing the AGP aperture in BIOS`);
    }
    this.iommuPages = this.iommuSize / PAGE_SIZE;
    this.bitmap = new Uint8Array(this.iommuPages);
    bitmapSet(this.bitmap, 0, EMERGENCY_PAGES);
    info(`PCI-DMA: Reserving ${this.iommuSize / MIB}MB of IOMMU area in the AGP aperture`);
    this.busBase = aperture.base;
    this.badDmaAddr = this.busBase;
    this.tlb = new TranslationCache(this.iommuPages);

    const scratch = mm.allocPages(0, GFP_KERNEL);
    if (scratch === null) panic(machine, 'Cannot allocate iommu scratch page');
    machine.cpu.fill(mm.pageAddress(scratch), PAGE_SIZE, 0);
    this.scratchPfn = scratch;
    this.unmappedEntry = gpteEncode(scratch * PAGE_SIZE);
    const table = new Uint8Array(this.iommuPages * 4);
    const view = new DataView(table.buffer);
    for (let i = EMERGENCY_PAGES; i < this.iommuPages; i++) view.setUint32(i * 4, this.unmappedEntry, true);
    machine.cpu.write(this.gattKva, table);
    this.needFlush = true;
    this.flushGart();

    this.translation = {
      translate: (busAddr, length, write, out) => this.translate(busAddr, length, write, out),
      onFault: (fault: DmaFault) => {
        if (fault.kind === 'translation') this.faults++;
      },
    };
  }

  /** Whether `busAddr` lies in the part of the aperture the IOMMU hands out. */
  inIommuArea(busAddr: number): boolean {
    return busAddr >= this.busBase && busAddr < this.busBase + this.iommuSize;
  }

  /** `need_iommu`: forced, or the device cannot reach the buffer. */
  needIommu(dev: Device, addr: number, size: number): boolean {
    return this.forceIommu || !dmaCapable(dev, addr, size);
  }

  /**
   * Whether the device reaches the whole aperture with `mask`. The kernel handed a device with a
   * mask below the aperture an address it could not reach; kdma refuses the mapping instead.
   */
  reaches(dev: Device, mask: number): boolean {
    return this.busBase + this.iommuSize - 1 <= mask;
  }

  /** `alloc_iommu`: `size` entries from `next_bit` (wrapping, and flagging a flush, when needed). */
  allocIommu(dev: Device, size: number, alignMask: number): number {
    const boundary = dev.dmaParms.segmentBoundaryMask;
    const baseIndex = alignUp(addrAnd(this.busBase, boundary), PAGE_SIZE) / PAGE_SIZE;
    const boundarySize = dmaGetSegBoundaryNrPages(dev, PAGE_SIZE);
    let offset = iommuAreaAlloc(this.bitmap, this.iommuPages, this.nextBit, size, baseIndex, boundarySize, alignMask);
    if (offset === -1) {
      this.needFlush = true;
      offset = iommuAreaAlloc(this.bitmap, this.iommuPages, 0, size, baseIndex, boundarySize, alignMask);
    }
    if (offset !== -1) {
      this.nextBit = offset + size;
      if (this.nextBit >= this.iommuPages) {
        this.nextBit = 0;
        this.needFlush = true;
      }
    }
    if (this.fullflush) this.needFlush = true;
    return offset;
  }

  /** `free_iommu`. */
  freeIommu(offset: number, size: number): void {
    bitmapClear(this.bitmap, offset, size);
    if (offset >= this.nextBit) this.nextBit = offset + size;
  }

  /** `flush_gart`: `amd_flush_garts` when a flush is due. */
  flushGart(): void {
    if (!this.needFlush) return;
    this.tlb.flush();
    this.needFlush = false;
  }

  /** Writes `GPTE_ENCODE` of `npages` pages from `paddr` at `index`, through the uncached GATT mapping. */
  setEntries(index: number, paddr: number, npages: number): void {
    const bytes = this.scratch(npages);
    for (let i = 0; i < npages; i++) this.pteView.setUint32(i * 4, gpteEncode(paddr + i * PAGE_SIZE), true);
    this.machine.cpu.write(this.gattKva + index * 4, bytes);
    this.mappedPages += npages;
  }

  /** Points `npages` entries at the scratch page again. */
  clearEntries(index: number, npages: number): void {
    const bytes = this.scratch(npages);
    for (let i = 0; i < npages; i++) this.pteView.setUint32(i * 4, this.unmappedEntry, true);
    this.machine.cpu.write(this.gattKva + index * 4, bytes);
    this.mappedPages -= npages;
  }

  /** The GATT entry at `index`, as the northbridge fetches it from memory. */
  readEntry(index: number): number {
    this.machine.hw.ram.readInto(this.gattPhys + index * 4, this.one);
    return this.oneView.getUint32(0, true);
  }

  /** `iommu_full`: no aperture left; beyond the emergency pages the kernel gives up. */
  iommuFull(dev: Device, size: number, dir: DmaDataDirection): void {
    this.machine.printk('err', dev, `PCI-DMA: Out of IOMMU space for ${size} bytes`);
    if (size > PAGE_SIZE * EMERGENCY_PAGES) {
      if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) panic(this.machine, 'PCI-DMA: Memory would be corrupted');
      if (dir === DMA_TO_DEVICE) panic(this.machine, 'PCI-DMA: Random memory would be DMAed');
    }
  }

  /**
   * `dma_map_area`: maps `size` bytes at `physMem` into the aperture; the bus address, the
   * physical address itself when the aperture is full but the device reaches it, or `bad_dma_addr`.
   */
  dmaMapArea(dev: Device, physMem: number, size: number, dir: DmaDataDirection, alignMask: number): number {
    const npages = iommuNumPages(physMem, size, PAGE_SIZE);
    if (physMem + size > GART_MAX_PHYS_ADDR) return this.badDmaAddr;
    const iommuPage = this.allocIommu(dev, npages, alignMask);
    if (iommuPage === -1) {
      if (dmaCapable(dev, physMem, size)) return physMem;
      this.iommuFull(dev, size, dir);
      return this.badDmaAddr;
    }
    this.setEntries(iommuPage, physMem, npages);
    return this.busBase + iommuPage * PAGE_SIZE + addrMod(physMem, PAGE_SIZE);
  }

  /** The northbridge's view of a device access: the GATT inside the aperture, memory outside. */
  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): DmaFaultKind | null {
    const base = this.apertureBase;
    if (busAddr < base || busAddr >= base + this.apertureSize) {
      out.paddr = busAddr;
      out.length = busAddr < base ? Math.min(length, base - busAddr) : length;
      return null;
    }
    const offset = busAddr - base;
    const index = Math.floor(offset / PAGE_SIZE);
    let page = this.tlb.lookup(index);
    if (page < 0) {
      const pte = this.readEntry(index);
      if (pte % 2 === 0) return 'translation';
      page = gpteDecode(pte);
      this.tlb.fill(index, page);
    }
    const inPage = addrMod(offset, PAGE_SIZE);
    out.paddr = page + inPage;
    out.length = Math.min(length, PAGE_SIZE - inPage);
    return null;
  }

  /** `machine.iommu.stats()`. */
  stats(): IommuStats {
    return {
      iotlbHits: this.tlb.hits,
      iotlbMisses: this.tlb.misses,
      faults: this.faults,
      mappedBytes: this.mappedPages * PAGE_SIZE,
      flushes: this.tlb.flushes,
      pendingFlushes: this.needFlush ? 1 : 0,
    };
  }

  private scratch(npages: number): Uint8Array {
    if (this.pteBuffer.length < npages * 4) {
      this.pteBuffer = new Uint8Array(Math.max(npages * 4, this.pteBuffer.length * 2));
      this.pteView = new DataView(this.pteBuffer.buffer);
    }
    return this.pteBuffer.subarray(0, npages * 4);
  }
}

/** The GART of the device's machine (set as its arch data when it was created). */
export function gartOf(dev: Device): AmdGart {
  const gart = dev.archData;
  if (!(gart instanceof AmdGart)) throw new Error(`${dev.name} is not on a GART machine`);
  return gart;
}

function refuseUnreachable(dev: Device, gart: AmdGart): void {
  dev.machine.warnOnce(
    dev,
    'gart-aperture-reach',
    `PCI-DMA: GART aperture ${hex(gart.busBase)}-${hex(gart.busBase + gart.iommuSize - 1)} is beyond the DMA mask ${hex(dev.dmaMask)}`,
  );
}

/** `gart_map_page`. */
export function gartMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const gart = gartOf(dev);
  const paddr = pfn * PAGE_SIZE + offset;
  if (!gart.needIommu(dev, paddr, size)) return paddr;
  if (!gart.reaches(dev, dev.dmaMask)) {
    refuseUnreachable(dev, gart);
    return DMA_MAPPING_ERROR;
  }
  const bus = gart.dmaMapArea(dev, paddr, size, dir, 0);
  gart.flushGart();
  return bus;
}

/** `gart_unmap_page`: addresses outside the IOMMU area (bypass, emergency pages) need nothing. */
export function gartUnmapPage(dev: Device, addr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  const gart = gartOf(dev);
  if (addr < gart.busBase + EMERGENCY_PAGES * PAGE_SIZE || addr >= gart.busBase + gart.iommuSize) return;
  const iommuPage = Math.floor((addr - gart.busBase) / PAGE_SIZE);
  const npages = iommuNumPages(addr, size, PAGE_SIZE);
  gart.clearEntries(iommuPage, npages);
  gart.freeIommu(iommuPage, npages);
}

/** `gart_unmap_sg`: up to the first entry without a DMA length (the end of the mapped list). */
export function gartUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, _attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength === 0 || s.length === 0) break;
    gartUnmapPage(dev, s.dmaAddress, s.dmaLength, dir, 0);
  }
}

/** `dma_map_sg_nonforce`: the fallback after an overflow, one aperture range per entry that needs it. */
function dmaMapSgNonforce(dev: Device, gart: AmdGart, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): number {
  let mapped = nents;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    let addr = s.pfn * PAGE_SIZE + s.offset;
    if (!dmaCapable(dev, addr, s.length)) {
      addr = gart.dmaMapArea(dev, addr, s.length, dir, 0);
      if (addr === gart.badDmaAddr) {
        if (i > 0) gartUnmapSg(dev, sgl, i, dir, 0);
        mapped = 0;
        (sgl[0] as Scatterlist).dmaLength = 0;
        break;
      }
    }
    s.dmaAddress = addr;
    s.dmaLength = s.length;
  }
  gart.flushGart();
  return mapped;
}

/**
 * `__dma_map_cont`: entries `[start, start + nelems)` (their physical addresses parked in
 * `dmaAddress`) into one aperture range, written to output entry `out`.
 */
function dmaMapCont(gart: AmdGart, dev: Device, sgl: Scatterlist[], start: number, nelems: number, out: number, pages: number, need: boolean): number {
  const sout = sgl[out] as Scatterlist;
  if (!need) {
    const only = sgl[start] as Scatterlist;
    sout.dmaAddress = only.dmaAddress;
    sout.dmaLength = only.length;
    return 0;
  }
  const iommuStart = gart.allocIommu(dev, pages, 0);
  if (iommuStart === -1) return -1;
  let iommuPage = iommuStart;
  for (let k = 0; k < nelems; k++) {
    const s = sgl[start + k] as Scatterlist;
    const physAddr = s.dmaAddress;
    if (k === 0) {
      sout.dmaAddress = gart.busBase + iommuPage * PAGE_SIZE + s.offset;
      sout.dmaLength = s.length;
    } else {
      sout.dmaLength += s.length;
    }
    const npages = iommuNumPages(s.offset, s.length, PAGE_SIZE);
    gart.setEntries(iommuPage, physAddr - (physAddr % PAGE_SIZE), npages);
    iommuPage += npages;
  }
  return 0;
}

/**
 * `gart_map_sg`: each entry that needs the IOMMU goes into the aperture; with `iommu_merge`
 * (`forceIommu`) runs of page-aligned entries become one aperture range. The number of DMA
 * segments, or 0 (every entry's address `bad_dma_addr`) when the aperture is full.
 */
export function gartMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, _attrs: number): number {
  if (nents === 0) return 0;
  const gart = gartOf(dev);
  const maxSegSize = dev.dmaParms.maxSegmentSize;
  let out = 0;
  let start = 0;
  let segSize = 0;
  let pages = 0;
  let need = false;
  let ps = 0;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    const addr = s.pfn * PAGE_SIZE + s.offset;
    s.dmaAddress = addr;
    const nextneed = gart.needIommu(dev, addr, s.length);
    if (nextneed && !gart.reaches(dev, dev.dmaMask)) {
      refuseUnreachable(dev, gart);
      if (out > 0) gartUnmapSg(dev, sgl, out, dir, 0);
      for (let k = 0; k < nents; k++) (sgl[k] as Scatterlist).dmaAddress = DMA_MAPPING_ERROR;
      return 0;
    }
    if (i > start) {
      const p = sgl[ps] as Scatterlist;
      if (!gart.iommuMerge || !nextneed || !need || s.offset !== 0 || s.length + segSize > maxSegSize || (p.offset + p.length) % PAGE_SIZE !== 0) {
        if (dmaMapCont(gart, dev, sgl, start, i - start, out, pages, need) < 0) return gartMapSgError(dev, gart, sgl, nents, out, pages, dir);
        out++;
        segSize = 0;
        pages = 0;
        start = i;
      }
    }
    segSize += s.length;
    need = nextneed;
    pages += iommuNumPages(s.offset, s.length, PAGE_SIZE);
    ps = i;
  }
  if (dmaMapCont(gart, dev, sgl, start, nents - start, out, pages, need) < 0) return gartMapSgError(dev, gart, sgl, nents, out, pages, dir);
  out++;
  gart.flushGart();
  if (out < nents) (sgl[out] as Scatterlist).dmaLength = 0;
  return out;
}

/** The error path of `gart_map_sg`: undo, retry entry by entry when forced or merging, else give up. */
function gartMapSgError(dev: Device, gart: AmdGart, sgl: Scatterlist[], nents: number, out: number, pages: number, dir: DmaDataDirection): number {
  gart.flushGart();
  gartUnmapSg(dev, sgl, out, dir, 0);
  if (gart.forceIommu || gart.iommuMerge) {
    const mapped = dmaMapSgNonforce(dev, gart, sgl, nents, dir);
    if (mapped > 0) return mapped;
  }
  gart.iommuFull(dev, pages * PAGE_SIZE, dir);
  for (let i = 0; i < nents; i++) (sgl[i] as Scatterlist).dmaAddress = gart.badDmaAddr;
  return 0;
}

/**
 * `gart_alloc_coherent`: through the aperture only with `force_iommu` (and no GFP_DMA: a mask of
 * 24 bits or less gets ISA memory as before); otherwise `dma_generic_alloc_coherent`, which is
 * dma-direct here.
 */
export function gartAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): { cpuAddr: number; dmaHandle: number } | null {
  const gart = gartOf(dev);
  if (gart.forceIommu && (dmaAllocCoherentGfpFlags(dev) & GFP_DMA) === 0 && gart.reaches(dev, dev.coherentDmaMask)) {
    const pages = allocCoherentPages(dev, size, gfp, attrs);
    if (pages === null) return null;
    const paddr = gart.dmaMapArea(dev, pages.pfn * PAGE_SIZE, size, DMA_BIDIRECTIONAL, pow2(pages.order) - 1);
    gart.flushGart();
    if (paddr !== gart.badDmaAddr) return { cpuAddr: pages.cpuAddr, dmaHandle: paddr };
    dev.machine.mm.freePages(pages.pfn, pages.order);
    return null;
  }
  return dmaDirectAlloc(dev, size, gfp, attrs);
}

/** `gart_free_coherent`. */
export function gartFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void {
  const gart = gartOf(dev);
  if (gart.inIommuArea(dmaHandle)) {
    gartUnmapPage(dev, dmaHandle, size, DMA_BIDIRECTIONAL, 0);
    freeCoherentPages(dev, size, cpuAddr);
    return;
  }
  dmaDirectFree(dev, size, cpuAddr, dmaHandle, attrs);
}

/** `gart_mapping_error`: the 2012 GART reported failure as `bad_dma_addr`. */
export function gartMappingError(dev: Device, addr: number): boolean {
  return addr === gartOf(dev).badDmaAddr;
}

/** `gart_dma_ops`. */
export const gartDmaOps: DmaMapOps = Object.freeze({
  name: 'gart_dma_ops',
  alloc: gartAllocCoherent,
  free: gartFreeCoherent,
  mmap: x86CommonMmap,
  getSgtable: x86CommonGetSgtable,
  allocPages: dmaCommonAllocPages,
  freePages: dmaCommonFreePages,
  mapPage: gartMapPage,
  unmapPage: gartUnmapPage,
  mapSg: gartMapSg,
  unmapSg: gartUnmapSg,
  mappingError: gartMappingError,
  dmaSupported: dmaDirectSupported,
  getRequiredMask: dmaDirectGetRequiredMask,
});
