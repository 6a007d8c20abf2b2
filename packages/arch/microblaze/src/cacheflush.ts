import type { Hardware } from '@kdma/hw';

/*
 * arch/microblaze/kernel/cpu/cache.c for a write-back data cache (`C_DCACHE_USE_WRITEBACK`,
 * MicroBlaze v7.20 on): the `mbc` operations `flush_dcache_range` and `invalidate_dcache_range`
 * resolve to, one `wdc` instruction per line.
 */

/** `flush_dcache_range` (`__flush_dcache_range_wb`, `wdc.flush`): write back and invalidate. */
export function flushDcacheRange(hw: Hardware, paddr: number, size: number): void {
  hw.cacheFlush(paddr, size);
}

/**
 * `invalidate_dcache_range` (`__invalidate_dcache_range_wb`, `wdc.clear`): drop the lines without
 * writing them back, whole lines even where partly covered.
 */
export function invalidateDcacheRange(hw: Hardware, paddr: number, size: number): void {
  hw.cacheInvalidate(paddr, size);
}
