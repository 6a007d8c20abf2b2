import type { Hardware } from '@kdma/hw';

/*
 * arch/sh/mm/cache-sh4.c and flush-sh4.c: the region flushes `dma_cache_sync` is built on. SH-4
 * implements them with `ocbwb`, `ocbi` and `ocbp` on each line of the range.
 */

/** `__flush_wback_region` (`ocbwb`): write dirty lines back; they stay cached, clean. */
export function flushWbackRegion(hw: Hardware, paddr: number, size: number): void {
  hw.cacheClean(paddr, size);
}

/**
 * `__flush_invalidate_region` (`ocbi`): drop the lines without writing them back, whole lines
 * even where partly covered — the neighbour's dirty bytes go too.
 */
export function flushInvalidateRegion(hw: Hardware, paddr: number, size: number): void {
  hw.cacheInvalidate(paddr, size);
}

/** `__flush_purge_region` (`ocbp`): write back, then invalidate. */
export function flushPurgeRegion(hw: Hardware, paddr: number, size: number): void {
  hw.cacheFlush(paddr, size);
}
