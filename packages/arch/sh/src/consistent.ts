import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Hardware } from '@kdma/hw';
import type { Mm } from '@kdma/mm';
import { flushInvalidateRegion, flushPurgeRegion, flushWbackRegion } from './cacheflush.js';
import { addrMod } from '@kdma/hw';

/*
 * arch/sh/mm/consistent.c: `dma_cache_sync`, which every streaming map of `nommu_dma_ops` and
 * `dma_generic_alloc_coherent` call.
 */

/** `dma_cache_sync` on a physical range: FROM_DEVICE invalidates, TO_DEVICE writes back, BIDIRECTIONAL purges. */
export function dmaCacheSyncPhys(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  switch (dir) {
    case DMA_FROM_DEVICE:
      flushInvalidateRegion(hw, paddr, size);
      break;
    case DMA_TO_DEVICE:
      flushWbackRegion(hw, paddr, size);
      break;
    case DMA_BIDIRECTIONAL:
      flushPurgeRegion(hw, paddr, size);
      break;
    default:
      throw new RangeError(`dir must be DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, got ${String(dir)}`);
  }
}

/**
 * `dma_cache_sync(dev, vaddr, size, dir)`: a P2 (uncached) address is turned into its cached P1
 * twin (`CAC_ADDR`) first, so the maintenance reaches the lines the cached alias may hold. The
 * model's cache is physically indexed: any mapped kernel address is walked to its physical
 * pages (one range for the linear map and the P2 window, page by page elsewhere).
 */
export function dmaCacheSync(hw: Hardware, mm: Mm, vaddr: number, size: number, dir: DmaDataDirection): void {
  if (mm.virtAddrValid(vaddr)) {
    dmaCacheSyncPhys(hw, mm.virtToPhys(vaddr), size, dir);
    return;
  }
  // Every page must be mapped before anything is done: a faulting call changes nothing.
  const pageSize = mm.pageSize;
  for (let p = vaddr; p < vaddr + size; p += pageSize - addrMod(p, pageSize)) mm.kvaToPhys(p);
  let va = vaddr;
  let left = size;
  let runStart = -1;
  let runLength = 0;
  while (left > 0) {
    const len = Math.min(left, pageSize - (va % pageSize));
    const phys = mm.kvaToPhys(va);
    if (runStart >= 0 && runStart + runLength === phys) {
      runLength += len;
    } else {
      if (runStart >= 0) dmaCacheSyncPhys(hw, runStart, runLength, dir);
      runStart = phys;
      runLength = len;
    }
    va += len;
    left -= len;
  }
  if (runStart >= 0) dmaCacheSyncPhys(hw, runStart, runLength, dir);
}
