import { DMA_BIDIRECTIONAL, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrMod, alignDown, getOrder } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import { GFP_DMA } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { tsunamiOf, type TsunamiPchip } from './core-tsunami.js';
import { mkIommuPte, type PciIommuArena } from './pci-iommu-arena.js';

/*
 * arch/alpha/kernel/pci_iommu.c: `alpha_pci_ops`. A mapping takes the first of
 * 1. the direct-map window, when the buffer lies below its size and the device's mask reaches
 *    `__direct_map_base` + the buffer;
 * 2. DAC, when the device can drive bit 40 (`pci_dac_dma_supported`);
 * 3. the scatter-gather window its mask reaches (sg_pci, else the ISA window sg_isa), through
 *    arena PTEs — and an sg list is first classified (`sg_classify`) into runs that are physically
 *    contiguous or, page-aligned at the seams, can be made contiguous in the arena ("virtual
 *    merging"), each run one DMA segment.
 * Failures return `DMA_MAPPING_ERROR` as the kernel has since 2018 (v3.4 returned 0, which
 * `alpha_pci_mapping_error` tested for); `mmap`/`get_sgtable` are the common helpers.
 */

/** `ISA_DMA_MASK`. */
export const ISA_DMA_MASK = 0x00ff_ffff;

function hoseOf(dev: Device): TsunamiPchip {
  const hose = tsunamiOf(dev.machine);
  if (hose === null) throw new Error(`${dev.name} uses alpha_pci_ops on a machine without PCI windows`);
  return hose;
}

/** `pci_dac_dma_supported`: the machine has DAC and the mask covers its offset bit. */
export function pciDacDmaSupported(dev: Device, mask: number): boolean {
  const dacOffset = hoseOf(dev).dacOffset;
  return dacOffset !== 0 && Math.floor(mask / dacOffset) % 2 === 1;
}

/** The scatter-gather window a device with `maxDma` uses: sg_pci if it reaches all of it, else sg_isa. */
function arenaFor(hose: TsunamiPchip, maxDma: number): PciIommuArena {
  const pci = hose.sgPci;
  return pci.dmaBase + pci.size - 1 > maxDma ? hose.sgIsa : pci;
}

/** `pci_map_single_1`: window, DAC or arena, in that order; `DMA_MAPPING_ERROR` when the arena is full. */
export function pciMapSingle1(dev: Device, paddr: number, size: number, dacAllowed: boolean): number {
  const hose = hoseOf(dev);
  const maxDma = dev.dmaMask;
  if (paddr + size + hose.directMapBase - 1 <= maxDma && paddr + size <= hose.directMapSize) return paddr + hose.directMapBase;
  if (dacAllowed) return paddr + hose.dacOffset;
  const arena = arenaFor(hose, maxDma);
  const page = hose.pageSize;
  const npages = Math.ceil((addrMod(paddr, page) + size) / page);
  const dmaOfs = arena.alloc(dev, npages, 0);
  if (dmaOfs < 0) {
    dev.machine.printk('warn', null, 'pci_map_single failed: could not allocate dma page tables');
    return DMA_MAPPING_ERROR;
  }
  let pa = alignDown(paddr, page);
  for (let i = 0; i < npages; i++, pa += page) arena.ptes[dmaOfs + i] = mkIommuPte(pa, page);
  return arena.dmaBase + dmaOfs * page + addrMod(paddr, page);
}

/** `alpha_pci_map_page`. */
export function alphaPciMapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  return pciMapSingle1(dev, pfn * dev.machine.pageSize + offset, size, pciDacDmaSupported(dev, dev.dmaMask));
}

/**
 * `alpha_pci_unmap_page`: nothing for the direct window or DAC; arena PTEs are cleared, and the
 * TLB invalidated only if they lie at or above `next_entry` ("they may have snuck back into the
 * TLB since the last wrap flush") — below it they cannot be reused before a wrap flushes anyway.
 */
export function alphaPciUnmapPage(dev: Device, dmaAddr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  const hose = hoseOf(dev);
  if (dmaAddr >= hose.directMapBase && dmaAddr < hose.directMapBase + hose.directMapSize) return;
  if (dmaAddr > 0xffff_ffff) return;
  const page = hose.pageSize;
  const arena = dmaAddr < hose.sgPci.dmaBase ? hose.sgIsa : hose.sgPci;
  const dmaOfs = Math.floor((dmaAddr - arena.dmaBase) / page);
  if (dmaOfs < 0 || dmaOfs * page >= arena.size) {
    dev.machine.printk('err', null, `Bogus pci_unmap_single: dma_addr ${dmaAddr.toString(16)}  base ${arena.dmaBase.toString(16)} size ${arena.size.toString(16)}`);
    return;
  }
  const npages = Math.ceil((addrMod(dmaAddr, page) + size) / page);
  arena.free(dmaOfs, npages);
  if (dmaOfs >= arena.nextEntry) hose.tbi(dmaAddr, dmaAddr + size - 1);
}

