import { DMA_BIDIRECTIONAL, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '@kdma/dma-mapping';
import { dmaDirectGetRequiredMask, dmaDirectSupported, type DmaMapOps, type IommuStats, type Machine, type MachineIommu } from '@kdma/dma-mapping/ops';
import { addrMod, alignUp, type DmaFault, type DmaFaultKind, type DmaTranslation, type MemoryRegion, type TranslationRun } from '@kdma/hw';
import { bitmapClear, bitmapSet, dmaGetSegBoundaryNrPages, iommuAreaAlloc, iommuNumPages } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { PCI_HOLE_END, PCI_HOLE_START } from './arch.js';
import { allocCoherentPages, dmaCommonAllocPages, dmaCommonFreePages, freeCoherentPages, x86CommonGetSgtable, x86CommonMmap } from './dma-generic.js';
import { TceTable, tceAllows, tceRpnAddress } from './tce.js';
import { TranslationCache } from './translation-cache.js';

/*
 * arch/x86/kernel/pci-calgary_64.c as the machine option `iommu: 'calgary'`: IBM's Calgary PCI
 * host bridges (xSeries x366, x460), each PHB translating its bus's DMA through a TCE table of
 * its own. Devices behind a translating PHB get `calgary_dma_ops` (per device, set in
 * `calgary_init`); the rest keep the machine's ops. A DMA through an empty or read-only TCE is
 * stopped, logged in the PHB's CSR, and two seconds later the watchdog reports it and disables
 * the bus's slots ("errant DMAs will now be prevented on this bus").
 */

const PAGE_SIZE = 4096;

/** `DMA_ERROR_CODE`: x86's was 0 in 2012, so the first 32 TCEs are never handed out. */
export const CALGARY_DMA_ERROR_CODE = 0;
/** `EMERGENCY_PAGES`. */
export const CALGARY_EMERGENCY_PAGES = 32;
/** `PCI_DEVICE_ID_IBM_CALGARY`. */
export const PCI_DEVICE_ID_IBM_CALGARY = 0x02a1;
/** The watchdog's period (`2 * HZ`). */
const WATCHDOG_NS = 2e9;

/**
 * One Calgary PHB with translation on: its `struct iommu_table` (`it_map`, `it_hint`, the TCE
 * table) and the translation hook of the devices behind it.
 */
export class CalgaryPhb {
  /** `tbl->it_map`. */
  readonly itMap: Uint8Array;
  /** `tbl->it_hint`. */
  itHint = 0;
  /** The PHB's TCE cache (blasted when the allocator wraps). */
  readonly cache: TranslationCache;
  /** The PHB's CSR holds an error since the last watchdog run. */
  errorPending = false;
  /** `PHB_SLOT_DISABLE`: the watchdog saw an error; the bus's devices reach nothing now. */
  slotsDisabled = false;
  /** When translation was enabled: the watchdog runs then and every two seconds after. */
  private watchdogStart = 0;
  private watchdogArmed = false;
  /** Pages mapped now. */
  mappedPages = 0;
  faults = 0;
  readonly translation: DmaTranslation;

  constructor(
    readonly machine: Machine,
    /** `tbl->it_busno`. */
    readonly busno: number,
    readonly table: TceTable,
  ) {
    this.itMap = new Uint8Array(table.entries);
    this.cache = new TranslationCache(table.entries);
    this.translation = {
      translate: (busAddr, length, write, out) => this.translate(busAddr, length, write, out),
      onFault: (fault: DmaFault) => {
        if (fault.kind === 'translation' || fault.kind === 'permission') this.faults++;
      },
    };
  }

  /** `tbl->it_size`. */
  get itSize(): number {
    return this.table.entries;
  }

  /** `iommu_range_reserve`: entries for `[start, start + npages pages)` (clipped to the table) are never used. */
  rangeReserve(start: number, npages: number): void {
    const index = Math.floor(start / PAGE_SIZE);
    if (index >= this.itSize) return;
    bitmapSet(this.itMap, index, Math.min(npages, this.itSize - index));
  }

  /** `calgary_tce_cache_blast`: quiesce the bus and invalidate the TCE cache. */
  tceCacheBlast(): void {
    this.cache.flush();
  }

  /** `iommu_range_alloc`: from `it_hint`, blasting the cache and retrying from 0 when that fails; -1 when full. */
  rangeAlloc(dev: Device, npages: number): number {
    const boundarySize = dmaGetSegBoundaryNrPages(dev, PAGE_SIZE);
    let offset = iommuAreaAlloc(this.itMap, this.itSize, this.itHint, npages, 0, boundarySize, 0);
    if (offset === -1) {
      this.tceCacheBlast();
      offset = iommuAreaAlloc(this.itMap, this.itSize, 0, npages, 0, boundarySize, 0);
      if (offset === -1) {
        this.machine.printk('warn', null, 'Calgary: IOMMU full.');
        return -1;
      }
    }
    this.itHint = offset + npages;
    return offset;
  }

  /** `iommu_alloc`: entries for `npages` pages from `paddr`; the bus address or `DMA_ERROR_CODE`. */
  iommuAlloc(dev: Device, paddr: number, npages: number, dir: DmaDataDirection): number {
    const entry = this.rangeAlloc(dev, npages);
    if (entry === -1) {
      this.machine.printk('warn', null, `Calgary: failed to allocate ${npages} pages in iommu ${this.table.phys.toString(16)}`);
      return CALGARY_DMA_ERROR_CODE;
    }
    this.table.build(entry, npages, paddr - addrMod(paddr, PAGE_SIZE), dir);
    this.mappedPages += npages;
    return entry * PAGE_SIZE + addrMod(paddr, PAGE_SIZE);
  }

  /** `iommu_free`: a driver unmapping `DMA_ERROR_CODE` gets a WARN and nothing changes. */
  iommuFree(dev: Device, dmaAddr: number, npages: number): void {
    const badEnd = CALGARY_DMA_ERROR_CODE + CALGARY_EMERGENCY_PAGES * PAGE_SIZE;
    if (dmaAddr >= CALGARY_DMA_ERROR_CODE && dmaAddr < badEnd) {
      this.machine.warnOnce(dev, 'calgary-bad-unmap', `Calgary: driver tried unmapping bad DMA address 0x${dmaAddr.toString(16)}`);
      return;
    }
    const entry = Math.floor(dmaAddr / PAGE_SIZE);
    if (entry + npages > this.itSize) throw new RangeError(`Calgary: unmapping 0x${dmaAddr.toString(16)} (+${npages} pages) beyond the TCE table of PHB ${this.busno}`);
    this.table.free(entry, npages);
    bitmapClear(this.itMap, entry, npages);
    this.mappedPages -= npages;
  }

  /** The PHB's view of a device access: the TCE (from its cache or from memory) gives the page. */
  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    if (this.slotsDisabled) return 'bus';
    const index = Math.floor(busAddr / PAGE_SIZE);
    if (index >= this.itSize) {
      this.phbError();
      return 'translation';
    }
    let tce = this.cache.lookup(index);
    if (tce < 0) {
      tce = this.table.read(index);
      if (tce !== 0) this.cache.fill(index, tce);
    }
    if (!tceAllows(tce, write)) {
      this.phbError();
      return tce === 0 ? 'translation' : 'permission';
    }
    const inPage = addrMod(busAddr, PAGE_SIZE);
    out.paddr = tceRpnAddress(tce) + inPage;
    out.length = Math.min(length, PAGE_SIZE - inPage);
    return null;
  }

  /** `calgary_enable_translation`: the watchdog's first run is now (`mod_timer(…, jiffies)`). */
  enableTranslation(): void {
    this.watchdogStart = this.machine.clock.now();
  }

  /**
   * The PHB stops an errant DMA and flags it in its CSR. `calgary_watchdog` polls the CSR every
   * two seconds; rather than a timer that never stops, kdma arms one for the watchdog's next run
   * once there is something for it to find.
   */
  private phbError(): void {
    this.errorPending = true;
    if (this.watchdogArmed) return;
    this.watchdogArmed = true;
    const clock = this.machine.clock;
    const runs = Math.floor((clock.now() - this.watchdogStart) / WATCHDOG_NS) + 1;
    clock.setTimer(this.watchdogStart + runs * WATCHDOG_NS - clock.now(), () => this.watchdog());
  }

  /**
   * `calgary_watchdog` finding an error: dump the error registers (modelled CSR value: an agent
   * error bit) and disable the bus's slots.
   */
  private watchdog(): void {
    this.watchdogArmed = false;
    if (!this.errorPending || this.slotsDisabled) return;
    this.machine.printk('err', null, `Calgary: DMA error on Calgary PHB 0x${this.busno.toString(16)}, 0x00000001@CSR 0x00000000@PLSSR`);
    this.slotsDisabled = true;
  }
}

