import type { Device, DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { DmaDataDirection } from '@kdma/dma-attrs';
import { hex, pow2 } from '@kdma/hw';
import type { Scatterlist } from '@kdma/scatterlist';
import { getIommuTableBase } from './device.js';
import { IOMMU_PAGE_SIZE } from './io-page-table.js';
import { iommuAllocCoherent, iommuFreeCoherent, iommuMapPage, iommuMapSg, iommuUnmapPage, iommuUnmapSg } from './iommu.js';

/*
 * arch/powerpc/kernel/dma-iommu.c: "Generic iommu implementation" — `dma_iommu_ops` over the
 * device's `iommu_table` (`get_iommu_table_base`). Every device behind a TCE table is coherent, so
 * there are no sync hooks.
 */

/** `device_to_mask`: the streaming mask the allocator must stay under. */
export function deviceToMask(dev: Device): number {
  return dev.dmaMask;
}

/** `dma_iommu_alloc_coherent`. */
export function dmaIommuAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  return iommuAllocCoherent(dev, getIommuTableBase(dev), size, dev.coherentDmaMask, gfp);
}

/** `dma_iommu_free_coherent`. */
export function dmaIommuFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  iommuFreeCoherent(dev, getIommuTableBase(dev), size, cpuAddr, dmaHandle);
}

/** `dma_iommu_map_page`. */
export function dmaIommuMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  return iommuMapPage(dev, getIommuTableBase(dev), pfn, offset, size, deviceToMask(dev), dir, attrs);
}

/** `dma_iommu_unmap_page`. */
export function dmaIommuUnmapPage(dev: Device, addr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  iommuUnmapPage(getIommuTableBase(dev), addr, size);
}

/** `dma_iommu_map_sg`. */
export function dmaIommuMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  return iommuMapSg(dev, getIommuTableBase(dev), sgl, nents, deviceToMask(dev), dir, attrs);
}

/** `dma_iommu_unmap_sg`. */
export function dmaIommuUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): void {
  iommuUnmapSg(getIommuTableBase(dev), sgl, nents);
}

/**
 * `dma_iommu_dma_supported`: "We support DMA to/from any memory page via the iommu" — any mask
 * that reaches the table's first entry.
 */
export function dmaIommuDmaSupported(dev: Device, mask: number): boolean {
  const tbl = getIommuTableBase(dev);
  if (tbl === null) {
    dev.machine.printk('info', dev, `Warning: IOMMU dma not supported: mask ${hex(mask)}, table unavailable`);
    return false;
  }
  if (tbl.itOffset > Math.floor(mask / IOMMU_PAGE_SIZE)) {
    dev.machine.printk('info', dev, 'Warning: IOMMU offset too big for device mask');
    dev.machine.printk('info', dev, `mask: ${hex(mask)}, table offset: ${hex(tbl.itOffset * IOMMU_PAGE_SIZE)}`);
    return false;
  }
  return true;
}

/**
 * `dma_iommu_get_required_mask`: the mask that covers the window's last byte. v3.4 wrote
 * `1ULL < (fls_long(...) - 1)` (a comparison, so the result was 1); today's kernel shifts, with
 * the window measured in bytes, and kdma follows it.
 */
export function dmaIommuGetRequiredMask(dev: Device): number {
  const tbl = getIommuTableBase(dev);
  if (tbl === null) return 0;
  const end = (tbl.itOffset + tbl.itSize) * IOMMU_PAGE_SIZE;
  return pow2(Math.floor(Math.log2(end))) * 2 - 1;
}

/**
 * `dma_iommu_ops`. `mmap` is `dma_common_mmap` (v3.4 used `dma_direct_mmap_coherent`, which
 * mapped whatever the VMA asked without checking it against the buffer's size; today's check is
 * followed); `get_sgtable` is the generic one (v3.6).
 */
export const dmaIommuOps: DmaMapOps = Object.freeze({
  name: 'dma_iommu_ops',
  alloc: dmaIommuAllocCoherent,
  free: dmaIommuFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: dmaIommuMapPage,
  unmapPage: dmaIommuUnmapPage,
  mapSg: dmaIommuMapSg,
  unmapSg: dmaIommuUnmapSg,
  dmaSupported: dmaIommuDmaSupported,
  getRequiredMask: dmaIommuGetRequiredMask,
});
