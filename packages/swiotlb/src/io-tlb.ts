/**
 * The constants of include/linux/swiotlb.h and kernel/dma/swiotlb.c, and the small helpers every
 * part of the pool shares. The sizes are the kernel's since 2.6: a slot ("slab") of 2 KiB, at most
 * a segment of 128 contiguous slots per mapping, a 64 MiB default pool.
 */
import { pow2 } from '@kdma/hw';

/** `IO_TLB_SHIFT`: log2 of the slot size. */
export const IO_TLB_SHIFT = 11;
/** `IO_TLB_SIZE`: one slot, the bounce granule. */
export const IO_TLB_SIZE = 2048;
/**
 * `IO_TLB_SEGSIZE`: the most contiguous slots one mapping may take ("must be a power of 2"); the
 * free-run counters never cross a segment, which is what bounds a single mapping to 256 KiB.
 */
export const IO_TLB_SEGSIZE = 128;
/** `IO_TLB_DEFAULT_SIZE`: 64 MiB, 32768 slots, 256 segments. */
export const IO_TLB_DEFAULT_SIZE = 64 * 2 ** 20;
/** `IO_TLB_MIN_SLABS`: the 1 MiB floor below which a boot or dynamic allocation gives up. */
export const IO_TLB_MIN_SLABS = 2 ** 20 / IO_TLB_SIZE;
/** `INVALID_PHYS_ADDR` (`~(phys_addr_t)0` in C): a slot that holds no original address. */
export const INVALID_PHYS_ADDR = -1;
/**
 * `(phys_addr_t)DMA_MAPPING_ERROR`: what `swiotlbTblMapSingle` returns when no slots fit. The same
 * value as `DMA_MAPPING_ERROR` of `@kdma/dma-mapping`, which this layer cannot import.
 */
export const SWIOTLB_MAP_ERROR = -1;
/** The largest bounce buffer: one whole segment, 256 KiB. */
export const IO_TLB_SEGMENT_BYTES = IO_TLB_SIZE * IO_TLB_SEGSIZE;

/** `nr_slots(val)`: slots covering `val` bytes. */
export function nrSlots(val: number): number {
  return Math.ceil(val / IO_TLB_SIZE);
}

/** `io_tlb_offset(val)`: a slot's position inside its segment. */
export function ioTlbOffset(index: number): number {
  return index % IO_TLB_SEGSIZE;
}


/** True for the masks the kernel's `ALIGN()` accepts: 0, 1, 3, 7, … (2^k − 1). */
export function isLowMask(mask: number): boolean {
  if (!Number.isSafeInteger(mask) || mask < 0) return false;
  const n = mask + 1;
  return n === pow2(Math.round(Math.log2(n))) || mask === Number.MAX_SAFE_INTEGER;
}
