import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrMod, alignDown, alignUp, type DmaFault, type DmaFaultKind, type DmaTranslation, getOrder, hex, pow2, type TranslationRun } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps, type IommuStats, type Machine, type MachineIommu } from '@kdma/dma-mapping/ops';
import { dmaGetSegBoundaryNrPages, iommuIsSpanBoundary, iommuNumPages } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { IO_PAGE_SIZE } from './arch.js';
import { IommuArena } from './iommu-common.js';

/*
 * arch/sparc/kernel/pci_sun4v.c: on sun4v the IOMMU belongs to the hypervisor. Linux keeps only
 * the arena bitmap; the TSB entries are written by hypercalls — `pci_sun4v_iommu_map`
 * (`HV_FAST_PCI_IOMMU_MAP`, 0xb0) with a page list of real addresses, `pci_sun4v_iommu_demap`
 * (0xb1) — and to make few of them, mappings are gathered in a per-CPU `iommu_batch` of up to
 * `PGLIST_NENTS` pages, flushed when full, when the next entry is not contiguous, and at the end.
 * The DVMA window is the "virtual-dma" property, 2 GiB at 2 GiB by default. No streaming buffer.
 *
 * Followed from later kernels: `dma_4v_supported` (a mask must cover `dma_addr_mask`; v3.4 had the
 * generic sparc64 check that refused 32 bits and more), the common `mmap`/`get_sgtable`.
 */

/** Hypervisor function numbers. */
export const HV_FAST_PCI_IOMMU_MAP = 0xb0;
export const HV_FAST_PCI_IOMMU_DEMAP = 0xb1;
/** `io_attributes` of a map call. */
export const HV_PCI_MAP_ATTR_READ = 0x1;
export const HV_PCI_MAP_ATTR_WRITE = 0x2;

/** `vdma_default`: `{ 0x80000000, 0x80000000 }`. */
export const SUN4V_DVMA_BASE = 0x8000_0000;
export const SUN4V_DVMA_SIZE = 0x8000_0000;

/** The root complex's `devhandle` (pci@780). */
export const SUN4V_DEVHANDLE = 0x780;

/** One hypercall as the hypervisor saw it. */
export interface Sun4vHypercall {
  /** `HV_FAST_PCI_IOMMU_MAP` or `HV_FAST_PCI_IOMMU_DEMAP`. */
  readonly fn: number;
  readonly name: 'pci_iommu_map' | 'pci_iommu_demap';
  readonly devhandle: number;
  /** `HV_PCI_TSBID(0, entry)`: the first TSB entry. */
  readonly tsbid: number;
  /** Pages asked for, and pages the hypervisor did (its return value). */
  readonly npages: number;
  readonly done: number;
  /** `io_attributes` (map only; 0 for demap). */
  readonly attrs: number;
  /** The CPU that made the call (its `iommu_batch`). */
  readonly cpu: number;
}

/** The hypervisor's and the batches' counters. */
export interface Sun4vStats {
  readonly mapCalls: number;
  readonly demapCalls: number;
  readonly pagesMapped: number;
  readonly pagesDemapped: number;
  /** The largest page list one map call carried. */
  readonly largestBatch: number;
  readonly faults: number;
}

/** Hypercalls kept in `hypercalls()` (the oldest are dropped). */
export const SUN4V_HYPERCALL_LOG = 4096;

/** `struct iommu_batch`, one per CPU. */
class IommuBatch {
  prot = 0;
  /** `~0UL` ("no entry yet") is -1 here. */
  entry = -1;
  npages = 0;
  readonly pglist: Float64Array;
  constructor(nents: number) {
    this.pglist = new Float64Array(nents);
  }
}

/**
 * A sun4v root complex: the hypervisor's TSB (reachable only through hypercalls) and Linux's
 * `struct iommu` (arena, `dma_addr_mask`) with the per-CPU batches. `machine.iommu`, and the
 * translation of every device's bus master.
 */