/** The Calgary chips of a machine: its PHBs and the devices' places on them. */
export class Calgary implements MachineIommu {
  readonly name = 'calgary';
  /** Devices put behind a PHB so far (they go to the PHBs in turn). */
  private placed = 0;

  constructor(
    readonly machine: Machine,
    readonly phbs: readonly CalgaryPhb[],
    /** The TCE table size code (`specified_table_size`). */
    readonly tableSize: number,
  ) {}

  /** The PHB the next device sits behind. */
  nextPhb(): CalgaryPhb {
    const phb = this.phbs[this.placed % this.phbs.length] as CalgaryPhb;
    this.placed++;
    return phb;
  }

  /** `machine.iommu.stats()`: the PHBs' TCE caches and faults together. */
  stats(): IommuStats {
    let hits = 0;
    let misses = 0;
    let flushes = 0;
    let faults = 0;
    let mapped = 0;
    for (const phb of this.phbs) {
      hits += phb.cache.hits;
      misses += phb.cache.misses;
      flushes += phb.cache.flushes;
      faults += phb.faults;
      mapped += phb.mappedPages;
    }
    return { iotlbHits: hits, iotlbMisses: misses, faults, mappedBytes: mapped * PAGE_SIZE, flushes, pendingFlushes: 0 };
  }
}

