import type { DmaDataDirection } from '@kdma/dma-attrs';
import { dmaBitMask, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import { PAGE_OFFSET } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import type { DmaWindow } from './io-page-table.js';
import { LinearWindow } from './io-page-table.js';

/*
 * arch/powerpc/kernel/ibmebus.c: the GX bus of IBM eServer p5/p6 for the InfiniBand HCA ("IBM,lhca",
 * eHCA) and the Ethernet adapter ("IBM,lhea", eHEA). These adapters translate through the
 * hypervisor's own tables with kernel addresses, so "the DMA address is the kernel virtual address":
 * `ibmebus_map_page` returns `page_address(page) + offset`, coherent memory is `kmalloc`, and the
 * mask must be 64-bit. kdma models the meaning: the bus master translates kernel linear addresses
 * (2^48 + phys in kdma's layout) to physical ones, and faults on anything else.
 */

/**
 * `ibmebus_alloc_coherent`: `kmalloc(size, flag)`, the handle is the pointer. Zeroed, as every
 * `dma_alloc_coherent` has had to return zeroed memory since v5.0 (2012's kmalloc did not).
 */
export function ibmebusAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const cpuAddr = dev.machine.mm.kzalloc(size, gfp);
  if (cpuAddr === null) return null;
  return { cpuAddr, dmaHandle: cpuAddr };
}

/** `ibmebus_free_coherent`: `kfree`. */
export function ibmebusFreeCoherent(dev: Device, _size: number, cpuAddr: number, _dmaHandle: number, _attrs: number): void {
  dev.machine.mm.kfree(cpuAddr);
}

/** `ibmebus_map_page`: "return (dma_addr_t)(page_address(page) + offset);" */
export function ibmebusMapPage(dev: Device, pfn: number, offset: number, _size: number, _dir: DmaDataDirection, _attrs: number): number {
  return dev.machine.mm.pageAddress(pfn) + offset;
}

/** `ibmebus_unmap_page`: nothing to undo. */
export function ibmebusUnmapPage(): void {}

/** `ibmebus_map_sg`: `sg->dma_address = (dma_addr_t) sg_virt(sg)` per entry. */
export function ibmebusMapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): number {
  const { mm } = dev.machine;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    sg.dmaAddress = mm.pageAddress(sg.pfn) + sg.offset;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `ibmebus_dma_supported`: "return mask == DMA_BIT_MASK(64);" */
export function ibmebusDmaSupported(_dev: Device, mask: number): boolean {
  return mask === dmaBitMask(64);
}

/** `ibmebus_dma_get_required_mask`. */
export function ibmebusDmaGetRequiredMask(): number {
  return dmaBitMask(64);
}

/** `ibmebus_dma_ops`. No mmap or get_sgtable in 2012: the generic ones, as v3.6 made the fallback. */
export const ibmebusDmaOps: DmaMapOps = Object.freeze({
  name: 'ibmebus_dma_ops',
  alloc: ibmebusAllocCoherent,
  free: ibmebusFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: ibmebusMapPage,
  unmapPage: ibmebusUnmapPage,
  mapSg: ibmebusMapSg,
  unmapSg: ibmebusUnmapPage,
  dmaSupported: ibmebusDmaSupported,
  getRequiredMask: ibmebusDmaGetRequiredMask,
});

/** What a GX-bus adapter can reach: the kernel's linear map, bus address = kernel address. */
export function ibmebusWindow(ramEnd: number): DmaWindow {
  return new LinearWindow(PAGE_OFFSET, ramEnd, PAGE_OFFSET);
}