export class Sun4vIommu implements MachineIommu, DmaTranslation {
  readonly name = 'sun4v-iommu';
  readonly machine: Machine;
  readonly devhandle = SUN4V_DEVHANDLE;
  readonly pageTableMapBase: number;
  /** `roundup_pow_of_two(vdma[1]) - 1`. */
  readonly dmaAddrMask: number;
  readonly entries: number;
  /** `PGLIST_NENTS`: `PAGE_SIZE / sizeof(u64)`. */
  readonly pglistNents: number;
  readonly arena: IommuArena;
  /** The hypervisor's TSB: real address and `io_attributes` of each entry (0: not mapped). */
  private readonly tsbRa: Float64Array;
  private readonly tsbAttrs: Uint8Array;
  private readonly batches: IommuBatch[];
  private readonly log: Sun4vHypercall[] = [];
  private counters = { mapCalls: 0, demapCalls: 0, pagesMapped: 0, pagesDemapped: 0, largestBatch: 0, faults: 0 };

  constructor(machine: Machine, base = SUN4V_DVMA_BASE, size = SUN4V_DVMA_SIZE) {
    this.machine = machine;
    this.pageTableMapBase = base;
    this.dmaAddrMask = pow2(Math.ceil(Math.log2(size))) - 1;
    this.entries = size / IO_PAGE_SIZE;
    this.pglistNents = machine.pageSize / 8;
    this.arena = new IommuArena(this.entries, base / IO_PAGE_SIZE, IO_PAGE_SIZE, null);
    this.tsbRa = new Float64Array(this.entries);
    this.tsbAttrs = new Uint8Array(this.entries);
    this.batches = machine.hw.cpus.map(() => new IommuBatch(this.pglistNents));
  }

  stats(): IommuStats {
    let mapped = 0;
    for (let i = 0; i < this.entries; i++) if (this.tsbAttrs[i] !== 0) mapped++;
    return { iotlbHits: 0, iotlbMisses: 0, faults: this.counters.faults, mappedBytes: mapped * IO_PAGE_SIZE, flushes: this.counters.demapCalls, pendingFlushes: 0 };
  }

  sun4vStats(): Sun4vStats {
    return { ...this.counters };
  }

  /** The latest hypercalls, oldest first. */
  hypercalls(): readonly Sun4vHypercall[] {
    return [...this.log];
  }

  entryOf(dvma: number): number {
    return Math.floor((dvma - this.pageTableMapBase) / IO_PAGE_SIZE);
  }

  // ---- the hypervisor

  private record(call: Sun4vHypercall): void {
    if (this.log.length === SUN4V_HYPERCALL_LOG) this.log.shift();
    this.log.push(call);
  }

