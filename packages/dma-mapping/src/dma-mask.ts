import { bitMask, checkInteger } from '@kdma/hw';
import { checkMask } from './checks.js';
import { checkDevice, type Device } from './device.js';
import { dmaDirectGetRequiredMask } from './dma-direct.js';
import { DMA_F_CAN_SKIP_SYNC, getDmaOps } from './dma-map-ops.js';
import { EIO } from './errno.js';
import { minNotZero } from './limits.js';

/** `DMA_BIT_MASK(n)`: `2^n − 1`, or every address (`Number.MAX_SAFE_INTEGER`) above 52 bits. */
export function dmaBitMask(n: number): number {
  checkInteger(n, 'n', 0, 64);
  return bitMask(n);
}

/** `dma_supported`: whether the device's ops can work with `mask`. */
export function dmaSupported(dev: Device, mask: number): boolean {
  checkDevice(dev);
  checkMask(mask);
  const ops = getDmaOps(dev);
  return ops.dmaSupported === undefined ? true : ops.dmaSupported(dev, mask);
}

/** `dma_set_mask`: 0, or -EIO when the platform cannot honour the mask (nothing changes). */
export function dmaSetMask(dev: Device, mask: number): number {
  checkDevice(dev);
  checkMask(mask);
  if (!dmaSupported(dev, mask)) return -EIO;
  dev.dmaMask = mask;
  dmaSetupNeedSync(dev);
  return 0;
}

/** `dma_set_coherent_mask`. */
export function dmaSetCoherentMask(dev: Device, mask: number): number {
  checkDevice(dev);
  checkMask(mask);
  if (!dmaSupported(dev, mask)) return -EIO;
  dev.coherentDmaMask = mask;
  return 0;
}

/**
 * `dma_set_mask_and_coherent`: the coherent mask follows only when the streaming one was set
 * ("the coherent DMA mask can be set to the same or smaller than the streaming DMA mask").
 */
export function dmaSetMaskAndCoherent(dev: Device, mask: number): number {
  const ret = dmaSetMask(dev, mask);
  if (ret === 0) dmaSetCoherentMask(dev, mask);
  return ret;
}

/** `dma_get_mask`: the streaming mask, 32 bits when none is set. */
export function dmaGetMask(dev: Device): number {
  checkDevice(dev);
  return dev.dmaMask !== 0 ? dev.dmaMask : bitMask(32);
}

/**
 * `dma_setup_need_sync`: coherent devices on the direct or IOMMU paths may skip their syncs
 * until swiotlb first bounces for them; ops without sync callbacks never need any; other ops
 * always do. Runs when a device is created and whenever its mask changes.
 */
export function dmaSetupNeedSync(dev: Device): void {
  const ops = getDmaOps(dev);
  if (ops === dev.machine.directOps || ((ops.flags ?? 0) & DMA_F_CAN_SKIP_SYNC) !== 0) dev.dmaSkipSync = dev.dmaCoherent;
  else dev.dmaSkipSync = ops.syncSingleForCpu === undefined && ops.syncSingleForDevice === undefined;
}

/** `dma_get_required_mask`: the mask that covers all of RAM. */
export function dmaGetRequiredMask(dev: Device): number {
  checkDevice(dev);
  const ops = getDmaOps(dev);
  return ops.getRequiredMask === undefined ? bitMask(32) : ops.getRequiredMask(dev);
}

/** `dma_addressing_limited`: the device cannot reach all of RAM without help. */
export function dmaAddressingLimited(dev: Device): boolean {
  checkDevice(dev);
  return minNotZero(dev.dmaMask, dev.busDmaLimit) < dmaDirectGetRequiredMask(dev);
}

/** `dma_max_mapping_size`: the largest single mapping (swiotlb's limit when bouncing). */
export function dmaMaxMappingSize(dev: Device): number {
  checkDevice(dev);
  const ops = getDmaOps(dev);
  return ops.maxMappingSize === undefined ? Number.MAX_SAFE_INTEGER : ops.maxMappingSize(dev);
}

/** `dma_opt_mapping_size`: the largest size that maps without a slow path. */
export function dmaOptMappingSize(dev: Device): number {
  checkDevice(dev);
  const ops = getDmaOps(dev);
  const opt = ops.optMappingSize === undefined ? Number.MAX_SAFE_INTEGER : ops.optMappingSize();
  return Math.min(dmaMaxMappingSize(dev), opt);
}

/** `dma_get_max_seg_size` (default 64 KiB). */
export function dmaGetMaxSegSize(dev: Device): number {
  checkDevice(dev);
  return dev.dmaParms.maxSegmentSize;
}

/** `dma_set_max_seg_size`. */
export function dmaSetMaxSegSize(dev: Device, size: number): void {
  checkDevice(dev);
  checkInteger(size, 'size', 1, 2 ** 32 - 1);
  dev.dmaParms.maxSegmentSize = size;
}

/** `dma_get_seg_boundary` (default every address). */
export function dmaGetSegBoundary(dev: Device): number {
  checkDevice(dev);
  return dev.dmaParms.segmentBoundaryMask;
}

/** `dma_set_seg_boundary`: `mask` is `2^n − 1`; a segment never crosses a multiple of `mask + 1`. */
export function dmaSetSegBoundary(dev: Device, mask: number): void {
  checkDevice(dev);
  checkMask(mask);
  dev.dmaParms.segmentBoundaryMask = mask;
}

/** `dma_get_min_align_mask`. */
export function dmaGetMinAlignMask(dev: Device): number {
  checkDevice(dev);
  return dev.dmaParms.minAlignMask;
}

/** `dma_set_min_align_mask`: low address bits a bounce buffer must preserve. */
export function dmaSetMinAlignMask(dev: Device, mask: number): void {
  checkDevice(dev);
  checkMask(mask);
  dev.dmaParms.minAlignMask = mask;
}

/** `dma_get_merge_boundary`: 0 when the device cannot merge segments (no IOMMU). */
export function dmaGetMergeBoundary(dev: Device): number {
  checkDevice(dev);
  return getDmaOps(dev).getMergeBoundary?.(dev) ?? 0;
}

/** `dma_get_cache_alignment`: `ARCH_DMA_MINALIGN`, the width of any mapping or partial sync. */
export function dmaGetCacheAlignment(dev: Device): number {
  checkDevice(dev);
  return dev.machine.arch.dmaMinAlign;
}

/**
 * `dma_need_sync`: whether the sync calls do anything for this mapping. With dma-debug on the
 * answer skips the `dma_skip_sync` shortcut, as `dma_dev_need_sync` does under
 * CONFIG_DMA_API_DEBUG ("always call DMA sync operations when debugging is enabled").
 */
export function dmaNeedSync(dev: Device, addr: number): boolean {
  checkDevice(dev);
  checkInteger(addr, 'addr', -1);
  if (dev.dmaSkipSync && dev.machine.dmaDebug === null) return false;
  const ops = getDmaOps(dev);
  if (ops !== dev.machine.directOps) return true;
  const swiotlb = dev.machine.swiotlb;
  return !dev.dmaCoherent || (swiotlb !== null && swiotlb.isBuffer(dev, addr + dev.dmaOffset));
}
