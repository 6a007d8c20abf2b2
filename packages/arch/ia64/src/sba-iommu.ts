import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrAndNot, addrMod, alignDown, alignUp, checkInteger, type DmaFault, type DmaFaultKind, type DmaTranslation, getOrder, hex, lowBits, pow2, type TranslationRun } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps, type IommuStats, type Machine, type MachineIommu } from '@kdma/dma-mapping/ops';
import { dmaGetSegBoundaryNrPages, iommuIsSpanBoundary } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { machvecDmaSyncSg, machvecDmaSyncSingle } from './machvec.js';
import { dmaMarkClean } from './mark-clean.js';

/*
 * arch/ia64/hp/common/sba_iommu.c: the I/O controller (IOC) of HP's zx1/sx1000 chipsets. Firmware
 * gives it a "safe IOVA space" (IBASE/IMASK) that overlaps neither RAM nor MMIO; inside it the IOC
 * translates through the I/O page directory (pdir, one 8-byte entry per IOVP page, allocated from
 * the `res_map` bitmap); outside it, a bus address is a physical address — which is what lets a
 * device whose mask covers a buffer bypass the IOMMU altogether (`ALLOW_IOV_BYPASS`).
 *
 * Where today's kernel (before ia64's removal) differs from v3.4, today's is followed: a full pdir
 * is `DMA_MAPPING_ERROR` (v3.4 returned 0 and `sba_dma_mapping_error` said "no error"), and a
 * coherent buffer whose mapping fails is freed. `mmap`/`get_sgtable` are the common helpers.
 */

/** `PDIR_ENTRY_SIZE`: one `u64` per IOVP page. */
export const PDIR_ENTRY_SIZE = 8;

/**
 * `DELAYED_RESOURCE_CNT`: unmaps are queued and their pdir entries invalidated (and the IOTLB
 * purged) 64 at a time — until then an unmapped range still translates.
 */
export const DELAYED_RESOURCE_CNT = 64;

/** The zx1 IOC's safe IOVA space as firmware programs it: "IOVA space 1024Mb at 0x40000000". */
export const ZX1_IOVA_BASE = 0x4000_0000;
export const ZX1_IOVA_SIZE = 0x4000_0000;

/** Where ACPI's SBA lies on a zx1 (`HWP0001`) plus `ZX1_IOC_OFFSET`: the IOC's registers. */
export const ZX1_IOC_HPA = 0xfed0_1000;

const BITS_PER_LONG = 64;
const IOVP_SIZES = [4096, 8192, 16384, 65536];

/**
 * `iovp_shift` on a zx1 (`HWP0001`): "zx1 based systems default to kernel page size iommu pages",
 * `min(PAGE_SHIFT, 16)`; `sbapagesize=` overrides it with 4K/8K/16K/64K.
 */
export function zx1IovpSize(pageSize: number, override?: number): number {
  if (override !== undefined) {
    if (!IOVP_SIZES.includes(override)) throw new RangeError(`options.sbaPageSize must be one of ${IOVP_SIZES.join(', ')}, got ${String(override)}`);
    return override;
  }
  return Math.min(pageSize, 65536);
}

/** Counters of one IOC (`/proc/bus/mckinley/zx1` and a little more). */
export interface SbaStats {
  /** `PDIR size`: entries in the pdir. */
  readonly pdirEntries: number;
  /** `PDIR used`: bits set in `res_map` (including ranges whose free is still queued). */
  readonly pdirUsed: number;
  /** Single mappings and coherent buffers that bypassed the IOMMU (device mask covered them). */
  readonly bypassMaps: number;
  /** Mappings that went through the pdir (single, coherent, and one per coalesced sg stream). */
  readonly pdirMaps: number;
  /** Unmaps queued in `saved[]` whose pdir entries are still valid. */
  readonly delayedUnmaps: number;
  /** Writes to `IOC_PCOM` (IOTLB purges). */
  readonly purges: number;
  /** Device accesses that hit an invalid pdir entry. */
  readonly faults: number;
}

/**
 * `struct ioc`: the IOC, its pdir and resource map. It is the machine's IOMMU (`machine.iommu`,
 * named `'sba'`) and the translation of every device's bus master.
 */