  /**
   * `pci_sun4v_iommu_map(devhandle, tsbid, num_ttes, io_attributes, io_page_list_pa)`: the
   * hypervisor writes `npages` TSB entries from the page list; returns how many it did.
   */
  hvIommuMap(tsbid: number, npages: number, attrs: number, pglist: Float64Array, from: number): number {
    if (tsbid < 0 || tsbid + npages > this.entries) return -1;
    for (let i = 0; i < npages; i++) {
      this.tsbRa[tsbid + i] = pglist[from + i] as number;
      this.tsbAttrs[tsbid + i] = attrs;
    }
    this.counters.mapCalls++;
    this.counters.pagesMapped += npages;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, npages);
    this.record({ fn: HV_FAST_PCI_IOMMU_MAP, name: 'pci_iommu_map', devhandle: this.devhandle, tsbid, npages, done: npages, attrs, cpu: this.machine.hw.currentCpu.id });
    return npages;
  }

  /** `pci_sun4v_iommu_demap(devhandle, tsbid, num_ttes)`: returns how many it removed. */
  hvIommuDemap(tsbid: number, npages: number): number {
    this.tsbAttrs.fill(0, tsbid, tsbid + npages);
    this.counters.demapCalls++;
    this.counters.pagesDemapped += npages;
    this.record({ fn: HV_FAST_PCI_IOMMU_DEMAP, name: 'pci_iommu_demap', devhandle: this.devhandle, tsbid, npages, done: npages, attrs: 0, cpu: this.machine.hw.currentCpu.id });
    return npages;
  }

  /** The demap loop of the unmap paths ("num = pci_sun4v_iommu_demap(...); entry += num; ..."). */
  demap(entry: number, npages: number): void {
    while (npages !== 0) {
      const num = this.hvIommuDemap(entry, npages);
      entry += num;
      npages -= num;
    }
  }

  // ---- the per-CPU batch

  private batch(): IommuBatch {
    return this.batches[this.machine.hw.currentCpu.id] as IommuBatch;
  }

  /** `iommu_batch_start`. */
  batchStart(prot: number, entry: number): void {
    const p = this.batch();
    p.prot = prot;
    p.entry = entry;
    p.npages = 0;
  }

  /** `iommu_batch_flush`: map calls until the list is done; -1 when the hypervisor refuses. */
  batchFlush(): number {
    const p = this.batch();
    let { entry, npages } = p;
    let from = 0;
    while (npages !== 0) {
      const num = this.hvIommuMap(entry, npages, p.prot, p.pglist, from);
      if (num < 0) {
        this.machine.printk(
          'err',
          null,
          `iommu_batch_flush: IOMMU map of [${hex(this.devhandle).slice(2).padStart(8, '0')}:${entry.toString(16).padStart(8, '0')}:${npages.toString(16)}:${p.prot.toString(16)}] failed with status ${num}`,
        );
        return -1;
      }
      entry += num;
      npages -= num;
      from += num;
    }
    p.entry = entry;
    p.npages = 0;
    return 0;
  }

  /** `iommu_batch_new_entry`: a non-contiguous entry flushes what is gathered. */
  batchNewEntry(entry: number): void {
    const p = this.batch();
    if (p.entry + p.npages === entry) return;
    if (p.entry !== -1) this.batchFlush();
    p.entry = entry;
  }

  /** `iommu_batch_add`: one page; a full list is flushed. */
  batchAdd(physPage: number): number {
    const p = this.batch();
    p.pglist[p.npages++] = physPage;
    if (p.npages === this.pglistNents) return this.batchFlush();
    return 0;
  }

  /** `iommu_batch_end`. */
  batchEnd(): number {
    return this.batchFlush();
  }

  // ---- the hardware side

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const base = this.pageTableMapBase;
    if (busAddr < base || busAddr >= base + this.entries * IO_PAGE_SIZE) return 'translation';
    let i = this.entryOf(busAddr);
    const attrs = this.tsbAttrs[i] as number;
    if (attrs === 0) return 'translation';
    if (write && (attrs & HV_PCI_MAP_ATTR_WRITE) === 0) return 'permission';
    const off = busAddr - base - i * IO_PAGE_SIZE;
    const ra = this.tsbRa[i] as number;
    let run = IO_PAGE_SIZE - off;
    let next = ra + IO_PAGE_SIZE;
    while (run < length && i + 1 < this.entries) {
      const a = this.tsbAttrs[i + 1] as number;
      if (a === 0 || (write && (a & HV_PCI_MAP_ATTR_WRITE) === 0) || this.tsbRa[i + 1] !== next) break;
      i++;
      run += IO_PAGE_SIZE;
      next += IO_PAGE_SIZE;
    }
    out.paddr = ra + off;
    out.length = Math.min(run, length);
    return null;
  }

  onFault(fault: DmaFault): void {
    if (fault.kind === 'translation' || fault.kind === 'permission') this.counters.faults++;
  }
}

const KEY = 'sparc:sun4v-iommu';

/** The machine's sun4v IOMMU, or null. */
export function sun4vIommuOf(machine: Machine): Sun4vIommu | null {
  const iommu = machine.archState.get(KEY);
  return iommu instanceof Sun4vIommu ? iommu : null;
}

/** `pci_sun4v_iommu_init`. */
export function sun4vIommuInit(machine: Machine): Sun4vIommu {
  const iommu = new Sun4vIommu(machine);
  machine.archState.set(KEY, iommu);
  machine.iommu = iommu;
  return iommu;
}