/**
 * `detect_calgary` + `calgary_init`: one PHB per table in `tables` (boot memory, zero as memory is
 * at power-on, so `tce_free(tbl, 0, it_size)` has nothing to do), with its reserved entries —
 * `DMA_ERROR_CODE`'s emergency pages, the legacy 640 KiB–1 MiB window of a Calgary, and the PHB's
 * MMIO window (the PCI hole below 4 GiB) — and translation enabled.
 */
export function calgaryInit(machine: Machine, tables: readonly MemoryRegion[], tableSize: number, entries: number): Calgary {
  const { mm } = machine;
  const info = (message: string): void => machine.printk('info', null, message);
  machine.printk('debug', null, 'Calgary: detecting Calgary via BIOS EBDA area');
  machine.printk('debug', null, 'Calgary: finished detection, Calgary found');
  info('PCI-DMA: Calgary IOMMU detected.');
  info(`PCI-DMA: Calgary TCE table spec is ${tableSize}`);
  info('PCI-DMA: Using Calgary IOMMU');
  const phbs = tables.map((region, i) => {
    const busno = i + 1;
    const table = new TceTable(machine, mm.physToVirt(region.base), region.base, entries);
    const phb = new CalgaryPhb(machine, busno, table);
    // calgary_reserve_regions
    phb.rangeReserve(CALGARY_DMA_ERROR_CODE, CALGARY_EMERGENCY_PAGES);
    phb.rangeReserve(640 * 1024, ((1024 - 640) * 1024) / PAGE_SIZE);
    phb.rangeReserve(PCI_HOLE_START, (PCI_HOLE_END - PCI_HOLE_START) / PAGE_SIZE);
    info(`Calgary: enabling translation on Calgary PHB 0x${busno.toString(16)}`);
    info('Calgary: errant DMAs will now be prevented on this bus.');
    phb.enableTranslation();
    return phb;
  });
  return new Calgary(machine, phbs, tableSize);
}

/** The PHB behind which the device sits (`find_iommu_table`). */
export function findIommuTable(dev: Device): CalgaryPhb {
  const phb = dev.archData;
  if (!(phb instanceof CalgaryPhb)) throw new Error(`${dev.name} is not behind a Calgary PHB`);
  return phb;
}

