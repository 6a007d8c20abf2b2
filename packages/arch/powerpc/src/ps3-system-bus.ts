import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { alignUp, getOrder } from '@kdma/hw';
import { GFP_DMA, GFP_DMA32, __GFP_HIGHMEM } from '@kdma/mm';
import { DMA_MAPPING_ERROR, EINVAL, dmaBitMask, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, setDmaOps, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { CBE_IOPTE_M, CBE_IOPTE_PP_R, CBE_IOPTE_PP_W, CBE_IOPTE_SO_R, CBE_IOPTE_SO_RW } from './cell-iommu.js';
import { archData } from './device.js';
import { WindowedTranslation } from './io-page-table.js';
import { LV1_SUCCESS, type Lv1 } from './lv1.js';
import { kernelBug, PS3_DMA_OTHER, PS3_SB_IOPTE_FLAGS, ps3DmaMap, ps3DmaRegionCreate, ps3DmaRegionInit, ps3DmaUnmap, type Ps3Device } from './ps3-mm.js';

/*
 * arch/powerpc/platforms/ps3/system-bus.c: the PS3 system bus. `ps3_system_bus_device_register`
 * gives a device `ps3_sb_dma_ops` or `ps3_ioc0_dma_ops` by its `dev_type`; both map through the
 * device's `d_region` (ps3/mm.c), i.e. through lv1.
 */

/** The device's PS3 record. */
export function ps3Device(dev: Device): Ps3Device {
  const ps3 = archData(dev).ps3;
  if (ps3 === null) throw new TypeError(`${dev.name} is not a PS3 system-bus device`);
  return ps3;
}

/**
 * `ps3_alloc_coherent`: zeroed pages ("flag &= ~(__GFP_DMA | __GFP_HIGHMEM); flag |= __GFP_ZERO"),
 * mapped `PP_W|PP_R|SO_RW|M` through the region.
 */
export function ps3AllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const { mm } = dev.machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp & ~(GFP_DMA | GFP_DMA32 | __GFP_HIGHMEM));
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  dev.machine.cpu.fill(cpuAddr, alignUp(size, mm.pageSize), 0);
  const bus = ps3DmaMap(ps3Device(dev).region, pfn * mm.pageSize, size, PS3_SB_IOPTE_FLAGS);
  if (bus === null) {
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle: bus };
}

/** `ps3_free_coherent`. */
export function ps3FreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  ps3DmaUnmap(ps3Device(dev).region, dmaHandle, size);
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}

/**
 * `ps3_sb_map_page`: "CBE_IOPTE_PP_R | CBE_IOPTE_PP_W | CBE_IOPTE_SO_RW | CBE_IOPTE_M" whatever
 * the direction. On failure 2012 returned bus address 0; kdma returns `DMA_MAPPING_ERROR`.
 */
export function ps3SbMapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  const bus = ps3DmaMap(ps3Device(dev).region, pfn * dev.machine.pageSize + offset, size, PS3_SB_IOPTE_FLAGS);
  return bus ?? DMA_MAPPING_ERROR;
}

/**
 * `ps3_ioc0_map_page`: the IOPTE protection follows the direction — BIDIRECTIONAL read, write,
 * `SO_RW`; TO_DEVICE read and `SO_R`; FROM_DEVICE write and `SO_RW`.
 */
export function ps3Ioc0MapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  let flags = CBE_IOPTE_M;
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      flags |= CBE_IOPTE_PP_R | CBE_IOPTE_PP_W | CBE_IOPTE_SO_RW;
      break;
    case DMA_TO_DEVICE:
      flags |= CBE_IOPTE_PP_R | CBE_IOPTE_SO_R;
      break;
    case DMA_FROM_DEVICE:
      flags |= CBE_IOPTE_PP_W | CBE_IOPTE_SO_RW;
      break;
    default:
      kernelBug(dev.machine, 'arch/powerpc/platforms/ps3/system-bus.c:ps3_ioc0_map_page');
  }
  const bus = ps3DmaMap(ps3Device(dev).region, pfn * dev.machine.pageSize + offset, size, flags);
  return bus ?? DMA_MAPPING_ERROR;
}

