import { addrMod, checkInteger, isPowerOfTwo } from '@kdma/hw';

/**
 * The IOTLB: the IOMMU's cache of translations (an SMMU TBU's micro-TLB, VT-d's IOTLB), one per
 * domain as the hardware tags entries by ASID/VMID or domain id. A direct-mapped cache of
 * `entries` translations keyed by IOVA page (the domain's smallest page size): a device access
 * looks its pages up here first and walks the page table only on a miss. Unmapping a PTE does not
 * touch it — only an invalidation (`flush_iotlb_all`, `iotlb_sync` of a range) does, which is why
 * a lazy (flush-queue) unmap leaves the old translation usable until the queue drains.
 *
 * State lives in typed arrays: a lookup allocates nothing.
 */
export class Iotlb {
  readonly entries: number;
  /** IOVA page number cached in each slot; -1: empty. */
  private readonly tags: Float64Array;
  /** Physical address of the cached page. */
  private readonly paddrs: Float64Array;
  /** IOMMU_READ/IOMMU_WRITE/… of the cached PTE. */
  private readonly prots: Uint8Array;
  /** Valid entries (so a full flush of an empty IOTLB costs nothing). */
  private valid = 0;

  constructor(entries: number) {
    checkInteger(entries, 'entries', 1, 1 << 20);
    if (!isPowerOfTwo(entries)) throw new RangeError(`entries must be a power of two, got ${entries}`);
    this.entries = entries;
    this.tags = new Float64Array(entries).fill(-1);
    this.paddrs = new Float64Array(entries);
    this.prots = new Uint8Array(entries);
  }

  /** The slot of IOVA page `page` if it is cached, else -1. */
  lookup(page: number): number {
    const slot = addrMod(page, this.entries);
    return this.tags[slot] === page ? slot : -1;
  }

  paddrAt(slot: number): number {
    return this.paddrs[slot] as number;
  }

  protAt(slot: number): number {
    return this.prots[slot] as number;
  }

  /** Caches the translation of IOVA page `page` (evicting whatever shared its slot). */
  fill(page: number, paddr: number, prot: number): void {
    const slot = addrMod(page, this.entries);
    if (this.tags[slot] === -1) this.valid++;
    this.tags[slot] = page;
    this.paddrs[slot] = paddr;
    this.prots[slot] = prot;
  }

  /** Drops the pages `[first, first + pages)`; the whole cache when the range is larger. */
  invalidateRange(first: number, pages: number): void {
    if (this.valid === 0) return;
    if (pages >= this.entries) {
      this.invalidateAll();
      return;
    }
    for (let page = first; page < first + pages; page++) {
      const slot = addrMod(page, this.entries);
      if (this.tags[slot] === page) {
        this.tags[slot] = -1;
        this.valid--;
      }
    }
  }

  invalidateAll(): void {
    if (this.valid === 0) return;
    this.tags.fill(-1);
    this.valid = 0;
  }

  /** Valid entries now (for tests and reports). */
  get size(): number {
    return this.valid;
  }
}