/** `calgary_map_page`. */
export function calgaryMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const paddr = pfn * PAGE_SIZE + offset;
  return findIommuTable(dev).iommuAlloc(dev, paddr, iommuNumPages(paddr, size, PAGE_SIZE), dir);
}

/** `calgary_unmap_page`. */
export function calgaryUnmapPage(dev: Device, addr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  findIommuTable(dev).iommuFree(dev, addr, iommuNumPages(addr, size, PAGE_SIZE));
}

/** `calgary_unmap_sg`: up to the first entry without a DMA length. */
export function calgaryUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): void {
  const phb = findIommuTable(dev);
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength === 0) break;
    phb.iommuFree(dev, s.dmaAddress, iommuNumPages(s.dmaAddress, s.dmaLength, PAGE_SIZE));
  }
}

/** `calgary_map_sg`: one TCE range per entry; 0 (every address `DMA_ERROR_CODE`) when the table is full. */
export function calgaryMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const phb = findIommuTable(dev);
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    const paddr = s.pfn * PAGE_SIZE + s.offset;
    const npages = iommuNumPages(paddr, s.length, PAGE_SIZE);
    const entry = phb.rangeAlloc(dev, npages);
    if (entry === -1) {
      s.dmaLength = 0;
      calgaryUnmapSg(dev, sgl, nents, dir, attrs);
      for (let k = 0; k < nents; k++) {
        const e = sgl[k] as Scatterlist;
        e.dmaAddress = CALGARY_DMA_ERROR_CODE;
        e.dmaLength = 0;
      }
      return 0;
    }
    s.dmaAddress = entry * PAGE_SIZE + addrMod(paddr, PAGE_SIZE);
    phb.table.build(entry, npages, paddr - addrMod(paddr, PAGE_SIZE), dir);
    phb.mappedPages += npages;
    s.dmaLength = s.length;
  }
  return nents;
}

/** `calgary_alloc_coherent`: pages from any zone, mapped bidirectionally through the TCE table. */
export function calgaryAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): { cpuAddr: number; dmaHandle: number } | null {
  const phb = findIommuTable(dev);
  const aligned = alignUp(size, PAGE_SIZE);
  const pages = allocCoherentPages(dev, aligned, gfp, attrs);
  if (pages === null) return null;
  const mapping = phb.iommuAlloc(dev, pages.pfn * PAGE_SIZE, aligned / PAGE_SIZE, DMA_BIDIRECTIONAL);
  if (mapping === CALGARY_DMA_ERROR_CODE) {
    dev.machine.mm.freePages(pages.pfn, pages.order);
    return null;
  }
  return { cpuAddr: pages.cpuAddr, dmaHandle: mapping };
}

/** `calgary_free_coherent`. */
export function calgaryFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const aligned = alignUp(size, PAGE_SIZE);
  findIommuTable(dev).iommuFree(dev, dmaHandle, aligned / PAGE_SIZE);
  freeCoherentPages(dev, aligned, cpuAddr);
}

/**
 * `dma_mapping_error` for Calgary: the 2012 ops had no `mapping_error`, so x86 compared with
 * `DMA_ERROR_CODE`, which was 0 (kdma's `DMA_MAPPING_ERROR` is −1).
 */
export function calgaryMappingError(_dev: Device, addr: number): boolean {
  return addr === CALGARY_DMA_ERROR_CODE;
}

/** `calgary_dma_ops`. */
export const calgaryDmaOps: DmaMapOps = Object.freeze({
  name: 'calgary_dma_ops',
  alloc: calgaryAllocCoherent,
  free: calgaryFreeCoherent,
  mmap: x86CommonMmap,
  getSgtable: x86CommonGetSgtable,
  allocPages: dmaCommonAllocPages,
  freePages: dmaCommonFreePages,
  mapPage: calgaryMapPage,
  unmapPage: calgaryUnmapPage,
  mapSg: calgaryMapSg,
  unmapSg: calgaryUnmapSg,
  mappingError: calgaryMappingError,
  dmaSupported: dmaDirectSupported,
  getRequiredMask: dmaDirectGetRequiredMask,
});
