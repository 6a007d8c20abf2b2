import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { alignUp, getOrder, pow2 } from '@kdma/hw';
import { GFP_DMA, GFP_DMA32, NO_KERNEL_MAPPING_BASE, PAGE_KERNEL, __GFP_NOWARN, remapPfnRange, type Vma } from '@kdma/mm';
import { sgAllocTable, sgSetPage, type Scatterlist, type SgTable } from '@kdma/scatterlist';
import { EIO, ENXIO } from './errno.js';
import { DMA_MAPPING_ERROR, type DmaAllocation, type DmaMapOps } from './dma-map-ops.js';
import type { Device } from './device.js';
import { dmaPgprot } from './dma-pgprot.js';
import { minNotZero } from './limits.js';
import { dmaCommonContiguousRemap, dmaCommonFreeRemap } from './remap.js';

/*
 * dma-direct (kernel/dma/direct.c): the generic path for devices that see physical memory,
 * possibly through an offset, with the arch hooks for cache maintenance and swiotlb for what a
 * device cannot reach.
 */

/** `phys_to_dma`: the device's view of a physical address. */
export function physToDma(dev: Device, paddr: number): number {
  return paddr - dev.dmaOffset;
}

/** `dma_to_phys`. */
export function dmaToPhys(dev: Device, addr: number): number {
  return addr + dev.dmaOffset;
}

/** `dma_capable`: the whole range lies below the device's mask and the bus limit. */
export function dmaCapable(dev: Device, addr: number, size: number): boolean {
  if (addr === DMA_MAPPING_ERROR || addr < 0) return false;
  return addr + Math.max(size, 1) - 1 <= minNotZero(dev.dmaMask, dev.busDmaLimit);
}

/** `dma_coherent_ok`: a coherent buffer at `paddr` is reachable through the coherent mask. */
function dmaCoherentOk(dev: Device, paddr: number, size: number): boolean {
  const addr = physToDma(dev, paddr);
  return addr >= 0 && addr + size - 1 <= minNotZero(dev.coherentDmaMask, dev.busDmaLimit);
}

/** `dma_direct_optimal_gfp_mask`: the zone the coherent mask needs, tried first. */
function optimalGfpMask(dev: Device): number {
  const physLimit = dmaToPhys(dev, minNotZero(dev.coherentDmaMask, dev.busDmaLimit));
  const zones = dev.machine.arch.zones;
  const dmaZone = zones.find((zone) => zone.name === 'DMA');
  if (dmaZone !== undefined && physLimit <= dmaZone.end - 1) return GFP_DMA;
  if (physLimit <= 2 ** 32 - 1) return GFP_DMA32;
  return 0;
}

/**
 * `__dma_direct_alloc_pages`: CMA first (`dma_alloc_contiguous`), then the page allocator, retrying
 * in lower zones while the pages land above the coherent mask. Returns the first pfn of a block of
 * `2^get_order(size)` pages (or exactly the CMA pages), or null.
 */
export function dmaDirectAllocPages(dev: Device, size: number, gfp: number): { pfn: number; cma: boolean } | null {
  const { mm } = dev.machine;
  const pageSize = mm.pageSize;
  // dma_direct_alloc_swiotlb: a restricted pool's device allocates from its pool (is_swiotlb_for_alloc).
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isForAlloc(dev)) {
    const pfn = swiotlb.alloc(dev, size);
    if (pfn === null) return null;
    if (dmaCoherentOk(dev, pfn * pageSize, size)) return { pfn, cma: false };
    swiotlb.free?.(dev, pfn, size);
    return null;
  }
  const pages = Math.ceil(size / pageSize);
  const order = getOrder(size, pageSize);
  if (pages > 1 && mm.stats().cmaTotal > 0) {
    const pfn = mm.cmaAlloc(pages, Math.min(order, 8));
    if (pfn !== null) {
      if (dmaCoherentOk(dev, pfn * pageSize, size)) return { pfn, cma: true };
      mm.cmaRelease(pfn, pages);
    }
  }
  let zoneGfp = gfp | optimalGfpMask(dev);
  for (;;) {
    const pfn = mm.allocPages(order, zoneGfp);
    if (pfn !== null && dmaCoherentOk(dev, pfn * pageSize, size)) return { pfn, cma: false };
    if (pfn !== null) mm.freePages(pfn, order);
    const zones = dev.machine.arch.zones;
    if (zones.some((zone) => zone.name === 'DMA32') && (zoneGfp & (GFP_DMA32 | GFP_DMA)) === 0) {
      zoneGfp |= GFP_DMA32;
    } else if (zones.some((zone) => zone.name === 'DMA') && (zoneGfp & GFP_DMA) === 0) {
      zoneGfp = (zoneGfp & ~GFP_DMA32) | GFP_DMA;
    } else {
      return null;
    }
  }
}

