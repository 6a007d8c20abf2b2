/*
 * printk formats of dma-debug's messages, on plain-number addresses.
 */

const ALL_ONES_64 = 'ffffffffffffffff';

/**
 * `0x%016llx` (and `%pa`): 16 zero-padded hex digits. `DMA_MAPPING_ERROR` (−1 here) prints as the
 * kernel's all-ones `dma_addr_t`.
 */
export function hex016(value: number): string {
  return `0x${value < 0 ? ALL_ONES_64 : value.toString(16).padStart(16, '0')}`;
}

/**
 * `%p`: 16 zero-padded hex digits without `0x`. The kernel has hashed `%p` since v4.15; this is
 * the real address, as a kernel booted with `no_hash_pointers` prints it.
 */
export function ptr(value: number): string {
  return value.toString(16).padStart(16, '0');
}
