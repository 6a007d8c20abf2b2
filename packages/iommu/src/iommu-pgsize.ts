import { addrMod, addrOr, isPowerOfTwo, pow2 } from '@kdma/hw';

/*
 * The page-size arithmetic of drivers/iommu/iommu.c. A pgsize bitmap may hold sizes above 2^31
 * (1 GiB blocks, 512 GiB, LPAE's 4 TiB with 64K granules), so it is decoded with arithmetic into a
 * sorted list once per domain instead of being masked with 32-bit operators on every call.
 */

/** The page sizes of a `pgsize_bitmap`, smallest first; every one a power of two. */
export function pgsizeList(bitmap: number): number[] {
  const sizes: number[] = [];
  let rest = bitmap;
  for (let bit = 0; rest > 0 && bit <= 52; bit++) {
    const size = pow2(bit);
    if (Math.floor(rest / size) % 2 === 1) {
      sizes.push(size);
      rest -= size;
    }
  }
  return sizes;
}

/** The bitmap of a list of page sizes (the inverse of `pgsizeList`). */
export function pgsizeBitmapOf(sizes: readonly number[]): number {
  let bitmap = 0;
  for (const size of sizes) {
    if (!isPowerOfTwo(size)) throw new RangeError(`page sizes must be powers of two, got ${size}`);
    bitmap = addrOr(bitmap, size);
  }
  return bitmap;
}

/** What `iommu_pgsize` answers: the page size to use next and how many of it. */
export interface PgsizeChoice {
  pgsize: number;
  count: number;
}

/**
 * `iommu_pgsize` (v5.15+): the biggest supported page size that fits in `size` and that the
 * alignment of both `iova` and `paddr` allows, and how many of them to map before a bigger size
 * becomes usable — so a range is covered by the largest pages alignment permits. `sizes` is the
 * domain's `pgsizeList`; `out` is filled and returned (no allocation on the map path).
 */
export function iommuPgsize(sizes: readonly number[], iova: number, paddr: number, size: number, out: PgsizeChoice): PgsizeChoice {
  // Smaller than the second size: only the smallest can fit, and no larger one can start later.
  const second = sizes[1];
  if (second === undefined || size < second) {
    const min = sizes[0] as number;
    if (size < min || addrMod(iova, min) !== 0 || addrMod(paddr, min) !== 0) throw new RangeError(`iommu_pgsize: no page size fits iova ${iova} paddr ${paddr} size ${size}`);
    out.pgsize = min;
    out.count = Math.floor(size / min);
    return out;
  }
  let idx = -1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    const s = sizes[i] as number;
    if (s <= size && addrMod(iova, s) === 0 && addrMod(paddr, s) === 0) {
      idx = i;
      break;
    }
  }
  // BUG_ON(!pgsizes): callers check alignment to the smallest size first.
  if (idx < 0) throw new RangeError(`iommu_pgsize: no page size fits iova ${iova} paddr ${paddr} size ${size}`);
  const pgsize = sizes[idx] as number;
  let span = size;
  const next = sizes[idx + 1];
  // "There's no point trying a bigger page size unless the virtual and physical addresses are
  // similarly offset within the larger page."
  if (next !== undefined && addrMod(iova, next) === addrMod(paddr, next)) {
    // The offset to the next boundary of the larger size; if the range reaches a whole larger
    // page past it, stop the smaller pages there.
    const offset = next - addrMod(iova, next);
    if (offset + next <= size) span = offset;
  }
  out.pgsize = pgsize;
  out.count = Math.floor(span / pgsize);
  return out;
}