/**
 * `alpha_pci_alloc_coherent`: pages from anywhere (GFP_DMA cleared), zeroed, mapped like a
 * single buffer without DAC. With scatter-gather hardware a failed mapping is final.
 */
export function alphaPciAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp & ~GFP_DMA);
  if (pfn === null) {
    machine.printk('info', null, 'pci_alloc_consistent: get_free_pages failed');
    return null;
  }
  const cpuAddr = mm.pageAddress(pfn);
  machine.cpu.fill(cpuAddr, size, 0);
  const dmaHandle = pciMapSingle1(dev, pfn * mm.pageSize, size, false);
  if (dmaHandle === DMA_MAPPING_ERROR) {
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle };
}

/** `alpha_pci_free_coherent`. */
export function alphaPciFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  alphaPciUnmapPage(dev, dmaHandle, size, DMA_BIDIRECTIONAL, 0);
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}

/**
 * The result of `sg_classify` (the kernel keeps it in `dma_address`/`dma_length`): per entry,
 * 0 or 1 for a leader (1: it has virtually merged followers), -1 for a follower physically
 * contiguous with the previous entry, -2 for one merged only through the arena; and the
 * leader's total length.
 */
interface SgClasses {
  readonly kind: Int8Array;
  readonly length: Float64Array;
}

/**
 * `sg_classify`: runs of entries that can be one DMA segment — physically contiguous, or (when
 * `virtOk`) ending and starting on page boundaries — up to the max segment size.
 */
function sgClassify(dev: Device, sgl: Scatterlist[], start: number, end: number, virtOk: boolean, c: SgClasses): void {
  const page = dev.machine.pageSize;
  const phys = (s: Scatterlist): number => s.pfn * page + s.offset;
  let leader = start;
  let leaderFlag = 0;
  let leaderLength = (sgl[start] as Scatterlist).length;
  let nextPaddr = phys(sgl[start] as Scatterlist) + leaderLength;
  const maxSegSize = dev.dmaParms.maxSegmentSize;
  for (let i = start + 1; i < end; i++) {
    const s = sgl[i] as Scatterlist;
    const addr = phys(s);
    const len = s.length;
    const merge = leaderLength + len <= maxSegSize;
    if (merge && nextPaddr === addr) {
      c.kind[i] = -1;
      leaderLength += len;
    } else if (merge && addrMod(nextPaddr, page) === 0 && addrMod(addr, page) === 0 && virtOk) {
      c.kind[i] = -2;
      leaderFlag = 1;
      leaderLength += len;
    } else {
      c.kind[leader] = leaderFlag;
      c.length[leader] = leaderLength;
      leader = i;
      leaderFlag = 0;
      leaderLength = len;
    }
    nextPaddr = addr + len;
  }
  c.kind[leader] = leaderFlag;
  c.length[leader] = leaderLength;
}

/**
 * `sg_fill`: one segment for the run that `leader` heads: the direct window or DAC for a run with
 * no virtual merging, else arena PTEs for all its pieces; if the arena is full, the run is
 * reclassified without virtual merging and tried again. Returns -1 on failure, else 0 or 1.
 */
function sgFill(dev: Device, sgl: Scatterlist[], leader: number, end: number, out: Scatterlist, arena: PciIommuArena, dacAllowed: boolean, c: SgClasses): number {
  const hose = hoseOf(dev);
  const page = hose.pageSize;
  const phys = (s: Scatterlist): number => s.pfn * page + s.offset;
  const lead = sgl[leader] as Scatterlist;
  let paddr = phys(lead);
  let size = c.length[leader] as number;
  const maxDma = dev.dmaMask;
  if (c.kind[leader] === 0 && paddr + size + hose.directMapBase - 1 <= maxDma && paddr + size <= hose.directMapSize) {
    out.dmaAddress = paddr + hose.directMapBase;
    out.dmaLength = size;
    return 0;
  }
  if (c.kind[leader] === 0 && dacAllowed) {
    out.dmaAddress = paddr + hose.dacOffset;
    out.dmaLength = size;
    return 0;
  }
  const inPage = addrMod(paddr, page);
  const npages = Math.ceil((inPage + size) / page);
  const dmaOfs = arena.alloc(dev, npages, 0);
  if (dmaOfs < 0) {
    // "If we attempted a direct map above but failed, die."
    if (c.kind[leader] === 0) return -1;
    // "Otherwise, break up the remaining virtually contiguous hunks into individual direct maps and retry."
    sgClassify(dev, sgl, leader, end, false, c);
    return sgFill(dev, sgl, leader, end, out, arena, dacAllowed, c);
  }
  out.dmaAddress = arena.dmaBase + dmaOfs * page + inPage;
  out.dmaLength = size;
  let pte = dmaOfs;
  let i = leader;
  do {
    size = (sgl[i] as Scatterlist).length;
    paddr = phys(sgl[i] as Scatterlist);
    while (i + 1 < end && c.kind[i + 1] === -1) {
      size += (sgl[i + 1] as Scatterlist).length;
      i++;
    }
    const pages = Math.ceil((addrMod(paddr, page) + size) / page);
    let pa = alignDown(paddr, page);
    for (let k = 0; k < pages; k++, pa += page) arena.ptes[pte++] = mkIommuPte(pa, page);
    i++;
  } while (i < end && (c.kind[i] as number) < 0);
  return 1;
}