export class Ioc implements MachineIommu, DmaTranslation {
  readonly name = 'sba';
  readonly machine: Machine;
  /** `ioc->name` and revision, as `ioc_init` prints them. */
  readonly chip = 'zx1';
  readonly rev = 0x22;
  readonly hpa = ZX1_IOC_HPA;
  /** `ioc->ibase`, `ioc->iov_size`. */
  readonly ibase: number;
  readonly iovSize: number;
  /** `iovp_size` (the IOTLB page size, `IOC_TCNFG`). */
  readonly iovpSize: number;
  /** `ioc->pdir_size / PDIR_ENTRY_SIZE`. */
  readonly entries: number;
  /** The pdir: each entry's page address (`vba & ~0xE000000000000FFF`, 4K-aligned, as written). */
  readonly pdir: Float64Array;
  /** Each entry's valid bit (bit 63). Cleared entries keep their address "for debugging". */
  readonly pdirValid: Uint8Array;
  /** `res_map`: one byte per pdir entry (the kernel's bit), 1 = in use. */
  readonly resMap: Uint8Array;
  /** `res_hint` as a word index (64 entries a word) and `res_bitshift`. */
  resHint = 0;
  resBitshift = 0;
  /** `ioc->saved[]`: iova, size pairs of queued unmaps. */
  private readonly saved = new Float64Array(2 * DELAYED_RESOURCE_CNT);
  private savedCnt = 0;
  private validEntries = 0;
  private counters = { bypassMaps: 0, pdirMaps: 0, purges: 0, faults: 0 };

  constructor(machine: Machine, iovpSize: number, ibase = ZX1_IOVA_BASE, iovSize = ZX1_IOVA_SIZE) {
    this.machine = machine;
    this.ibase = ibase;
    this.iovSize = iovSize;
    this.iovpSize = iovpSize;
    this.entries = iovSize / iovpSize;
    this.pdir = new Float64Array(this.entries);
    this.pdirValid = new Uint8Array(this.entries);
    this.resMap = new Uint8Array(this.entries);
    for (const region of machine.hw.ram.regions) {
      if (region.base < ibase + iovSize && ibase < region.base + region.size) {
        throw new RangeError(`options.memoryRegions: RAM at ${hex(region.base)} overlaps the SBA's IOVA space ${hex(ibase)}-${hex(ibase + iovSize - 1)}`);
      }
    }
    machine.printk(
      'info',
      null,
      `IOC: ${this.chip} ${(this.rev >> 4) & 0xf}.${this.rev & 0xf} HPA ${hex(this.hpa)} IOVA space ${iovSize / 2 ** 20}Mb at ${hex(ibase)}`,
    );
  }

  /** `machine.iommu.stats()`: no IOTLB model (hits and misses stay 0); purges are the flushes. */
  stats(): IommuStats {
    return {
      iotlbHits: 0,
      iotlbMisses: 0,
      faults: this.counters.faults,
      mappedBytes: this.validEntries * this.iovpSize,
      flushes: this.counters.purges,
      pendingFlushes: this.savedCnt,
    };
  }

  /** The IOC's own counters. */
  sbaStats(): SbaStats {
    let used = 0;
    for (let i = 0; i < this.entries; i++) used += this.resMap[i] as number;
    return {
      pdirEntries: this.entries,
      pdirUsed: used,
      bypassMaps: this.counters.bypassMaps,
      pdirMaps: this.counters.pdirMaps,
      delayedUnmaps: this.savedCnt,
      purges: this.counters.purges,
      faults: this.counters.faults,
    };
  }

  /** Counts a coherent buffer that needed no pdir entry. */
  countBypass(): void {
    this.counters.bypassMaps++;
  }

  /** Whether a bus address lies in the IOVA space (`(iova & ioc->imask) == ioc->ibase`). */
  isIova(addr: number): boolean {
    return addr >= this.ibase && addr < this.ibase + this.iovSize;
  }

  /** `DMA_CHUNK_SIZE`: `BITS_PER_LONG * iovp_size`. */
  get dmaChunkSize(): number {
    return BITS_PER_LONG * this.iovpSize;
  }

  // ---- the hardware side

