import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { alignDown, isAligned, type Hardware } from '@kdma/hw';

/*
 * arch/arm/mm/cache-v7.S as dma-mapping.c drives it: `dmac_map_area` before the device owns a
 * buffer, `dmac_unmap_area` when the CPU takes it back.
 */

/**
 * `v7_dma_inv_range`: lines only partly inside the range are cleaned and invalidated (so the
 * neighbour's bytes survive), whole lines are invalidated — which is why a buffer sharing a line
 * with live CPU data is corrupted: the flush of the shared line writes the CPU's stale copy of
 * the buffer's bytes back over what the device wrote.
 */
export function v7DmaInvRange(hw: Hardware, start: number, size: number): void {
  const line = hw.cacheLineSize;
  // A line-aligned buffer (every page, most kmalloc buffers) has no edge lines: one invalidate,
  // and a body small enough for the JIT to inline into every map and unmap.
  if (size > 0 && isAligned(start, line) && isAligned(size, line)) hw.cacheInvalidate(start, size);
  else v7DmaInvRangeEdges(hw, start, size);
}

/** `v7_dma_inv_range` of a buffer that may share its first or last line. */
function v7DmaInvRangeEdges(hw: Hardware, start: number, size: number): void {
  const line = hw.cacheLineSize;
  let lo = start;
  let hi = start + size;
  const head = alignDown(lo, line);
  if (head !== lo) {
    hw.cacheFlush(head, line);
    lo = head + line;
  }
  const tail = alignDown(hi, line);
  if (tail !== hi && hi > lo) {
    hw.cacheFlush(tail, line);
    hi = tail;
  }
  if (hi > lo) hw.cacheInvalidate(lo, hi - lo);
}

/** `v7_dma_clean_range`: write dirty lines back so the device reads the CPU's bytes. */
export function v7DmaCleanRange(hw: Hardware, start: number, size: number): void {
  hw.cacheClean(start, size);
}

/** `v7_dma_flush_range`: clean and invalidate. */
export function v7DmaFlushRange(hw: Hardware, start: number, size: number): void {
  hw.cacheFlush(start, size);
}

/** `dmac_map_area` (`v7_dma_map_area`): invalidate for FROM_DEVICE, clean otherwise. */
export function dmacMapArea(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  if (dir === DMA_FROM_DEVICE) v7DmaInvRange(hw, paddr, size);
  else v7DmaCleanRange(hw, paddr, size);
}

/**
 * `dmac_unmap_area` (`v7_dma_unmap_area`): invalidate again unless the device only read — lines
 * the CPU speculatively prefetched while the device owned the buffer would otherwise hide its
 * writes.
 */
export function dmacUnmapArea(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  if (dir !== DMA_TO_DEVICE) v7DmaInvRange(hw, paddr, size);
}