/** `dma_free_contiguous`: back to CMA or the page allocator, whichever gave it. */
export function dmaDirectFreePages(dev: Device, size: number, pfn: number): void {
  const { mm } = dev.machine;
  const pages = Math.ceil(size / mm.pageSize);
  // swiotlb_free: pages of a restricted pool go back to it.
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.free(dev, pfn, size)) return;
  if (mm.cmaRelease(pfn, pages)) return;
  mm.freePages(pfn, getOrder(size, mm.pageSize));
}

/** The cookie dma-direct returns for `DMA_ATTR_NO_KERNEL_MAPPING`: never mapped, so it faults. */
export function noKernelMappingCookie(dev: Device, pfn: number): number {
  return NO_KERNEL_MAPPING_BASE + pfn * dev.machine.mm.pageSize;
}

function isNoKernelMappingCookie(cpuAddr: number): boolean {
  return cpuAddr >= NO_KERNEL_MAPPING_BASE;
}

/** `dma_direct_alloc`. */
export function dmaDirectAlloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const hooks = machine.directHooks;
  const honoured = attrs & hooks.honouredAttrs;
  size = alignUp(size, mm.pageSize);
  if ((attrs & DMA_ATTR_NO_WARN) !== 0) gfp |= __GFP_NOWARN;
  const coherent = dev.dmaCoherent;

  if ((honoured & DMA_ATTR_NO_KERNEL_MAPPING) !== 0) {
    // dma_direct_alloc_no_mapping: not zeroed, and the page itself is the cookie.
    const block = dmaDirectAllocPages(dev, size, gfp);
    if (block === null) return null;
    if (!coherent) hooks.prepCoherent(block.pfn, size);
    return { cpuAddr: noKernelMappingCookie(dev, block.pfn), dmaHandle: physToDma(dev, block.pfn * mm.pageSize) };
  }

  const cached = coherent || (honoured & DMA_ATTR_NON_CONSISTENT) !== 0;
  const block = dmaDirectAllocPages(dev, size, gfp);
  if (block === null) return null;
  const dmaHandle = physToDma(dev, block.pfn * mm.pageSize);
  const linear = mm.pageAddress(block.pfn);
  // Zeroed through the cached linear alias and then written back, as ARM's __dma_clear_buffer
  // does; today's dma-direct memsets the remapped alias instead, with the same resulting bytes.
  machine.cpu.fill(linear, size, 0);
  if (cached) return { cpuAddr: linear, dmaHandle };

  hooks.prepCoherent(block.pfn, size);
  const prot = dmaPgprot(dev, PAGE_KERNEL, attrs);
  const pages = size / mm.pageSize;
  const cpuAddr = hooks.remap ? hooks.remap(block.pfn, pages, prot) : dmaCommonContiguousRemap(machine, block.pfn, pages, prot);
  if (cpuAddr === null) {
    dmaDirectFreePages(dev, size, block.pfn);
    return null;
  }
  return { cpuAddr, dmaHandle };
}

/** `dma_direct_free`. */
export function dmaDirectFree(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  size = alignUp(size, mm.pageSize);
  const pfn = Math.floor(dmaToPhys(dev, dmaHandle) / mm.pageSize);
  if (!isNoKernelMappingCookie(cpuAddr) && !mm.virtAddrValid(cpuAddr)) {
    const hooks = dev.machine.directHooks;
    if (hooks.unremap) hooks.unremap(cpuAddr);
    else dmaCommonFreeRemap(dev.machine, cpuAddr);
  }
  dmaDirectFreePages(dev, size, pfn);
}

/** `dma_direct_map_page`. */
export function dmaDirectMapPage(
  dev: Device,
  pfn: number,
  offset: number,
  size: number,
  dir: DmaDataDirection,
  attrs: number,
): number {
  const { machine } = dev;
  const phys = pfn * machine.mm.pageSize + offset;
  const dmaAddr = physToDma(dev, phys);
  const swiotlb = machine.swiotlb;
  if ((swiotlb !== null && swiotlb.isForceBounce(dev)) || !dmaCapable(dev, dmaAddr, size)) {
    return dmaDirectMapBounce(dev, phys, dmaAddr, size, dir, attrs);
  }
  if (!dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) machine.directHooks.syncForDevice(phys, size, dir);
  return dmaAddr;
}

