import type { MemoryRegion } from '@kdma/hw';
import type { Machine } from '@kdma/dma-mapping/ops';
import { memblockFindInRange } from './memblock.js';
import { pow2 } from '@kdma/hw';

/*
 * arch/x86/kernel/aperture_64.c: the GART aperture. A BIOS without the IOMMU option leaves the
 * northbridge's aperture disabled (base 0), so the kernel takes one out of RAM below 4 GiB —
 * "This costs you 64 MB of RAM" — and programs the northbridge with it. That RAM is reserved at
 * boot and hidden: every device access in the aperture goes through the GATT.
 */

/** `GART_MIN_ADDR`, `GART_MAX_ADDR`: where `allocate_aperture` looks. */
export const GART_MIN_ADDR = 512 * 2 ** 20;
export const GART_MAX_ADDR = 2 ** 32;

/** `(32 * 1024 * 1024) << order`. */
export function gartApertureSize(order: number): number {
  return 32 * 2 ** 20 * pow2(order);
}

/**
 * Whether `gart_iommu_hole_init` makes an aperture and `gart_iommu_init` uses it: only with RAM
 * beyond 4 GiB (`max_pfn > MAX_DMA32_PFN`) or `iommu=force`; otherwise every device reaches all
 * of memory and the ops stay nommu's.
 */
export function gartIommuNeeded(maxPhysAddress: number, forceIommu: boolean): boolean {
  return forceIommu || maxPhysAddress > 2 ** 32;
}

/**
 * `allocate_aperture`: the highest RAM range of `gartApertureSize(order)` bytes, aligned to its
 * size, in [512 MiB, 4 GiB) and clear of `reserved`; null when there is none (the kernel panics
 * "Not enough memory for aperture").
 */
export function allocateAperture(memory: readonly MemoryRegion[], reserved: readonly MemoryRegion[], order: number): MemoryRegion | null {
  const size = gartApertureSize(order);
  const base = memblockFindInRange(memory, reserved, GART_MIN_ADDR, GART_MAX_ADDR, size, size);
  return base === null ? null : { base, size };
}

/** What `gart_iommu_hole_init` prints on a board whose BIOS left no aperture. */
export function printApertureCheck(machine: Machine, aperture: MemoryRegion | null, order: number): void {
  const info = (message: string): void => machine.printk('info', null, message);
  info('Checking aperture...');
  info('No AGP bridge found');
  info('Node 0: aperture @ 0 size 32 MB');
  if (aperture === null) return;
  info("Your BIOS doesn't leave a aperture memory hole");
  info('Please enable the IOMMU option in the BIOS setup');
  info(`This costs you ${32 * pow2(order)} MB of RAM`);
  info(`Mapping aperture over ${aperture.size / 1024} KB of RAM @ ${aperture.base.toString(16)}`);
}