/**
 * `alpha_pci_map_sg`: a single entry is mapped as a single buffer; a list is classified, then each
 * run filled into the next output entry; the entry after the last segment gets `dma_length` 0.
 * 0 on failure, with what was mapped undone.
 */
export function alphaPciMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const hose = hoseOf(dev);
  const dacAllowed = pciDacDmaSupported(dev, dev.dmaMask);
  if (nents === 1) {
    const sg = sgl[0] as Scatterlist;
    sg.dmaLength = sg.length;
    sg.dmaAddress = pciMapSingle1(dev, sg.pfn * dev.machine.pageSize + sg.offset, sg.length, dacAllowed);
    return sg.dmaAddress !== DMA_MAPPING_ERROR ? 1 : 0;
  }
  const c: SgClasses = { kind: new Int8Array(nents), length: new Float64Array(nents) };
  // virt_ok: the machine has scatter-gather hardware (`alpha_mv.mv_pci_tbi`).
  sgClassify(dev, sgl, 0, nents, true, c);
  const arena = arenaFor(hose, dev.dmaMask);
  let out = 0;
  for (let i = 0; i < nents; i++) {
    if ((c.kind[i] as number) < 0) continue;
    if (sgFill(dev, sgl, i, nents, sgl[out] as Scatterlist, arena, dacAllowed, c) < 0) {
      dev.machine.printk('warn', null, 'pci_map_sg failed: could not allocate dma page tables');
      if (out > 0) alphaPciUnmapSg(dev, sgl, out, dir, attrs);
      return 0;
    }
    out++;
  }
  if (out < nents) (sgl[out] as Scatterlist).dmaLength = 0;
  return out;
}

/**
 * `alpha_pci_unmap_sg`: arena segments' PTEs cleared; one TLB invalidation for the span they
 * covered if it reaches `next_entry`. (When no segment was in the arena the span is empty and
 * the kernel's unsigned arithmetic invalidates the TLB anyway; so does the model.)
 */
export function alphaPciUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): void {
  const hose = hoseOf(dev);
  const page = hose.pageSize;
  const arena = arenaFor(hose, dev.dmaMask);
  let fbeg = Number.POSITIVE_INFINITY;
  let fend = 0;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const addr = sg.dmaAddress;
    const size = sg.dmaLength;
    if (size === 0) break;
    if (addr > 0xffff_ffff) continue;
    if (addr >= hose.directMapBase && addr < hose.directMapBase + hose.directMapSize) continue;
    const npages = Math.ceil((addrMod(addr, page) + size) / page);
    arena.free(Math.floor((addr - arena.dmaBase) / page), npages);
    fbeg = Math.min(fbeg, addr);
    fend = Math.max(fend, addr + size - 1);
  }
  if (fend < arena.dmaBase || Math.floor((fend - arena.dmaBase) / page) >= arena.nextEntry) {
    hose.tbi(fbeg === Number.POSITIVE_INFINITY ? -1 : fbeg, fend);
  }
}

/**
 * `alpha_pci_supported`: the mask covers the whole direct window or all of memory through it, or
 * a scatter-gather window.
 */
export function alphaPciSupported(dev: Device, mask: number): boolean {
  const hose = hoseOf(dev);
  if (hose.directMapSize !== 0 && (hose.directMapBase + hose.directMapSize - 1 <= mask || hose.directMapBase + dev.machine.maxPhysAddress - 1 <= mask)) return true;
  if (hose.sgIsa.dmaBase + hose.sgIsa.size - 1 <= mask) return true;
  if (hose.sgPci.dmaBase + hose.sgPci.size - 1 <= mask) return true;
  return false;
}

/** `alpha_pci_ops`: no sync hooks — PCI DMA is coherent. */
export const alphaPciOps: DmaMapOps = Object.freeze({
  name: 'alpha_pci_ops',
  alloc: alphaPciAllocCoherent,
  free: alphaPciFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: alphaPciMapPage,
  unmapPage: alphaPciUnmapPage,
  mapSg: alphaPciMapSg,
  unmapSg: alphaPciUnmapSg,
  dmaSupported: alphaPciSupported,
});