function iommuOf(dev: Device): Sun4vIommu {
  const iommu = sun4vIommuOf(dev.machine);
  if (iommu === null) throw new Error(`${dev.name} uses sun4v_dma_ops on a machine without a sun4v IOMMU`);
  return iommu;
}

/** `dma_4v_alloc_coherent`: pages, a range, one batch mapping them readable and writable. */
export function dma4vAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const iommu = iommuOf(dev);
  const { mm } = dev.machine;
  size = alignUp(size, IO_PAGE_SIZE);
  const order = getOrder(size, mm.pageSize);
  if (order > 10) return null;
  const npages = size / IO_PAGE_SIZE;
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  dev.machine.cpu.fill(cpuAddr, mm.pageSize * pow2(order), 0);
  const entry = iommu.arena.alloc(dev, npages);
  if (entry < 0) {
    mm.freePages(pfn, order);
    return null;
  }
  const dmaHandle = iommu.pageTableMapBase + entry * IO_PAGE_SIZE;
  const first = pfn * mm.pageSize;
  iommu.batchStart(HV_PCI_MAP_ATTR_READ | HV_PCI_MAP_ATTR_WRITE, entry);
  let failed = false;
  for (let n = 0; n < npages && !failed; n++) failed = iommu.batchAdd(first + n * IO_PAGE_SIZE) < 0;
  if (failed || iommu.batchEnd() < 0) {
    iommu.arena.free(entry, npages);
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle };
}

/** `dma_4v_free_coherent`: range freed, entries demapped, pages freed. */
export function dma4vFreeCoherent(dev: Device, size: number, cpuAddr: number, dvma: number, _attrs: number): void {
  const iommu = iommuOf(dev);
  const { mm } = dev.machine;
  const npages = alignUp(size, IO_PAGE_SIZE) / IO_PAGE_SIZE;
  const entry = iommu.entryOf(dvma);
  iommu.arena.free(entry, npages);
  iommu.demap(entry, npages);
  const order = getOrder(size, mm.pageSize);
  if (order < 10) mm.freePages(mm.virtToPfn(cpuAddr), order);
}

function protOf(dir: DmaDataDirection): number {
  return dir !== DMA_TO_DEVICE ? HV_PCI_MAP_ATTR_READ | HV_PCI_MAP_ATTR_WRITE : HV_PCI_MAP_ATTR_READ;
}

/** `dma_4v_map_page`: a range, then one batch of its pages (one hypercall unless the list fills). */
export function dma4vMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const iommu = iommuOf(dev);
  const oaddr = pfn * dev.machine.pageSize + offset;
  const npages = (alignUp(oaddr + size, IO_PAGE_SIZE) - alignDown(oaddr, IO_PAGE_SIZE)) / IO_PAGE_SIZE;
  const entry = iommu.arena.alloc(dev, npages);
  if (entry < 0) {
    dev.machine.printk('warn', null, 'WARNING: at arch/sparc/kernel/pci_sun4v.c dma_4v_map_page()');
    return DMA_MAPPING_ERROR;
  }
  const busAddr = iommu.pageTableMapBase + entry * IO_PAGE_SIZE;
  iommu.batchStart(protOf(dir), entry);
  let basePaddr = alignDown(oaddr, IO_PAGE_SIZE);
  for (let i = 0; i < npages; i++, basePaddr += IO_PAGE_SIZE) {
    if (iommu.batchAdd(basePaddr) < 0) {
      iommu.arena.free(entry, npages);
      return DMA_MAPPING_ERROR;
    }
  }
  if (iommu.batchEnd() < 0) {
    iommu.arena.free(entry, npages);
    return DMA_MAPPING_ERROR;
  }
  return busAddr + addrMod(oaddr, IO_PAGE_SIZE);
}