  /**
   * The IOC as the bus sees it: an address in the IOVA space goes through its pdir entry (an
   * invalid one faults); any other address is physical.
   */
  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): DmaFaultKind | null {
    const { ibase, iovpSize } = this;
    if (!this.isIova(busAddr)) {
      out.paddr = busAddr;
      out.length = busAddr < ibase && busAddr + length > ibase ? ibase - busAddr : length;
      return null;
    }
    let i = Math.floor((busAddr - ibase) / iovpSize);
    if (this.pdirValid[i] !== 1) return 'translation';
    const off = busAddr - ibase - i * iovpSize;
    const base = alignDown(this.pdir[i] as number, iovpSize);
    let run = iovpSize - off;
    while (run < length && i + 1 < this.entries && this.pdirValid[i + 1] === 1 && alignDown(this.pdir[i + 1] as number, iovpSize) === base + off + run) {
      i++;
      run += iovpSize;
    }
    out.paddr = base + off;
    out.length = Math.min(run, length);
    return null;
  }

  /** The IOC's error report: counted (real hardware raises an MCA). */
  onFault(_fault: DmaFault): void {
    this.counters.faults++;
  }

  // ---- the resource map

  /** `get_iovp_order`: the order of `size` in IOVP pages. */
  private iovpOrder(size: number): number {
    return Math.max(0, Math.ceil(Math.log2(size / this.iovpSize)));
  }

  private wordIsFull(w: number): boolean {
    return this.resMap.subarray(w * BITS_PER_LONG, (w + 1) * BITS_PER_LONG).indexOf(0) < 0;
  }

  private rangeIsFree(start: number, count: number): boolean {
    return this.resMap.subarray(start, start + count).indexOf(1) < 0;
  }

  /**
   * `sba_search_bitmap`: "Cool perf optimization: search for log2(size) bits at a time." The size
   * is rounded up to a power of two (defect AR2305: the IOTLB is purged in power-of-two ranges);
   * one entry takes the first zero bit from the hint word on, up to half a word takes an aligned
   * slot, more takes whole words. Returns the pdir index or -1.
   */
  private searchBitmap(dev: Device, bitsWanted: number, useHint: boolean): number {
    const words = this.entries / BITS_PER_LONG;
    let w = useHint ? this.resHint : 0;
    if (!useHint) this.resBitshift = 0;
    const boundarySize = dmaGetSegBoundaryNrPages(dev, this.iovpSize);
    const shift = this.ibase / this.iovpSize;
    // A request larger than the boundary crosses it wherever it starts: the search fails and the
    // mapping is refused ("out of mapping resources").
    const spansBoundary = (index: number, nr: number): boolean => iommuIsSpanBoundary(index, nr, shift, boundarySize);
    bitsWanted = pow2(this.iovpOrder(bitsWanted * this.iovpSize));

    if (bitsWanted === 1) {
      for (; w < words; w++) {
        const bit = this.resMap.subarray(w * BITS_PER_LONG, (w + 1) * BITS_PER_LONG).indexOf(0);
        if (bit >= 0) {
          const pide = w * BITS_PER_LONG + bit;
          this.resMap[pide] = 1;
          this.resBitshift = bit + 1;
          this.resHint = w;
          return pide;
        }
      }
    } else if (bitsWanted <= BITS_PER_LONG / 2) {
      const o = bitsWanted;
      let bitshift = alignUp(this.resBitshift, o);
      for (; w < words; w++) {
        for (; bitshift + o <= BITS_PER_LONG; bitshift += o) {
          const pide = w * BITS_PER_LONG + bitshift;
          if (this.rangeIsFree(pide, o) && !spansBoundary(pide, o)) {
            this.resMap.fill(1, pide, pide + o);
            this.resBitshift = bitshift + o;
            this.resHint = w;
            return pide;
          }
        }
        bitshift = 0;
      }
    } else {
      const qwords = bitsWanted / BITS_PER_LONG;
      for (; w < words - qwords; w++) {
        const pide = w * BITS_PER_LONG;
        if (spansBoundary(pide, bitsWanted) || !this.rangeIsFree(pide, bitsWanted)) continue;
        this.resMap.fill(1, pide, pide + bitsWanted);
        this.resHint = w + qwords;
        this.resBitshift = 0;
        return pide;
      }
    }
    this.resHint = 0;
    this.resBitshift = 0;
    return -1;
  }

  /**
   * `sba_alloc_range`: from the hint, then from the start, then once more after retiring the
   * queued unmaps; "I/O MMU @ … is out of mapping resources" and -1 when even that fails.
   */
  allocRange(dev: Device, size: number): number {
    const pagesNeeded = size / this.iovpSize;
    let pide = this.searchBitmap(dev, pagesNeeded, true);
    if (pide < 0) pide = this.searchBitmap(dev, pagesNeeded, false);
    if (pide < 0) {
      if (this.savedCnt > 0) this.retireSaved();
      pide = this.searchBitmap(dev, pagesNeeded, false);
      if (pide < 0) {
        // The kernel's two string literals join without a space.
        this.machine.printk(
          'warn',
          null,
          `sba_alloc_range: I/O MMU @ ${hex(this.hpa)} isout of mapping resources, ${this.entries / 8} ${pagesNeeded} ${dev.dmaParms.segmentBoundaryMask.toString(16)}`,
        );
        return -1;
      }
    }
    return pide;
  }

  /** `sba_free_range`: clears the (power-of-two rounded) bits of a range. */
  private freeRange(iova: number, size: number): void {
    const pide = (iova - this.ibase) / this.iovpSize;
    const bits = pow2(this.iovpOrder(size));
    this.resMap.fill(0, pide, Math.min(pide + bits, this.entries));
  }

  /** `sba_mark_invalid`: clears the valid bits and purges the IOTLB (`IOC_PCOM`). */
  private markInvalid(iova: number, size: number): void {
    let off = (iova - this.ibase) / this.iovpSize;
    for (let left = size; left > 0; left -= this.iovpSize, off++) {
      if (this.pdirValid[off] === 1) this.validEntries--;
      this.pdirValid[off] = 0;
    }
    this.counters.purges++;
  }

  /** Retires every queued unmap: invalidate, free, "flush purges" (`READ_REG(IOC_PCOM)`). */
  private retireSaved(): void {
    for (let i = this.savedCnt - 1; i >= 0; i--) {
      const iova = this.saved[2 * i] as number;
      const size = this.saved[2 * i + 1] as number;
      this.markInvalid(iova, size);
      this.freeRange(iova, size);
    }
    this.savedCnt = 0;
  }

  /** `sba_io_pdir_entry` for `count` IOVP pages from `pide`, starting at physical `paddr`. */
  private fill(pide: number, paddr: number, count: number): void {
    for (let i = 0; i < count; i++, paddr += this.iovpSize) {
      this.pdir[pide + i] = alignDown(paddr, 4096);
      if (this.pdirValid[pide + i] !== 1) this.validEntries++;
      this.pdirValid[pide + i] = 1;
    }
  }

  // ---- mapping

  /**
   * `sba_map_page` for physical `paddr`: "Check if the PCI device can DMA to ptr... if so, just
   * return ptr" (only the start is checked, as in the kernel); else IOVA from the resource map
   * and one pdir entry per IOVP page, the offset within the page kept.
   */
  mapPhys(dev: Device, paddr: number, size: number, dmaMask: number): number {
    if (addrAndNot(paddr, dmaMask) === 0) {
      this.counters.bypassMaps++;
      return paddr;
    }
    const offset = lowBits(paddr, Math.log2(this.iovpSize));
    const bytes = alignUp(size + offset, this.iovpSize);
    const pide = this.allocRange(dev, bytes);
    if (pide < 0) return DMA_MAPPING_ERROR;
    this.fill(pide, paddr, bytes / this.iovpSize);
    // "force pdir update"
    this.machine.cpu.wmb();
    this.counters.pdirMaps++;
    return this.ibase + pide * this.iovpSize + offset;
  }

  /**
   * `sba_unmap_page`: a bypass address needs nothing but `mark_clean`; an IOVA is queued in
   * `saved[]`, and the 64th queued unmap retires them all.
   */
  unmap(iova: number, size: number, dir: DmaDataDirection): void {
    if (!this.isIova(iova)) {
      if (dir === DMA_FROM_DEVICE) dmaMarkClean(this.machine, iova, size);
      return;
    }
    const offset = lowBits(iova, Math.log2(this.iovpSize));
    iova -= offset;
    size = alignUp(size + offset, this.iovpSize);
    if (dir === DMA_FROM_DEVICE) this.markClean(iova, size);
    this.saved[2 * this.savedCnt] = iova;
    this.saved[2 * this.savedCnt + 1] = size;
    if (++this.savedCnt >= DELAYED_RESOURCE_CNT) this.retireSaved();
  }

  /** `sba_mark_clean`: `mark_clean` on the page behind each pdir entry of the range. */
  private markClean(iova: number, size: number): void {
    let off = (iova - this.ibase) / this.iovpSize;
    if (size <= this.iovpSize) {
      dmaMarkClean(this.machine, this.pdir[off] as number, size);
      return;
    }
    for (let left = size; left > 0; left -= this.iovpSize, off++) dmaMarkClean(this.machine, this.pdir[off] as number, Math.min(left, this.iovpSize));
  }

  /**
   * `sba_coalesce_chunks`: walks the list finding DMA streams — virtually contiguous runs, and
   * runs that end and start on IOVP boundaries, up to `DMA_CHUNK_SIZE` and the max segment size —
   * and allocates pdir space for each. Each entry's `dmaLength` receives its contiguous chunk's
   * length; `starts` receives (entry index, IOVA offset incl. the in-page offset, bytes) per
   * stream (the kernel marks stream heads with `PIDE_FLAG` in `dma_address`, losing bit 0 of an
   * odd in-page offset; a side array keeps it).
   * Returns the stream count, or -1 (with the streams already allocated freed) when the pdir is full.
   */
  coalesceChunks(dev: Device, sgl: Scatterlist[], nents: number, starts: number[]): number {
    const pageSize = this.machine.pageSize;
    const iovp = this.iovpSize;
    const maxSegSize = dev.dmaParms.maxSegmentSize;
    const phys = (s: Scatterlist): number => s.pfn * pageSize + s.offset;
    let i = 0;
    while (i < nents) {
      const head = sgl[i] as Scatterlist;
      const dmaSg = i;
      let vcontigSg = i;
      let dmaLen = head.length;
      let vcontigLen = head.length;
      let vcontigEnd = phys(head) + head.length;
      const dmaOffset = addrMod(phys(head), iovp);
      head.dmaAddress = 0;
      head.dmaLength = 0;
      for (i++; i < nents; i++) {
        const s = sgl[i] as Scatterlist;
        s.dmaAddress = 0;
        s.dmaLength = 0;
        if (alignUp(dmaLen + dmaOffset + s.length, iovp) > this.dmaChunkSize) break;
        if (dmaLen + s.length > maxSegSize) break;
        const vaddr = phys(s);
        if (vcontigEnd === vaddr) {
          vcontigLen += s.length;
          vcontigEnd += s.length;
          dmaLen += s.length;
          continue;
        }
        (sgl[vcontigSg] as Scatterlist).dmaLength = vcontigLen;
        vcontigSg = i;
        vcontigLen = s.length;
        // DMA_CONTIG: the previous chunk ends and this one starts on an IOVP boundary.
        if (addrMod(vcontigEnd, iovp) === 0 && addrMod(vaddr, iovp) === 0) {
          vcontigEnd = vcontigLen + vaddr;
          dmaLen += vcontigLen;
          continue;
        }
        break;
      }
      // Terminates the last chunk; after a break on a non-contiguous entry this is that entry,
      // which the next stream starts with again.
      (sgl[vcontigSg] as Scatterlist).dmaLength = vcontigLen;
      const bytes = alignUp(dmaLen + dmaOffset, iovp);
      const idx = this.allocRange(dev, bytes);
      if (idx < 0) {
        for (let k = 0; k < starts.length; k += 3) this.freeRange(this.ibase + alignDown(starts[k + 1] as number, iovp), starts[k + 2] as number);
        starts.length = 0;
        return -1;
      }
      starts.push(dmaSg, idx * iovp + dmaOffset, bytes);
    }
    return starts.length / 3;
  }

  /**
   * `sba_fill_pdir`: writes the pdir entries of every chunk and turns the list into its DMA
   * segments (entry n holds stream n's address and length); other entries get `dmaLength` 0.
   */
  fillPdir(sgl: Scatterlist[], nents: number, starts: readonly number[]): number {
    const pageSize = this.machine.pageSize;
    const iovp = this.iovpSize;
    let n = 0;
    let next = 0;
    let pdirp = 0;
    let dmaOffset = 0;
    let out: Scatterlist | null = null;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i] as Scatterlist;
      let cnt = s.dmaLength;
      s.dmaLength = 0;
      if (next < starts.length && starts[next] === i) {
        const pideOff = starts[next + 1] as number;
        next += 3;
        dmaOffset = pideOff % iovp;
        s.dmaAddress = 0;
        out = sgl[n] as Scatterlist;
        out.dmaAddress = this.ibase + pideOff;
        pdirp = Math.floor(pideOff / iovp);
        n++;
      }
      if (cnt > 0 && out !== null) {
        let vaddr = s.pfn * pageSize + s.offset;
        out.dmaLength += cnt;
        cnt += dmaOffset;
        dmaOffset = 0;
        cnt = alignUp(cnt, iovp);
        const pages = cnt / iovp;
        for (let k = 0; k < pages; k++, vaddr += iovp, pdirp++) {
          this.pdir[pdirp] = alignDown(vaddr, 4096);
          if (this.pdirValid[pdirp] !== 1) this.validEntries++;
          this.pdirValid[pdirp] = 1;
        }
      }
    }
    this.machine.cpu.wmb();
    this.counters.pdirMaps += n;
    return n;
  }
}

