import { DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { bitMask, getOrder } from '@kdma/hw';
import type { Scatterlist } from '@kdma/scatterlist';
import {
  allocPoolPages,
  isSwiotlbActive,
  swiotlbAlloc,
  swiotlbFindPool,
  swiotlbFree,
  swiotlbMaxMappingSize,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
  zoneGfpFor,
  SWIOTLB_MAP_ERROR,
} from '@kdma/swiotlb';
import type { Device } from './device.js';
import { dmaCapable, dmaDirectSupported, dmaToPhys, physToDma } from './dma-direct.js';
import type { DmaAllocation, DmaMapOps } from './dma-map-ops.js';
import type { Machine } from './machine.js';
import { dmaCommonGetSgtable, dmaCommonMmap } from './ops-helpers.js';
import { devIoTlb, MachineSwiotlb } from './swiotlb.js';

/*
 * `swiotlb_dma_ops` as the seed's lib/swiotlb.c (v3.4) had them: a whole `dma_map_ops` of its own
 * that maps directly whatever the device can reach and bounces the rest through the machine's
 * io_tlb pool, before dma-direct absorbed swiotlb (v5.0). Differences from 2012, each where today's
 * kernel fixed or finished something:
 * - the pool is today's (areas, min_align_mask, page alignment) and bounces as today's does:
 *   map always copies the original in (CVE-2022-0854) unless the machine was built with
 *   `swiotlb.leakyBounce`;
 * - `DMA_ATTR_SKIP_CPU_SYNC` (2016) is honoured;
 * - a non-coherent device gets the arch syncs around the bounce, as arm64's swiotlb wrappers
 *   (v3.7) added; x86 and ia64, the 2012 users, are coherent;
 * - `mmap`/`get_sgtable` are `dma_common_mmap`/`dma_common_get_sgtable` (the v3.6 fallback), and
 *   `max_mapping_size` is there (v5.0).
 * Like 2012: a mapping the pool cannot hold gets the address of the 32 KiB overflow buffer, which
 * `mapping_error` recognises, after "DMA: Out of SW-IOMMU space for … bytes at device …"; bigger
 * than the overflow buffer, it panics.
 */

/** `io_tlb_overflow`: the bytes of the overflow buffer. */
export const IO_TLB_OVERFLOW = 32 * 1024;

const STATE_KEY = 'swiotlb_dma_ops';

/** `io_tlb_overflow_buffer`, allocated in low memory the first time it is needed. */
function overflowBuffer(machine: Machine): number {
  const known = machine.archState.get(STATE_KEY);
  if (typeof known === 'number') return known;
  const lowRam = machine.hw.ram.regions.some((region) => region.base < 2 ** 32);
  const pages = allocPoolPages(machine.mm, machine.arch.zones, IO_TLB_OVERFLOW, lowRam ? 2 ** 32 - 1 : Number.MAX_SAFE_INTEGER, true);
  if (pages === null) throw new Error('swiotlb_dma_ops: cannot allocate the overflow buffer (Cannot allocate SWIOTLB overflow buffer!)');
  const paddr = pages.pfn * machine.mm.pageSize;
  machine.archState.set(STATE_KEY, paddr);
  return paddr;
}

/** `swiotlb_force`. */
function swiotlbForce(dev: Device): boolean {
  const mem = devIoTlb(dev).ioTlbMem;
  return mem !== null && mem.forceBounce;
}

/** `map_single`: a bounce slot for `[phys, +size)`, or -1. */
function mapSingle(dev: Device, phys: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const view = devIoTlb(dev);
  if (!isSwiotlbActive(view)) return SWIOTLB_MAP_ERROR;
  const tlb = swiotlbTblMapSingle(view, phys, size, 0, dir, attrs | DMA_ATTR_NO_WARN);
  if (tlb !== SWIOTLB_MAP_ERROR) dev.dmaSkipSync = false;
  return tlb;
}

/**
 * `swiotlb_full`: "This is very bad": drivers of 2012 rarely checked `dma_mapping_error`, so a
 * small mapping gets the overflow buffer and a large one panics rather than let the device loose
 * on random memory.
 */
function swiotlbFull(dev: Device, size: number, dir: DmaDataDirection, doPanic: boolean): void {
  const machine = dev.machine;
  machine.printk('err', null, `DMA: Out of SW-IOMMU space for ${size} bytes at device ${dev.name}`);
  if (size <= IO_TLB_OVERFLOW || !doPanic) return;
  const what = dir === DMA_BIDIRECTIONAL ? 'accessed' : dir === DMA_FROM_DEVICE ? 'written' : 'read';
  const message = `Kernel panic - not syncing: DMA: Random memory could be DMA ${what}`;
  machine.printk('err', null, message);
  throw new Error(message);
}

function isBuffer(dev: Device, paddr: number): boolean {
  return swiotlbFindPool(devIoTlb(dev), paddr) !== null;
}

/** `swiotlb_map_page`. */
export function swiotlbMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const machine = dev.machine;
  const phys = pfn * machine.mm.pageSize + offset;
  let devAddr = physToDma(dev, phys);
  const sync = !dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0;
  // "If the address happens to be in the device's DMA window, we can safely return the device
  // addr and not worry about bounce buffering it."
  if (dmaCapable(dev, devAddr, size) && !swiotlbForce(dev)) {
    if (sync) machine.directHooks.syncForDevice(phys, size, dir);
    return devAddr;
  }
  let map = mapSingle(dev, phys, size, dir, attrs);
  if (map === SWIOTLB_MAP_ERROR) {
    swiotlbFull(dev, size, dir, true);
    map = overflowBuffer(machine);
  }
  devAddr = physToDma(dev, map);
  if (!dmaCapable(dev, devAddr, size)) {
    if (isBuffer(dev, map)) swiotlbTblUnmapSingle(devIoTlb(dev), map, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    return physToDma(dev, overflowBuffer(machine));
  }
  if (sync && isBuffer(dev, map)) machine.directHooks.syncForDevice(map, size, dir);
  return devAddr;
}

/** `swiotlb_unmap_page` (`unmap_single`). */
export function swiotlbUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const paddr = dmaToPhys(dev, addr);
  if (!dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForCpu(paddr, size, dir);
  if (isBuffer(dev, paddr)) swiotlbTblUnmapSingle(devIoTlb(dev), paddr, size, dir, attrs);
}

/** `swiotlb_sync_single_for_cpu`. */
export function swiotlbSyncSingleForCpuOp(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const paddr = dmaToPhys(dev, addr);
  if (!dev.dmaCoherent) dev.machine.directHooks.syncForCpu(paddr, size, dir);
  if (isBuffer(dev, paddr)) swiotlbSyncSingleForCpu(devIoTlb(dev), paddr, size, dir);
}

/** `swiotlb_sync_single_for_device`. */
export function swiotlbSyncSingleForDeviceOp(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const paddr = dmaToPhys(dev, addr);
  if (isBuffer(dev, paddr)) swiotlbSyncSingleForDevice(devIoTlb(dev), paddr, size, dir);
  if (!dev.dmaCoherent) dev.machine.directHooks.syncForDevice(paddr, size, dir);
}

/**
 * `swiotlb_map_sg_attrs`: each entry on its own, bounced if the device cannot reach it; on a full
 * pool "we expect map_sg users to do proper error handling": what was mapped is undone, the first
 * entry's `dma_length` is 0, and the result is 0.
 */
export function swiotlbMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const machine = dev.machine;
  const pageSize = machine.mm.pageSize;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const paddr = sg.pfn * pageSize + sg.offset;
    const devAddr = physToDma(dev, paddr);
    if (swiotlbForce(dev) || !dmaCapable(dev, devAddr, sg.length)) {
      const map = mapSingle(dev, paddr, sg.length, dir, attrs);
      if (map === SWIOTLB_MAP_ERROR) {
        swiotlbFull(dev, sg.length, dir, false);
        swiotlbUnmapSg(dev, sgl, i, dir, attrs);
        (sgl[0] as Scatterlist).dmaLength = 0;
        return 0;
      }
      if (!dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) machine.directHooks.syncForDevice(map, sg.length, dir);
      sg.dmaAddress = physToDma(dev, map);
    } else {
      if (!dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) machine.directHooks.syncForDevice(paddr, sg.length, dir);
      sg.dmaAddress = devAddr;
    }
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `swiotlb_unmap_sg_attrs`. */
export function swiotlbUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    swiotlbUnmapPage(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

/** `swiotlb_sync_sg_for_cpu`. */
export function swiotlbSyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    swiotlbSyncSingleForCpuOp(dev, sg.dmaAddress, sg.dmaLength, dir);
  }
}

