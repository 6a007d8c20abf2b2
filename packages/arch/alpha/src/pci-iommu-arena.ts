import type { Device } from '@kdma/dma-mapping';
import { dmaGetSegBoundaryNrPages, iommuIsSpanBoundary } from '@kdma/iommu';

/*
 * `struct pci_iommu_arena` of arch/alpha/kernel/pci_impl.h and its allocator in pci_iommu.c: a
 * scatter-gather window's page table (one `unsigned long` PTE per 8 KiB page) and a cursor,
 * `next_entry`, that allocation moves up from. Entries below the cursor are never reused before
 * the search wraps — and a wrap invalidates the window's TLB first — because the chip may still
 * hold a freed entry in its TLB.
 */

/** `IOMMU_INVALID_PTE`: allocated, not yet filled ("not zero and invalid for the iommu tlb"). */
export const IOMMU_INVALID_PTE = 0x2;
/** `IOMMU_RESERVED_PTE`: held by `iommu_reserve` (AGP). */
export const IOMMU_RESERVED_PTE = 0xface;

/** `mk_iommu_pte`: `(paddr >> (PAGE_SHIFT-1)) | 1` — the page frame in bits 1 and up, bit 0 valid. */
export function mkIommuPte(paddr: number, pageSize: number): number {
  return Math.floor(paddr / (pageSize / 2)) + 1;
}

/** The physical page of a valid PTE, or -1 (bit 0 clear). */
export function iommuPtePaddr(pte: number, pageSize: number): number {
  return pte % 2 === 1 ? (pte - 1) * (pageSize / 2) : -1;
}

/** `struct pci_iommu_arena`. */
export class PciIommuArena {
  /** The PTEs, kernel-encoded (0 free, `IOMMU_INVALID_PTE`, or `mk_iommu_pte`). */
  readonly ptes: Float64Array;
  /** `next_entry`: where the next search starts. */
  nextEntry = 0;
  /** `align_entry`: Tsunami caches 4 PTEs at a time, so mappings start on 4-entry boundaries. */
  alignEntry = 1;

  constructor(
    /** Window name, for messages. */
    readonly name: string,
    /** `dma_base`: the window's first bus address. */
    readonly dmaBase: number,
    /** `size`: bytes of the window. */
    readonly size: number,
    readonly pageSize: number,
    /** `alpha_mv.mv_pci_tbi(hose, start, end)`: invalidate the window's TLB. */
    private readonly tbi: (start: number, end: number) => void,
  ) {
    this.ptes = new Float64Array(size / pageSize);
  }

  /**
   * `iommu_arena_find_pages`: the first `mask`-aligned run of `n` free PTEs from `next_entry`
   * that does not cross the device's segment boundary; at the end, one more pass from 0 after
   * `mv_pci_tbi(hose, 0, -1)`. -1 when that fails too — always for a run longer than the boundary,
   * which crosses it wherever it starts. (No device: the ISA bridge's 4 GiB.)
   */
  findPages(dev: Device | null, n: number, mask: number): number {
    const ptes = this.ptes;
    const nent = ptes.length;
    const base = this.dmaBase / this.pageSize;
    const boundarySize = dmaGetSegBoundaryNrPages(dev, this.pageSize);
    const spans = (p: number): boolean => iommuIsSpanBoundary(p, n, base, boundarySize);
    const align = (v: number): number => Math.ceil(v / (mask + 1)) * (mask + 1);
    let p = align(this.nextEntry);
    let i = 0;
    for (let pass = 0; ; pass++) {
      while (i < n && p + i < nent) {
        if (i === 0 && spans(p)) {
          p = align(p + 1);
          continue;
        }
        if (ptes[p + i] !== 0) {
          p = align(p + i + 1);
          i = 0;
        } else {
          i++;
        }
      }
      if (i >= n) return p;
      if (pass >= 1) return -1;
      // "Reached the end.  Flush the TLB and restart the search from the beginning."
      this.tbi(0, -1);
      p = 0;
      i = 0;
    }
  }

  /** `iommu_arena_alloc`: `n` PTEs marked `IOMMU_INVALID_PTE`, `next_entry` moved past them; -1 if none. */
  alloc(dev: Device | null, n: number, align: number): number {
    const mask = Math.max(align, this.alignEntry) - 1;
    const p = this.findPages(dev, n, mask);
    if (p < 0) return -1;
    this.ptes.fill(IOMMU_INVALID_PTE, p, p + n);
    this.nextEntry = p + n;
    return p;
  }

  /** `iommu_arena_free`: the PTEs back to 0. */
  free(ofs: number, n: number): void {
    this.ptes.fill(0, ofs, ofs + n);
  }

  /** Whether a bus address lies in the window. */
  contains(busAddr: number): boolean {
    return busAddr >= this.dmaBase && busAddr < this.dmaBase + this.size;
  }

  /** PTEs in use (anything not 0). */
  inUse(): number {
    let used = 0;
    for (const pte of this.ptes) if (pte !== 0) used++;
    return used;
  }
}