/**
 * A buffer swiotlb must bounce (forced, or out of the device's reach with swiotlb active), else
 * the WARN of a mapping the device cannot reach; out of line, so the direct path stays small
 * enough for the JIT to inline down to the cache maintenance.
 */
function dmaDirectMapBounce(dev: Device, phys: number, dmaAddr: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && (swiotlb.isForceBounce(dev) || swiotlb.isActive(dev))) return swiotlb.map(dev, phys, size, dir, attrs);
  return dmaDirectOverflow(dev, dmaAddr, size);
}

/** The WARN of a mapping the device cannot reach, out of line: the map path stays small enough to inline. */
function dmaDirectOverflow(dev: Device, dmaAddr: number, size: number): number {
  dev.machine.warnOnce(
    dev,
    'dma-direct-overflow',
    `DMA addr 0x${dmaAddr.toString(16).padStart(16, '0')}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
  );
  return DMA_MAPPING_ERROR;
}

/** `dma_direct_unmap_page`. */
export function dmaDirectUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const phys = dmaToPhys(dev, addr);
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dmaDirectSyncSingleForCpu(dev, addr, size, dir);
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.unmap(dev, phys, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
}

/** `dma_direct_sync_single_for_cpu`. */
export function dmaDirectSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const paddr = dmaToPhys(dev, addr);
  if (!dev.dmaCoherent) dev.machine.directHooks.syncForCpu(paddr, size, dir);
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isBuffer(dev, paddr)) swiotlb.syncForCpu(dev, paddr, size, dir);
}

/** `dma_direct_sync_single_for_device`. */
export function dmaDirectSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const paddr = dmaToPhys(dev, addr);
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isBuffer(dev, paddr)) swiotlb.syncForDevice(dev, paddr, size, dir);
  if (!dev.dmaCoherent) dev.machine.directHooks.syncForDevice(paddr, size, dir);
}

/** `dma_direct_map_sg`: one mapping per entry, no merging; -EIO and nothing left mapped on failure. */
export function dmaDirectMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    sg.dmaAddress = dmaDirectMapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    if (sg.dmaAddress === DMA_MAPPING_ERROR) {
      dmaDirectUnmapSg(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      return -EIO;
    }
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

/** `dma_direct_sync_sg_for_cpu`. */
export function dmaDirectSyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    dmaDirectSyncSingleForCpu(dev, sg.dmaAddress, sg.length, dir);
  }
}

/** `dma_direct_sync_sg_for_device`. */
export function dmaDirectSyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    dmaDirectSyncSingleForDevice(dev, sg.dmaAddress, sg.length, dir);
  }
}

/** `dma_direct_map_resource`: MMIO for peer devices; no cache maintenance, no bouncing. */
export function dmaDirectMapResource(dev: Device, paddr: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  if (!dmaCapable(dev, paddr, size)) {
    dev.machine.printk(
      'err',
      dev,
      `DMA addr 0x${paddr.toString(16).padStart(16, '0')}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
    );
    return DMA_MAPPING_ERROR;
  }
  return paddr;
}

/** `dma_direct_mmap` (kernel/dma/direct.c; the range rule of dma_common_mmap). */
export function dmaDirectMmap(dev: Device, vma: Vma, _cpuAddr: number, dmaAddr: number, size: number, attrs: number): number {
  const { mm } = dev.machine;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const count = Math.ceil(size / mm.pageSize);
  const userCount = (vma.end - vma.start) / mm.pageSize;
  const off = vma.pgoff;
  if (off >= count || userCount > count - off) return -ENXIO;
  const pfn = Math.floor(dmaToPhys(dev, dmaAddr) / mm.pageSize);
  return remapPfnRange(vma, vma.start, pfn + off, userCount * mm.pageSize, vma.pgprot);
}

/** `dma_direct_get_sgtable`: one entry of the page-aligned size. */
export function dmaDirectGetSgtable(dev: Device, _cpuAddr: number, dmaAddr: number, size: number, _attrs: number): SgTable {
  const { mm } = dev.machine;
  const sgt = sgAllocTable(1);
  sgSetPage(sgt.sgl[0] as Scatterlist, Math.floor(dmaToPhys(dev, dmaAddr) / mm.pageSize), alignUp(size, mm.pageSize), 0);
  return sgt;
}