/** `swiotlb_sync_sg_for_device`. */
export function swiotlbSyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    swiotlbSyncSingleForDeviceOp(dev, sg.dmaAddress, sg.dmaLength, dir);
  }
}

/**
 * `swiotlb_alloc_coherent`: pages the coherent mask reaches (the zone chosen from it, as x86's
 * `dma_alloc_coherent_gfp_flags` did), "else fall back on map_single(), which will grab memory
 * from the lowest available address range" — slots of the io_tlb pool. Zeroed; null when neither
 * works or the result is still out of reach ("hwdev DMA mask = …, dev_addr = …").
 */
export function swiotlbAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const machine = dev.machine;
  const { mm } = machine;
  const order = getOrder(size, mm.pageSize);
  const dmaMask = dev.coherentDmaMask !== 0 ? dev.coherentDmaMask : bitMask(32);
  const zone = zoneGfpFor(machine.arch.zones, dmaToPhys(dev, dmaMask));
  let phys: number | null = null;
  let fromPool = false;
  const pfn = mm.allocPages(order, gfp | zone);
  if (pfn !== null) {
    if (physToDma(dev, pfn * mm.pageSize) + size - 1 > dmaMask) mm.freePages(pfn, order);
    else phys = pfn * mm.pageSize;
  }
  if (phys === null) {
    phys = swiotlbAlloc(devIoTlb(dev), size);
    if (phys === null) return null;
    fromPool = true;
  }
  const cpuAddr = mm.physToVirt(phys);
  machine.cpu.fill(cpuAddr, size, 0);
  const devAddr = physToDma(dev, phys);
  if (devAddr + size - 1 > dmaMask) {
    const hex16 = (v: number): string => `0x${v.toString(16).padStart(16, '0')}`;
    machine.printk('warn', null, `hwdev DMA mask = ${hex16(dmaMask)}, dev_addr = ${hex16(devAddr)}`);
    if (fromPool) swiotlbFree(devIoTlb(dev), phys);
    return null;
  }
  return { cpuAddr, dmaHandle: devAddr };
}

