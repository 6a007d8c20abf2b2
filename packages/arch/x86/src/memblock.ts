import { alignDown, type MemoryRegion } from '@kdma/hw';

/**
 * `memblock_find_in_range` as the 2012 x86 boot used it (top-down): the highest base, aligned to
 * `align`, of `size` bytes of RAM inside `[start, end)` that overlap none of `reserved`; null when
 * there is none. The GART aperture and Calgary's TCE tables come from here, before the page
 * allocator exists, because only the boot allocator can find 32 MiB and more in one piece.
 */
export function memblockFindInRange(
  memory: readonly MemoryRegion[],
  reserved: readonly MemoryRegion[],
  start: number,
  end: number,
  size: number,
  align: number,
): number | null {
  const regions = [...memory].sort((a, b) => b.base - a.base);
  for (const region of regions) {
    const low = Math.max(region.base, start);
    let candidate = alignDown(Math.min(region.base + region.size, end) - size, align);
    while (candidate >= low) {
      const clash = reserved.find((r) => candidate < r.base + r.size && r.base < candidate + size);
      if (clash === undefined) return candidate;
      candidate = alignDown(clash.base - size, align);
    }
  }
  return null;
}