/** `dma_4v_unmap_page`: range freed, entries demapped. */
export function dma4vUnmapPage(dev: Device, busAddr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  const iommu = iommuOf(dev);
  const npages = (alignUp(busAddr + size, IO_PAGE_SIZE) - alignDown(busAddr, IO_PAGE_SIZE)) / IO_PAGE_SIZE;
  const entry = iommu.entryOf(alignDown(busAddr, IO_PAGE_SIZE));
  iommu.arena.free(entry, npages);
  iommu.demap(entry, npages);
}

/**
 * `dma_4v_map_sg`: the sun4u algorithm (ranges from a running handle, merged segments) with the
 * pages of the whole list gathered in one batch — contiguous entries share hypercalls.
 */
export function dma4vMapSg(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection, _attrs: number): number {
  const iommu = iommuOf(dev);
  if (nelems === 0) return 0;
  const pageSize = dev.machine.pageSize;
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
  iommu.batchStart(protOf(dir), -1);
  const fail = (): number => {
    for (let i = 0; i < nelems && i <= outIndex; i++) {
      const s = sgl[i] as Scatterlist;
      if (s.dmaLength !== 0) {
        iommu.arena.free(iommu.entryOf(alignDown(s.dmaAddress, IO_PAGE_SIZE)), iommuNumPages(s.dmaAddress, s.dmaLength, IO_PAGE_SIZE));
        s.dmaAddress = DMA_MAPPING_ERROR;
        s.dmaLength = 0;
      }
    }
    return 0;
  };
  for (let i = 0; i < nelems; i++) {
    const s = sgl[i] as Scatterlist;
    const slen = s.length;
    if (slen === 0) {
      dmaNext = 0;
      continue;
    }
    let paddr = s.pfn * pageSize + s.offset;
    const npages = iommuNumPages(paddr, slen, IO_PAGE_SIZE);
    const entry = iommu.arena.alloc(dev, npages, handle);
    if (entry < 0) {
      dev.machine.printk('info', null, `iommu_alloc failed, iommu ${hex(iommu.devhandle)} paddr ${paddr.toString(16)} npages ${npages.toString(16)}`);
      return fail();
    }
    iommu.batchNewEntry(entry);
    const dmaAddr = iommu.pageTableMapBase + entry * IO_PAGE_SIZE + addrMod(paddr, IO_PAGE_SIZE);
    paddr = alignDown(paddr, IO_PAGE_SIZE);
    for (let k = 0; k < npages; k++, paddr += IO_PAGE_SIZE) if (iommu.batchAdd(paddr) < 0) return fail();
    if (segstart !== i) {
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
  if (iommu.batchEnd() < 0) return fail();
  if (outcount < nelems) {
    const after = sgl[outIndex + 1] as Scatterlist;
    after.dmaAddress = DMA_MAPPING_ERROR;
    after.dmaLength = 0;
  }
  return outcount;
}

/** `dma_4v_unmap_sg`: each segment's range freed and demapped. */
export function dma4vUnmapSg(dev: Device, sgl: Scatterlist[], nelems: number, _dir: DmaDataDirection, _attrs: number): void {
  const iommu = iommuOf(dev);
  for (let i = 0; i < nelems; i++) {
    const sg = sgl[i] as Scatterlist;
    if (sg.dmaLength === 0) break;
    const npages = iommuNumPages(sg.dmaAddress, sg.dmaLength, IO_PAGE_SIZE);
    const entry = iommu.entryOf(alignDown(sg.dmaAddress, IO_PAGE_SIZE));
    iommu.arena.free(entry, npages);
    iommu.demap(entry, npages);
  }
}

/** `dma_4v_supported`. */
export function dma4vSupported(dev: Device, mask: number): boolean {
  return mask >= iommuOf(dev).dmaAddrMask;
}

/** `sun4v_dma_ops`: no sync hooks at all — no streaming buffer, coherent caches. */
export const sun4vDmaOps: DmaMapOps = Object.freeze({
  name: 'sun4v_dma_ops',
  alloc: dma4vAllocCoherent,
  free: dma4vFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: dma4vMapPage,
  unmapPage: dma4vUnmapPage,
  mapSg: dma4vMapSg,
  unmapSg: dma4vUnmapSg,
  dmaSupported: dma4vSupported,
});