/** `swiotlb_free_coherent`: back to the pool or to the page allocator. */
export function swiotlbFreeCoherent(dev: Device, size: number, _cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  const paddr = dmaToPhys(dev, dmaHandle);
  if (swiotlbFree(devIoTlb(dev), paddr)) return;
  mm.freePages(Math.floor(paddr / mm.pageSize), getOrder(size, mm.pageSize));
}

/** `swiotlb_dma_mapping_error`: the overflow buffer's address is the error value. */
export function swiotlbDmaMappingError(dev: Device, addr: number): boolean {
  return addr === physToDma(dev, overflowBuffer(dev.machine));
}

/** `swiotlb_dma_supported`: the mask reaches the end of the pool. */
export function swiotlbDmaSupported(dev: Device, mask: number): boolean {
  const backend = dev.machine.swiotlb;
  const pool = backend instanceof MachineSwiotlb ? (devIoTlb(dev).ioTlbMem?.defpool ?? null) : null;
  if (pool === null) return dmaDirectSupported(dev, mask);
  return physToDma(dev, pool.end - 1) <= mask;
}

/** `swiotlb_max_mapping_size` (v5.0). */
function swiotlbMaxMappingSizeOp(dev: Device): number {
  return swiotlbMaxMappingSize(dev.dmaParms.minAlignMask);
}

/** `swiotlb_dma_ops`: `setDmaOps(dev, swiotlbDmaOps)` gives a device the 2012 swiotlb path. */
export const swiotlbDmaOps: DmaMapOps = Object.freeze({
  name: 'swiotlb_dma_ops',
  alloc: swiotlbAllocCoherent,
  free: swiotlbFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: swiotlbMapPage,
  unmapPage: swiotlbUnmapPage,
  mapSg: swiotlbMapSg,
  unmapSg: swiotlbUnmapSg,
  syncSingleForCpu: swiotlbSyncSingleForCpuOp,
  syncSingleForDevice: swiotlbSyncSingleForDeviceOp,
  syncSgForCpu: swiotlbSyncSgForCpu,
  syncSgForDevice: swiotlbSyncSgForDevice,
  mappingError: swiotlbDmaMappingError,
  dmaSupported: swiotlbDmaSupported,
  maxMappingSize: swiotlbMaxMappingSizeOp,
});
