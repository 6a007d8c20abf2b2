/**
 * The kernel's virtual memory layout, the same on every arch (DESIGN.md "Numbers, state and
 * determinism"): where an arch's real numbers matter, kdma models their meaning, not the numbers.
 *
 * ```
 * [0, 2^47)        user space (TASK_SIZE)
 * [2^48, 2^49)     the linear map: kva = PAGE_OFFSET + phys (lowmem, page_address)
 * [2^49, 2^50)     vmalloc / vmap areas (VMALLOC_START .. VMALLOC_START + vmallocSize)
 * [2^50, 2^51)     the consistent DMA area of 2011 ARM (CONSISTENT_BASE .. + consistentSize)
 * [2^51, 2^52)     never mapped: DMA_ATTR_NO_KERNEL_MAPPING cookies live here, any access faults
 * ```
 */

/** TASK_SIZE: user addresses are below it (x86-64's 47-bit user half). */
export const USER_SPACE_END = 2 ** 47;

/** PAGE_OFFSET: the base of the linear map, so `__va(phys)` is one addition. */
export const PAGE_OFFSET = 2 ** 48;

/** The linear map ends where vmalloc begins: physical addresses below 2^48 have a linear alias. */
export const LINEAR_MAP_END = 2 ** 49;

/** VMALLOC_START: vmalloc, vmap and the remap helpers of dma-mapping map pages here. */
export const VMALLOC_START = 2 ** 49;

/** CONSISTENT_BASE: ARM's pre-3.5 consistent DMA region (arch/arm/mm/dma-mapping.c). */
export const CONSISTENT_BASE = 2 ** 50;

/** Start of a range that is never mapped; dma-mapping hands out NO_KERNEL_MAPPING cookies here. */
export const NO_KERNEL_MAPPING_BASE = 2 ** 51;

/** End of the modelled address space (every address is below 2^52). */
export const NO_KERNEL_MAPPING_END = 2 ** 52;

/** TASK_UNMAPPED_BASE: where the legacy bottom-up mmap layout starts looking (TASK_SIZE / 3). */
export function taskUnmappedBase(pageSize: number): number {
  return Math.ceil(USER_SPACE_END / 3 / pageSize) * pageSize;
}

/** Which part of the layout an address falls in (for faults and reports). */
export type AddressSpaceArea = 'user' | 'linear' | 'vmalloc' | 'consistent' | 'no-kernel-mapping' | 'unmapped';

/** Names the area of the layout that holds `address`. */
export function addressArea(address: number): AddressSpaceArea {
  if (address < USER_SPACE_END) return 'user';
  if (address < PAGE_OFFSET) return 'unmapped';
  if (address < VMALLOC_START) return 'linear';
  if (address < CONSISTENT_BASE) return 'vmalloc';
  if (address < NO_KERNEL_MAPPING_BASE) return 'consistent';
  return 'no-kernel-mapping';
}