const KEY = 'ia64:ioc';

/** The machine's IOC, or null when it has none (not a zx1 machine vector). */
export function iocOf(machine: Machine): Ioc | null {
  const ioc = machine.archState.get(KEY);
  return ioc instanceof Ioc ? ioc : null;
}

/** `ioc_init` + `sba_init`: puts an IOC with `iovpSize`-byte IOVP pages on the machine. */
export function sbaInit(machine: Machine, iovpSize: number): Ioc {
  checkInteger(iovpSize, 'iovpSize', 4096, 65536);
  const ioc = new Ioc(machine, iovpSize);
  machine.archState.set(KEY, ioc);
  machine.iommu = ioc;
  return ioc;
}

/** `GET_IOC(dev)`. */
function getIoc(dev: Device): Ioc {
  const ioc = iocOf(dev.machine);
  if (ioc === null) throw new Error(`${dev.name} uses sba_dma_ops on a machine without an SBA IOMMU`);
  return ioc;
}

/** `sba_map_page`. */
export function sbaMapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  return getIoc(dev).mapPhys(dev, pfn * dev.machine.pageSize + offset, size, dev.dmaMask);
}

/** `sba_unmap_page`. */
export function sbaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, _attrs: number): void {
  getIoc(dev).unmap(addr, size, dir);
}

