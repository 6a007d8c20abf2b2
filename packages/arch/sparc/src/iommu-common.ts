import type { Device } from '@kdma/dma-mapping';
import { bitmapClear, dmaGetSegBoundaryNrPages, iommuAreaAlloc } from '@kdma/iommu';

/*
 * What arch/sparc/kernel/iommu_common.h shares between the sun4u IOMMU (iommu.c) and the sun4v
 * hypervisor IOMMU (pci_sun4v.c): the arena both allocate TSB entries from. The search itself is
 * lib/iommu-helper.c's `iommu_area_alloc` (@kdma/iommu).
 */

/**
 * `struct iommu_arena` (`map`, `hint`, `limit`) and `iommu_range_alloc` of arch/sparc/kernel/
 * iommu.c, shared by sun4u and sun4v: allocation goes on from the hint (or an sg list's running
 * `handle`); at the end it wraps to 0 once, calling `flushAll` (sun4u's `iommu_flushall`; the
 * hypervisor needs none) so that no stale IOTLB entry survives into a reused range.
 */
export class IommuArena {
  /** A byte per TSB entry: 1 = in use. */
  readonly map: Uint8Array;
  hint = 0;
  readonly limit: number;

  constructor(
    entries: number,
    /** `page_table_map_base / IO_PAGE_SIZE`: the bus page of entry 0. */
    private readonly shift: number,
    private readonly ioPageSize: number,
    private readonly flushAll: (() => void) | null,
  ) {
    this.map = new Uint8Array(entries);
    this.limit = entries;
  }

  /** `iommu_range_alloc`: the first entry of `npages`, or -1 when even a wrapped search fails. */
  alloc(dev: Device | null, npages: number, handle: { value: number } | null = null): number {
    let start = handle !== null && handle.value !== 0 ? handle.value : this.hint;
    if (start >= this.limit) {
      start = 0;
      this.flushAll?.();
    }
    const boundarySize = dmaGetSegBoundaryNrPages(dev, this.ioPageSize);
    let n = iommuAreaAlloc(this.map, this.limit, start, npages, this.shift, boundarySize, 0);
    if (n < 0) {
      this.flushAll?.();
      n = iommuAreaAlloc(this.map, this.limit, 0, npages, this.shift, boundarySize, 0);
      if (n < 0) return -1;
    }
    this.hint = n + npages;
    if (handle !== null) handle.value = n + npages;
    return n;
  }

  /** `iommu_range_free` (`bitmap_clear`). */
  free(entry: number, npages: number): void {
    bitmapClear(this.map, entry, npages);
  }

  /** Entries in use. */
  inUse(): number {
    let used = 0;
    for (let i = 0; i < this.limit; i++) used += this.map[i] as number;
    return used;
  }
}
