import type { DmaDataDirection } from '@kdma/dma-attrs';
import { alignUp, getOrder, hex, lowBits, pow2 } from '@kdma/hw';
import { GFP_DMA, remapPfnRange, type Vma } from '@kdma/mm';
import { DMA_MAPPING_ERROR, ENXIO, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCapable, dmaDirectSupported, dmaPgprot, type DmaMapOps } from '@kdma/dma-mapping/ops';
import { sgAllocTable, sgSetPage, type Scatterlist, type SgTable } from '@kdma/scatterlist';
import { getDmaOffset } from './device.js';
import { powerpcState } from './state.js';
import { CONSISTENT_SIZE, dmaSync, flushDcacheRange, PAGE_KERNEL_NONCACHED } from './dma-noncoherent.js';

/*
 * arch/powerpc/kernel/dma.c: "Generic direct DMA implementation. This implementation supports a
 * per-device offset that can be applied if the address at which memory is visible to devices is
 * not 0. Platform code can set archdata.dma_data to an unsigned long holding the offset. By
 * default the offset is PCI_DRAM_OFFSET." With CONFIG_NOT_COHERENT_CACHE the same ops do cache
 * maintenance and take coherent memory from the consistent area (mm/dma-noncoherent.c).
 *
 * Where today's kernel fixed the 2012 code, kdma follows it: a mapping the device cannot reach
 * fails (`dma_capable`) instead of handing out an address beyond its mask, a coherent allocation
 * beyond the coherent mask fails, `unmap` hands the buffer back to the CPU with the sync it
 * needs (v3.4's unmap did nothing), mmap refuses a VMA larger than the buffer, and PPC32's
 * `dma_supported` (v3.4: always 1) checks the mask against the DMA zone as dma-direct does.
 */

/** Whether the machine runs a PPC64 kernel. */
function ppc64(dev: Device): boolean {
  return powerpcState(dev.machine).config.platform.bits === 64;
}

/**
 * `__dma_alloc_coherent` (mm/dma-noncoherent.c): whole pages of lowmem (`split_page` and the excess
 * freed), zeroed and flushed out of the cache through the linear map, then mapped
 * `pgprot_noncached` into the `CONFIG_CONSISTENT_SIZE` area.
 */
function dmaAllocConsistent(dev: Device, size: number, gfp: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const mask = dev.coherentDmaMask;
  // "Sanity check the DMA mask - it must be non-zero, and must be able to be satisfied by a DMA
  // allocation." ISA_DMA_THRESHOLD is ~0UL on PPC32: anything less than a 32-bit mask fails.
  if (mask === 0) {
    machine.printk('warn', dev, 'coherent DMA mask is unset');
    return null;
  }
  if (lowBits(mask, 32) !== 0xffff_ffff) {
    machine.printk('warn', dev, `coherent DMA mask ${hex(mask)} is smaller than system GFP_DMA mask 0xffffffff`);
    return null;
  }
  size = alignUp(size, mm.pageSize);
  const limit = mask >= Number.MAX_SAFE_INTEGER ? 0 : mask + 1;
  if ((limit !== 0 && size >= limit) || size >= CONSISTENT_SIZE) {
    machine.printk('warn', null, `coherent allocation too big (requested ${hex(size)} mask ${hex(mask)})`);
    return null;
  }
  const pfn = mm.allocPagesExact(size, gfp | GFP_DMA);
  if (pfn === null) return null;
  const linear = mm.pageAddress(pfn);
  // "Invalidate any data that might be lurking in the kernel direct-mapped region for device DMA."
  machine.cpu.fill(linear, size, 0);
  flushDcacheRange(machine.hw, pfn * mm.pageSize, size);
  const pfns = Array.from({ length: size / mm.pageSize }, (_, i) => pfn + i);
  const cpuAddr = mm.consistentMap(pfns, PAGE_KERNEL_NONCACHED);
  if (cpuAddr === null) {
    mm.freePagesExact(pfn, size);
    return null;
  }
  return { cpuAddr, dmaHandle: pfn * mm.pageSize + getDmaOffset(dev) };
}

/**
 * `dma_direct_alloc_coherent`: on coherent platforms pages of lowmem ("ignore region specifiers":
 * `__GFP_HIGHMEM` dropped), zeroed, used through the linear map; the handle is the physical address
 * plus the device's offset.
 */
export function dmaDirectAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  if (!dev.dmaCoherent) return dmaAllocConsistent(dev, size, gfp);
  const { machine } = dev;
  const { mm } = machine;
  size = alignUp(size, mm.pageSize);
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp | GFP_DMA);
  if (pfn === null) return null;
  const dmaHandle = pfn * mm.pageSize + getDmaOffset(dev);
  if (dmaHandle + size - 1 > dev.coherentDmaMask) {
    mm.freePages(pfn, order);
    return null;
  }
  const cpuAddr = mm.pageAddress(pfn);
  machine.cpu.fill(cpuAddr, size, 0);
  return { cpuAddr, dmaHandle };
}

/** `dma_direct_free_coherent`. */
export function dmaDirectFreeCoherent(dev: Device, size: number, cpuAddr: number, _dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  size = alignUp(size, mm.pageSize);
  if (mm.isConsistentAddress(cpuAddr)) {
    // __dma_free_coherent
    const pfn = Math.floor(mm.kvaToPhys(cpuAddr) / mm.pageSize);
    mm.consistentUnmap(cpuAddr);
    mm.freePagesExact(pfn, size);
    return;
  }
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}

/** `__dma_get_coherent_pfn` / `virt_to_page`: the first page frame of a coherent buffer. */
function coherentPfn(dev: Device, cpuAddr: number): number {
  const { mm } = dev.machine;
  return Math.floor(mm.kvaToPhys(cpuAddr) / mm.pageSize);
}