/**
 * `sba_alloc_coherent`: pages from anywhere, zeroed; returned as they are when the coherent mask
 * covers them, else mapped through the pdir on behalf of the IOC's 32-bit `sac_only_dev` (so the
 * handle is single-address-cycle addressable).
 */
export function sbaAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const ioc = getIoc(dev);
  const { mm } = dev.machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  dev.machine.cpu.fill(cpuAddr, size, 0);
  const paddr = pfn * mm.pageSize;
  if (addrAndNot(paddr, dev.coherentDmaMask) === 0) {
    ioc.countBypass();
    return { cpuAddr, dmaHandle: paddr };
  }
  const dmaHandle = ioc.mapPhys(dev, paddr, size, 2 ** 32 - 1);
  if (dmaHandle === DMA_MAPPING_ERROR) {
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle };
}

/** `sba_free_coherent`. */
export function sbaFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  getIoc(dev).unmap(dmaHandle, size, DMA_BIDIRECTIONAL);
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}

/**
 * `sba_map_sg_attrs`: a single entry takes the fast path (and may bypass); a longer list never
 * bypasses (`ALLOW_IOV_BYPASS_SG` is off) but is coalesced into as few DMA streams as its layout
 * allows. 0 on failure, nothing left mapped.
 */
export function sbaMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const ioc = getIoc(dev);
  if (nents === 1) {
    const sg = sgl[0] as Scatterlist;
    sg.dmaLength = sg.length;
    sg.dmaAddress = sbaMapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    return sg.dmaAddress === DMA_MAPPING_ERROR ? 0 : 1;
  }
  const starts: number[] = [];
  if (ioc.coalesceChunks(dev, sgl, nents, starts) < 0) {
    for (let i = 0; i < nents; i++) (sgl[i] as Scatterlist).dmaLength = 0;
    return 0;
  }
  return ioc.fillPdir(sgl, nents, starts);
}

/** `sba_unmap_sg_attrs`: each DMA segment until the first of length 0. */
export function sbaUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    if (sg.dmaLength === 0) break;
    sbaUnmapPage(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

/** `sba_dma_supported`: "make sure it's at least 32bit capable". */
export function sbaDmaSupported(_dev: Device, mask: number): boolean {
  return lowBits(mask, 32) === 2 ** 32 - 1;
}

/** `sba_dma_ops`. */
export const sbaDmaOps: DmaMapOps = Object.freeze({
  name: 'sba_dma_ops',
  alloc: sbaAllocCoherent,
  free: sbaFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: sbaMapPage,
  unmapPage: sbaUnmapPage,
  mapSg: sbaMapSg,
  unmapSg: sbaUnmapSg,
  syncSingleForCpu: machvecDmaSyncSingle,
  syncSingleForDevice: machvecDmaSyncSingle,
  syncSgForCpu: machvecDmaSyncSg,
  syncSgForDevice: machvecDmaSyncSg,
  dmaSupported: sbaDmaSupported,
});
