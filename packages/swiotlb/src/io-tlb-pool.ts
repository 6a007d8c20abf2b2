/**
 * `struct io_tlb_pool`: one physically contiguous run of slots, split into areas that each have
 * their own lock (one per CPU, so mappings on different CPUs do not contend) and their own
 * round-robin search position. Slot metadata lives in typed arrays, one entry per 2 KiB slot.
 */
import { checkAddress, checkInteger, isPowerOfTwo } from '@kdma/hw';
import { INVALID_PHYS_ADDR, IO_TLB_SEGSIZE, IO_TLB_SIZE } from './io-tlb.js';
import type { PoolPages } from './pool-memory.js';

export class IoTlbPool {
  /** Physical address of slot 0 (`pool->start`). */
  readonly start: number;
  /** One past the last slot (`pool->end`). */
  readonly end: number;
  /** Slots (`pool->nslabs`). */
  readonly nslabs: number;
  /** Areas (`pool->nareas`), a power of two. */
  readonly nareas: number;
  /** Slots per area (`pool->area_nslabs`). */
  readonly areaNslabs: number;
  /** Allocated after boot from the page allocator (`late_alloc`). */
  readonly lateAlloc: boolean;
  /**
   * `slots[i].orig_addr`: the original address a used slot stands for (the first slot of a
   * mapping holds the buffer's start, each next one 2 KiB further), `INVALID_PHYS_ADDR` otherwise.
   */
  readonly origAddr: Float64Array;
  /**
   * `slots[i].alloc_size`: bytes from this slot to the end of the allocation, minus the mapping's
   * in-slot offset. Signed, because the last slot of a mapping with an offset goes below zero and
   * the bounce arithmetic relies on it, as the kernel's unsigned wrap-around does.
   */
  readonly allocSize: Int32Array;
  /**
   * `slots[i].list`: free slots in a row from i to the end of its segment, 0 when i is used. The
   * whole allocator is these counters: a run of n free slots starts where `list >= n`.
   */
  readonly list: Uint16Array;
  /** `slots[i].pad_slots` (v6.10): padding slots before the first used slot of a mapping. */
  readonly padSlots: Uint16Array;
  /** `areas[a].used`. */
  readonly areaUsed: Uint32Array;
  /** `areas[a].index`: where the next search in area a starts (area-relative). */
  readonly areaIndex: Uint32Array;
  /** A pool of one mapping (CONFIG_SWIOTLB_DYNAMIC), freed with it. */
  transient = false;
  /** The pages behind it, when they go back to the page allocator with the pool. */
  readonly pages: PoolPages | null;

  /** `swiotlb_init_io_tlb_pool`: every slot free, each segment one free run. */
  constructor(start: number, nslabs: number, nareas: number, lateAlloc: boolean, pages: PoolPages | null = null) {
    checkAddress(start, 'start');
    checkInteger(nslabs, 'nslabs', 1, 2 ** 31);
    checkInteger(nareas, 'nareas', 1, nslabs);
    if (!isPowerOfTwo(nareas)) throw new RangeError(`nareas must be a power of two, got ${nareas}`);
    if (nslabs % nareas !== 0) throw new RangeError(`nslabs ${nslabs} must be a multiple of nareas ${nareas}`);
    this.start = start;
    this.end = start + nslabs * IO_TLB_SIZE;
    this.nslabs = nslabs;
    this.nareas = nareas;
    this.areaNslabs = nslabs / nareas;
    this.lateAlloc = lateAlloc;
    this.pages = pages;
    this.origAddr = new Float64Array(nslabs).fill(INVALID_PHYS_ADDR);
    this.allocSize = new Int32Array(nslabs);
    this.list = new Uint16Array(nslabs);
    this.padSlots = new Uint16Array(nslabs);
    this.areaUsed = new Uint32Array(nareas);
    this.areaIndex = new Uint32Array(nareas);
    const list = this.list;
    for (let i = 0; i < nslabs; i++) list[i] = Math.min(IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE), nslabs - i);
  }

  /** Slots in use, over all areas (`mem_pool_used`). */
  used(): number {
    let used = 0;
    for (let a = 0; a < this.nareas; a++) used += this.areaUsed[a] as number;
    return used;
  }

  /** True when `paddr` lies in this pool. */
  contains(paddr: number): boolean {
    return paddr >= this.start && paddr < this.end;
  }
}
