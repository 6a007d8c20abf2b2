import type { Hardware } from '@kdma/hw';

/*
 * arch/mips/mm/c-r4k.c: the `_dma_cache_*` hooks r4k_cache_init installs on a
 * `CONFIG_DMA_NONCOHERENT` kernel. They work on Hit-type cache ops over whole lines.
 */

/**
 * `dma_cache_wback_inv` (`r4k_dma_cache_wback_inv`, Hit_Writeback_Inv_D over the range): dirty
 * lines go to memory and every line of the range leaves the cache.
 */
export function dmaCacheWbackInv(hw: Hardware, paddr: number, size: number): void {
  hw.cacheFlush(paddr, size);
}

/**
 * `dma_cache_wback`: r4k_cache_init binds `_dma_cache_wback` to `r4k_dma_cache_wback_inv` too —
 * there is no write-back-only DMA op on r4k-class CPUs, so a TO_DEVICE map also drops the lines.
 */
export function dmaCacheWback(hw: Hardware, paddr: number, size: number): void {
  hw.cacheFlush(paddr, size);
}

/**
 * `dma_cache_inv` (`r4k_dma_cache_inv`, Hit_Invalidate_D from the line holding the start to the
 * line holding the end): partly covered lines are dropped whole, dirty bytes of a neighbour
 * included — why non-coherent MIPS kernels set `ARCH_DMA_MINALIGN` to 128.
 */
export function dmaCacheInv(hw: Hardware, paddr: number, size: number): void {
  hw.cacheInvalidate(paddr, size);
}