/** `dma_direct_alloc_pages`: cached, zeroed pages for `dma_alloc_pages`/`dma_alloc_noncoherent`. */
export function dmaDirectAllocPagesOp(dev: Device, size: number, _dir: DmaDataDirection, gfp: number): { pfn: number; dmaHandle: number } | null {
  const { machine } = dev;
  const block = dmaDirectAllocPages(dev, alignUp(size, machine.mm.pageSize), gfp);
  if (block === null) return null;
  machine.cpu.fill(machine.mm.pageAddress(block.pfn), alignUp(size, machine.mm.pageSize), 0);
  return { pfn: block.pfn, dmaHandle: physToDma(dev, block.pfn * machine.mm.pageSize) };
}

/** `dma_direct_free_pages`. */
export function dmaDirectFreePagesOp(dev: Device, size: number, pfn: number, _dmaHandle: number, _dir: DmaDataDirection): void {
  dmaDirectFreePages(dev, alignUp(size, dev.machine.mm.pageSize), pfn);
}

/**
 * `dma_cache_sync` for `DMA_ATTR_NON_CONSISTENT` memory (v3.4–v5.9): the driver's explicit
 * ownership transfer, a no-op where the memory is consistent anyway.
 */
export function dmaDirectCacheSync(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void {
  const { machine } = dev;
  if (dev.dmaCoherent || (machine.directHooks.honouredAttrs & DMA_ATTR_NON_CONSISTENT) === 0) return;
  if (!machine.mm.virtAddrValid(cpuAddr)) return;
  machine.directHooks.syncForDevice(machine.mm.virtToPhys(cpuAddr), size, dir);
}

/** `dma_direct_get_required_mask`: the all-ones mask that covers the top of RAM. */
export function dmaDirectGetRequiredMask(dev: Device): number {
  const maxDma = physToDma(dev, dev.machine.maxPhysAddress - 1);
  return pow2(Math.floor(Math.log2(maxDma) + 1)) - 1;
}

/** `dma_direct_supported`: 32-bit masks always; smaller ones only down to the DMA zone. */
export function dmaDirectSupported(dev: Device, mask: number): boolean {
  if (mask >= 2 ** 32 - 1) return true;
  let minMask = dev.machine.maxPhysAddress - 1;
  const dmaZone = dev.machine.arch.zones.find((zone) => zone.name === 'DMA');
  if (dmaZone !== undefined) minMask = Math.min(minMask, dmaZone.end - 1);
  return mask >= physToDma(dev, minMask);
}

/** `dma_direct_max_mapping_size`: swiotlb's limit when the device may bounce. */
export function dmaDirectMaxMappingSize(dev: Device): number {
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isActive(dev) && (swiotlb.isForceBounce(dev) || dmaAddressingLimited(dev))) {
    return swiotlb.maxMappingSize(dev);
  }
  return Number.MAX_SAFE_INTEGER;
}

/** `dma_addressing_limited`: the device cannot reach all of RAM. */
export function dmaAddressingLimited(dev: Device): boolean {
  return minNotZero(dev.dmaMask, dev.busDmaLimit) < dmaDirectGetRequiredMask(dev);
}

/** dma-direct as an ops object, so `getDmaOps` can return it (the kernel returns NULL). */
export const dmaDirectOps: DmaMapOps = Object.freeze({
  name: 'dma-direct',
  alloc: dmaDirectAlloc,
  free: dmaDirectFree,
  mmap: dmaDirectMmap,
  getSgtable: dmaDirectGetSgtable,
  allocPages: dmaDirectAllocPagesOp,
  freePages: dmaDirectFreePagesOp,
  mapPage: dmaDirectMapPage,
  unmapPage: dmaDirectUnmapPage,
  mapSg: dmaDirectMapSg,
  unmapSg: dmaDirectUnmapSg,
  mapResource: dmaDirectMapResource,
  syncSingleForCpu: dmaDirectSyncSingleForCpu,
  syncSingleForDevice: dmaDirectSyncSingleForDevice,
  syncSgForCpu: dmaDirectSyncSgForCpu,
  syncSgForDevice: dmaDirectSyncSgForDevice,
  cacheSync: dmaDirectCacheSync,
  dmaSupported: dmaDirectSupported,
  getRequiredMask: dmaDirectGetRequiredMask,
  maxMappingSize: dmaDirectMaxMappingSize,
});
