import { DMA_FROM_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { bitMask } from '@kdma/hw';
import type { Device, DmaAllocation } from '@kdma/dma-mapping';
import { dmaToPhys, swiotlbDmaOps, type DmaMapOps } from '@kdma/dma-mapping/ops';
import { GFP_DMA } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { dmaMarkClean } from './mark-clean.js';

/*
 * arch/ia64/kernel/pci-swiotlb.c: `swiotlb_dma_ops` on ia64 — lib/swiotlb.c's ops (kdma's
 * `swiotlbDmaOps`) with `ia64_swiotlb_alloc_coherent`, plus lib/swiotlb.c's `dma_mark_clean`
 * calls, which only ia64 implemented: a buffer the device wrote in place (not bounced) has its
 * whole pages marked i-cache clean when it comes back to the CPU.
 */

/** Whether the address is a bounce slot (`is_swiotlb_buffer`). */
function isBounced(dev: Device, addr: number): boolean {
  const swiotlb = dev.machine.swiotlb;
  return swiotlb !== null && swiotlb.isBuffer(dev, dmaToPhys(dev, addr));
}

/** `dma_mark_clean` where lib/swiotlb.c calls it: FROM_DEVICE, and the buffer was not bounced. */
function markCleanUnlessBounced(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  if (dir !== DMA_FROM_DEVICE || isBounced(dev, addr)) return;
  dmaMarkClean(dev.machine, dmaToPhys(dev, addr), size);
}

/** `ia64_swiotlb_alloc_coherent`: GFP_DMA (below 4 GiB) unless the coherent mask is 64-bit. */
export function ia64SwiotlbAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const alloc = swiotlbDmaOps.alloc;
  if (alloc === undefined) return null;
  if (dev.coherentDmaMask !== bitMask(64)) gfp |= GFP_DMA;
  return alloc(dev, size, gfp, attrs);
}

function unmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  markCleanUnlessBounced(dev, addr, size, dir);
  swiotlbDmaOps.unmapPage?.(dev, addr, size, dir, attrs);
}

function syncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  swiotlbDmaOps.syncSingleForCpu?.(dev, addr, size, dir);
  markCleanUnlessBounced(dev, addr, size, dir);
}

function syncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  swiotlbDmaOps.syncSingleForDevice?.(dev, addr, size, dir);
  markCleanUnlessBounced(dev, addr, size, dir);
}

function forEachSegment(sgl: Scatterlist[], nents: number, fn: (sg: Scatterlist) => void): void {
  for (let i = 0; i < nents; i++) fn(sgl[i] as Scatterlist);
}

/**
 * `swiotlb_dma_ops` as ia64 used it on DIG machines and for hwsw's narrow devices. lib/swiotlb.c
 * calls `dma_mark_clean` from `unmap_single` and `swiotlb_sync_single` (for the CPU and for the
 * device alike) when the direction is FROM_DEVICE and the address is not a bounce slot.
 */
export const ia64SwiotlbDmaOps: DmaMapOps = Object.freeze({
  ...swiotlbDmaOps,
  name: 'swiotlb_dma_ops',
  alloc: ia64SwiotlbAllocCoherent,
  unmapPage,
  unmapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) =>
    forEachSegment(sgl, nents, (sg) => unmapPage(dev, sg.dmaAddress, sg.dmaLength, dir, attrs)),
  syncSingleForCpu,
  syncSingleForDevice,
  syncSgForCpu: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) =>
    forEachSegment(sgl, nents, (sg) => syncSingleForCpu(dev, sg.dmaAddress, sg.dmaLength, dir)),
  syncSgForDevice: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) =>
    forEachSegment(sgl, nents, (sg) => syncSingleForDevice(dev, sg.dmaAddress, sg.dmaLength, dir)),
});