/** `ps3_unmap_page`. */
export function ps3UnmapPage(dev: Device, addr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  ps3DmaUnmap(ps3Device(dev).region, addr, size);
}

/** `ps3_sb_map_sg` (static DMA): each entry through the linear region. */
export function ps3SbMapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): number {
  const region = ps3Device(dev).region;
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const bus = ps3DmaMap(region, sg.pfn * pageSize + sg.offset, sg.length, 0);
    if (bus === null) return -EINVAL;
    sg.dmaAddress = bus;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `ps3_sb_unmap_sg` (static DMA): nothing. */
export function ps3SbUnmapSg(): void {}

/** `ps3_ioc0_map_sg`: "BUG();" — IOC0 devices never map scatterlists. */
export function ps3Ioc0MapSg(dev: Device): number {
  return kernelBug(dev.machine, 'arch/powerpc/platforms/ps3/system-bus.c:ps3_ioc0_map_sg');
}

/** `ps3_ioc0_unmap_sg`: "BUG();" */
export function ps3Ioc0UnmapSg(dev: Device): void {
  kernelBug(dev.machine, 'arch/powerpc/platforms/ps3/system-bus.c:ps3_ioc0_unmap_sg');
}

/** `ps3_dma_supported`: "return mask >= DMA_BIT_MASK(32);" */
export function ps3DmaSupported(_dev: Device, mask: number): boolean {
  return mask >= dmaBitMask(32);
}

/** `ps3_dma_get_required_mask`. */
export function ps3DmaGetRequiredMask(): number {
  return dmaBitMask(32);
}

/** `ps3_sb_dma_ops`. mmap and get_sgtable: the generic ones (v3.6's fallback). */
export const ps3SbDmaOps: DmaMapOps = Object.freeze({
  name: 'ps3_sb_dma_ops',
  alloc: ps3AllocCoherent,
  free: ps3FreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: ps3SbMapPage,
  unmapPage: ps3UnmapPage,
  mapSg: ps3SbMapSg,
  unmapSg: ps3SbUnmapSg,
  dmaSupported: ps3DmaSupported,
  getRequiredMask: ps3DmaGetRequiredMask,
});

/** `ps3_ioc0_dma_ops`. */
export const ps3Ioc0DmaOps: DmaMapOps = Object.freeze({
  name: 'ps3_ioc0_dma_ops',
  alloc: ps3AllocCoherent,
  free: ps3FreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: ps3Ioc0MapPage,
  unmapPage: ps3UnmapPage,
  mapSg: ps3Ioc0MapSg,
  unmapSg: ps3Ioc0UnmapSg,
  dmaSupported: ps3DmaSupported,
  getRequiredMask: ps3DmaGetRequiredMask,
});

/**
 * `ps3_system_bus_device_register` plus what the driver's probe does for DMA: open the device with
 * lv1 (`lv1_open_device`, or `lv1_gpu_open` for the IOC0 devices), `ps3_dma_region_init` with the
 * device's page size, `ps3_dma_region_create`; the bus master walks the device's IO address space
 * as lv1 maps it.
 */
export function ps3DeviceSetup(lv1: Lv1, dev: Device, type: 'sb' | 'ioc0', pageShift: number, devId: number): void {
  const data = archData(dev);
  const busId = 1;
  const ps3 = { dev, type, busId, devId } as Omit<Ps3Device, 'region'> as Ps3Device;
  if (type === 'sb') lv1.openDevice(busId, devId);
  else if (lv1.callsNamed('lv1_gpu_open').length === 0) lv1.gpuOpen();
  ps3.region = ps3DmaRegionInit(ps3, pageShift, PS3_DMA_OTHER);
  data.ps3 = ps3;
  const windows = type === 'sb' ? lv1.sbWindows(busId, devId) : lv1.ioc0Windows;
  dev.hw.translation = new WindowedTranslation(windows, (fault) => lv1.reportFault(fault.device, fault.kind, fault.busAddr));
  if (ps3DmaRegionCreate(ps3.region) !== LV1_SUCCESS) throw new Error(`${dev.name}: ps3_dma_region_create failed`);
  setDmaOps(dev, type === 'sb' ? ps3SbDmaOps : ps3Ioc0DmaOps);
}