/**
 * `dma_direct_mmap_coherent`: `pgprot_noncached` on non-coherent platforms, then
 * `remap_pfn_range` from `vm_pgoff`; -ENXIO when the VMA does not fit in the buffer.
 */
export function dmaDirectMmapCoherent(dev: Device, vma: Vma, cpuAddr: number, _dmaHandle: number, size: number, attrs: number): number {
  const { mm } = dev.machine;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const count = Math.ceil(size / mm.pageSize);
  const userCount = (vma.end - vma.start) / mm.pageSize;
  if (vma.pgoff >= count || userCount > count - vma.pgoff) return -ENXIO;
  return remapPfnRange(vma, vma.start, coherentPfn(dev, cpuAddr) + vma.pgoff, userCount * mm.pageSize, vma.pgprot);
}

/** `get_sgtable` for direct buffers: one entry. */
export function dmaDirectGetSgtable(dev: Device, cpuAddr: number, _dmaHandle: number, size: number, _attrs: number): SgTable {
  const sgt = sgAllocTable(1);
  sgSetPage(sgt.sgl[0] as Scatterlist, coherentPfn(dev, cpuAddr), alignUp(size, dev.machine.pageSize), 0);
  return sgt;
}

/** `dma_direct_map_page`: `__dma_sync_page` on non-coherent platforms, then phys + offset. */
export function dmaDirectMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const { machine } = dev;
  const phys = pfn * machine.pageSize + offset;
  const addr = phys + getDmaOffset(dev);
  if (!dmaCapable(dev, addr, size)) {
    machine.warnOnce(dev, 'dma-direct-overflow', `DMA addr ${hex(addr)}+${size} overflow (mask ${hex(dev.dmaMask)}, bus limit ${hex(dev.busDmaLimit)}).`);
    return DMA_MAPPING_ERROR;
  }
  if (!dev.dmaCoherent) dmaSync(machine.hw, phys, size, dir);
  return addr;
}

/** `dma_direct_unmap_page`: today's sync for the CPU on non-coherent platforms. */
export function dmaDirectUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, _attrs: number): void {
  if (!dev.dmaCoherent) dmaSync(dev.machine.hw, addr - getDmaOffset(dev), size, dir);
}

/** `dma_direct_map_sg`: "sg->dma_address = sg_phys(sg) + get_dma_offset(dev)" per entry. */
export function dmaDirectMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const addr = dmaDirectMapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    if (addr === DMA_MAPPING_ERROR) {
      dmaDirectUnmapSg(dev, sgl, i, dir, attrs);
      return 0;
    }
    sg.dmaAddress = addr;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `dma_direct_unmap_sg`. */
export function dmaDirectUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    dmaDirectUnmapPage(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

/** `dma_direct_sync_single` (both directions of ownership; NOT_COHERENT_CACHE only). */
export function dmaDirectSyncSingle(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  if (!dev.dmaCoherent) dmaSync(dev.machine.hw, addr - getDmaOffset(dev), size, dir);
}

/** `dma_direct_sync_sg`. */
export function dmaDirectSyncSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  if (dev.dmaCoherent) return;
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    dmaSync(dev.machine.hw, sg.pfn * pageSize + sg.offset, sg.length, dir);
  }
}

/** `dma_cache_sync`: `__dma_sync` on the buffer (a no-op where the platform is coherent). */
export function dmaDirectCacheSync(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void {
  if (dev.dmaCoherent) return;
  dmaSync(dev.machine.hw, dev.machine.mm.kvaToPhys(cpuAddr), size, dir);
}

/**
 * `dma_direct_dma_supported`: on PPC64 "mask >= get_dma_offset(dev) + (memblock_end_of_DRAM() -
 * 1)"; on PPC32 (v3.4 said 1 to every mask) dma-direct's check against the DMA zone.
 */
export function dmaDirectDmaSupported(dev: Device, mask: number): boolean {
  if (ppc64(dev)) return mask >= getDmaOffset(dev) + dev.machine.maxPhysAddress - 1;
  return dmaDirectSupported(dev, mask);
}

/**
 * `dma_direct_get_required_mask`: "end = memblock_end_of_DRAM() + get_dma_offset(dev); mask =
 * 1ULL << (fls64(end) - 1); mask += mask - 1;" — all ones up to and including `end`'s top bit.
 */
export function dmaDirectGetRequiredMask(dev: Device): number {
  const end = dev.machine.maxPhysAddress + getDmaOffset(dev);
  return pow2(Math.floor(Math.log2(end)) + 1) - 1;
}

/** `dma_direct_ops`: set on every device of a direct platform, with its own `dma_offset`. */
export const dmaDirectOps: DmaMapOps = Object.freeze({
  name: 'dma_direct_ops',
  alloc: dmaDirectAllocCoherent,
  free: dmaDirectFreeCoherent,
  mmap: dmaDirectMmapCoherent,
  getSgtable: dmaDirectGetSgtable,
  mapPage: dmaDirectMapPage,
  unmapPage: dmaDirectUnmapPage,
  mapSg: dmaDirectMapSg,
  unmapSg: dmaDirectUnmapSg,
  syncSingleForCpu: dmaDirectSyncSingle,
  syncSingleForDevice: dmaDirectSyncSingle,
  syncSgForCpu: dmaDirectSyncSg,
  syncSgForDevice: dmaDirectSyncSg,
  cacheSync: dmaDirectCacheSync,
  dmaSupported: dmaDirectDmaSupported,
  getRequiredMask: dmaDirectGetRequiredMask,
});

