import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '@kdma/dma-mapping';
import type { DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Vma } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { ia64SwiotlbDmaOps } from './pci-swiotlb.js';
import { sbaDmaOps, sbaDmaSupported } from './sba-iommu.js';

/*
 * arch/ia64/hp/common/hwsw_iommu.c (machvec hpzx1_swiotlb): "we need to make the determination of
 * whether or not to use the sw I/O TLB based purely on the device structure". The machine vector's
 * `platform_dma_get_ops` is `hwsw_dma_get_ops`, asked afresh on every DMA API call; so is this
 * dispatcher, so a device that changes its mask changes its ops — as it did in the kernel.
 */

/** hwsw's swiotlb: "default to a smallish 2MB sw I/O TLB" (`hwsw_init`). */
export const HWSW_SWIOTLB_SIZE = 2 * 2 ** 20;

/** `use_swiotlb`: the SBA cannot serve the device's current mask. */
export function useSwiotlb(dev: Device): boolean {
  return dev.dmaMask !== 0 && !sbaDmaSupported(dev, dev.dmaMask);
}

/** `hwsw_dma_get_ops`: `swiotlb_dma_ops` for a device the SBA refuses, else `sba_dma_ops`. */
export function hwswDmaGetOps(dev: Device): DmaMapOps {
  return useSwiotlb(dev) ? ia64SwiotlbDmaOps : sbaDmaOps;
}

/** The ops of hpzx1_swiotlb devices: each call goes where `hwsw_dma_get_ops` says now. */
export const hwswDmaOps: DmaMapOps = Object.freeze({
  name: 'hwsw_dma_ops',
  alloc: (dev: Device, size: number, gfp: number, attrs: number) => hwswDmaGetOps(dev).alloc?.(dev, size, gfp, attrs) ?? null,
  free: (dev: Device, size: number, cpuAddr: number, handle: number, attrs: number) => hwswDmaGetOps(dev).free?.(dev, size, cpuAddr, handle, attrs),
  mmap: (dev: Device, vma: Vma, cpuAddr: number, handle: number, size: number, attrs: number) =>
    (hwswDmaGetOps(dev).mmap as NonNullable<DmaMapOps['mmap']>)(dev, vma, cpuAddr, handle, size, attrs),
  getSgtable: (dev: Device, cpuAddr: number, handle: number, size: number, attrs: number) =>
    (hwswDmaGetOps(dev).getSgtable as NonNullable<DmaMapOps['getSgtable']>)(dev, cpuAddr, handle, size, attrs),
  mapPage: (dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number) =>
    (hwswDmaGetOps(dev).mapPage as NonNullable<DmaMapOps['mapPage']>)(dev, pfn, offset, size, dir, attrs),
  unmapPage: (dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number) => hwswDmaGetOps(dev).unmapPage?.(dev, addr, size, dir, attrs),
  mapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) =>
    (hwswDmaGetOps(dev).mapSg as NonNullable<DmaMapOps['mapSg']>)(dev, sgl, nents, dir, attrs),
  unmapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => hwswDmaGetOps(dev).unmapSg?.(dev, sgl, nents, dir, attrs),
  syncSingleForCpu: (dev: Device, addr: number, size: number, dir: DmaDataDirection) => hwswDmaGetOps(dev).syncSingleForCpu?.(dev, addr, size, dir),
  syncSingleForDevice: (dev: Device, addr: number, size: number, dir: DmaDataDirection) => hwswDmaGetOps(dev).syncSingleForDevice?.(dev, addr, size, dir),
  syncSgForCpu: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => hwswDmaGetOps(dev).syncSgForCpu?.(dev, sgl, nents, dir),
  syncSgForDevice: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => hwswDmaGetOps(dev).syncSgForDevice?.(dev, sgl, nents, dir),
  mappingError: (dev: Device, addr: number) => hwswDmaGetOps(dev).mappingError?.(dev, addr) ?? false,
  dmaSupported: (dev: Device, mask: number) => hwswDmaGetOps(dev).dmaSupported?.(dev, mask) ?? true,
  maxMappingSize: (dev: Device) => hwswDmaGetOps(dev).maxMappingSize?.(dev) ?? Number.MAX_SAFE_INTEGER,
});
