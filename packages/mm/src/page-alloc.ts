/**
 * The buddy page allocator (mm/page_alloc.c): per zone, per order, a doubly-linked free list of
 * naturally aligned blocks of 2^order pages. Allocation takes the smallest block that fits and
 * splits it (expand()); freeing merges a block with its buddy while the buddy is free and of the
 * same order (__free_one_page()). Blocks never cross a region, hole or zone boundary.
 *
 * All metadata lives in typed arrays indexed by the dense page slot of MemMap: a state and an order
 * per page, next/prev links for free-list heads. Only block heads carry a state; tail pages are 0.
 */
import { checkInteger, checkSize, getOrder, hex, pow2 } from '@kdma/hw';
import { checkGfp, formatGfp, gfpZone, GFP_KERNEL, __GFP_NOWARN, __GFP_ZERO } from './gfp.js';
import type { PhysicalCpuAccess } from './hardware.js';
import type { MemMap } from './memmap.js';
import type { ZoneType } from './gfp.js';
import type { Zones } from './zones.js';

/** Page states, one byte per page slot. */
export const PAGE_TAIL = 0;
export const PAGE_FREE = 1;
export const PAGE_ALLOCATED = 2;
export const PAGE_RESERVED = 3;
export const PAGE_CMA = 4;

/** What a page is, as `pageState()` reports it. */
export type PageState = 'free' | 'allocated' | 'reserved' | 'cma';

/** A range of pfns kept out of the buddy lists at boot (memblock_reserve, CMA). */
export interface ReservedPfnRange {
  readonly startPfn: number;
  readonly endPfn: number;
  readonly state: typeof PAGE_RESERVED | typeof PAGE_CMA;
}

/** One zone's free lists as /proc/buddyinfo prints them: free blocks per order. */
export interface BuddyInfo {
  readonly zone: ZoneType;
  readonly freeAreas: readonly number[];
  readonly freePages: number;
}

/** MAX_ORDER - 1 of the kernels of 2011: the largest block is 2^10 pages (4 MiB with 4 KiB pages). */
export const DEFAULT_MAX_ORDER = 10;

export class PageAllocator {
  readonly maxOrder: number;
  /** Free pages in the buddy lists right after boot. */
  readonly initialFreePages: number;
  private readonly hw: PhysicalCpuAccess;
  private readonly memmap: MemMap;
  private readonly zones: Zones;
  private readonly pageSize: number;
  private readonly state: Uint8Array;
  private readonly order: Uint8Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Head slot of each (zone, order) free list, -1 when empty. */
  private readonly heads: Int32Array;
  /** Blocks on each (zone, order) free list. */
  private readonly nrFree: Int32Array;
  private readonly zoneFree: Float64Array;
  /**
   * Max-order blocks never touched since boot, per zone: runs of consecutive blocks [firstSlot,
   * blocks], handed out lowest first when the max-order list is empty. Boot costs nothing per
   * block, and a block's metadata is first written when it is split.
   */
  private readonly pool: [number, number][][];
  private readonly poolRun: Int32Array;
  private readonly poolUsed: Float64Array;
  private freeTotal = 0;

  constructor(hw: PhysicalCpuAccess, memmap: MemMap, zones: Zones, maxOrder: number, reserved: readonly ReservedPfnRange[]) {
    this.hw = hw;
    this.memmap = memmap;
    this.zones = zones;
    this.pageSize = memmap.pageSize;
    this.maxOrder = maxOrder;
    const pages = memmap.totalPages;
    // Zero-filled by the allocator; the links are written only for free-list heads, so building
    // a 64 GiB machine touches one slot per max-order block.
    this.state = new Uint8Array(pages);
    this.order = new Uint8Array(pages);
    this.next = new Int32Array(pages);
    this.prev = new Int32Array(pages);
    this.heads = new Int32Array(zones.count * (maxOrder + 1)).fill(-1);
    this.nrFree = new Int32Array(zones.count * (maxOrder + 1));
    this.zoneFree = new Float64Array(zones.count);
    this.pool = Array.from({ length: zones.count }, () => []);
    this.poolRun = new Int32Array(zones.count);
    this.poolUsed = new Float64Array(zones.count);

    const sorted = [...reserved].sort((a, b) => a.startPfn - b.startPfn);
    // memblock_reserve(): reserved pages carry their state page by page and never join a block.
    for (const r of sorted) {
      for (let s = 0; s < zones.spanCount; s++) {
        const from = Math.max(r.startPfn, zones.spanStartPfn[s] as number);
        const to = Math.min(r.endPfn, zones.spanEndPfn[s] as number);
        if (to > from) {
          const slot = (zones.spanFirstSlot[s] as number) + from - (zones.spanStartPfn[s] as number);
          this.state.fill(r.state, slot, slot + to - from);
        }
      }
    }
    // free_all_bootmem(): hand every unreserved run to the lists as maximal aligned blocks,
    // highest address first so each list starts with its lowest block; whole max-order blocks go
    // to the untouched pool instead.
    const blocks: number[] = [];
    for (let s = 0; s < zones.spanCount; s++) {
      const start = zones.spanStartPfn[s] as number;
      const end = zones.spanEndPfn[s] as number;
      let p = start;
      for (const r of sorted) {
        if (r.endPfn <= p || r.startPfn >= end) continue;
        if (r.startPfn > p) this.collectBlocks(blocks, s, p, r.startPfn);
        p = Math.max(p, r.endPfn);
      }
      if (p < end) this.collectBlocks(blocks, s, p, end);
    }
    for (let i = blocks.length - 3; i >= 0; i -= 3) {
      const slot = blocks[i] as number;
      const order = blocks[i + 1] as number;
      const zone = blocks[i + 2] as number;
      this.state[slot] = PAGE_FREE;
      this.order[slot] = order;
      this.push(zone * (maxOrder + 1) + order, slot);
      this.zoneFree[zone] = (this.zoneFree[zone] as number) + pow2(order);
      this.freeTotal += pow2(order);
    }
    this.initialFreePages = this.freeTotal;
  }

  private collectBlocks(out: number[], span: number, from: number, to: number): void {
    const zones = this.zones;
    const base = (zones.spanFirstSlot[span] as number) - (zones.spanStartPfn[span] as number);
    const zone = zones.spanZone[span] as number;
    const maxBlock = pow2(this.maxOrder);
    let p = from;
    while (p < to) {
      if (p % maxBlock === 0 && p + maxBlock <= to) {
        const blocks = Math.floor((to - p) / maxBlock);
        (this.pool[zone] as [number, number][]).push([base + p, blocks]);
        const list = zone * (this.maxOrder + 1) + this.maxOrder;
        this.nrFree[list] = (this.nrFree[list] as number) + blocks;
        this.zoneFree[zone] = (this.zoneFree[zone] as number) + blocks * maxBlock;
        this.freeTotal += blocks * maxBlock;
        p += blocks * maxBlock;
        continue;
      }
      let k = this.maxOrder;
      while (k > 0 && (p % pow2(k) !== 0 || p + pow2(k) > to)) k--;
      out.push(base + p, k, zone);
      p += pow2(k);
    }
  }

  /** The lowest untouched max-order block of `zone`, or -1. */
  private takeFromPool(zone: number): number {
    const runs = this.pool[zone] as [number, number][];
    let run = this.poolRun[zone] as number;
    let used = this.poolUsed[zone] as number;
    while (run < runs.length && used >= (runs[run] as [number, number])[1]) {
      run++;
      used = 0;
    }
    this.poolRun[zone] = run;
    if (run >= runs.length) return -1;
    this.poolUsed[zone] = used + 1;
    return (runs[run] as [number, number])[0] + used * pow2(this.maxOrder);
  }

  private push(list: number, slot: number): void {
    const head = this.heads[list] as number;
    this.next[slot] = head;
    this.prev[slot] = -1;
    if (head >= 0) this.prev[head] = slot;
    this.heads[list] = slot;
    this.nrFree[list] = (this.nrFree[list] as number) + 1;
  }

  private unlink(list: number, slot: number): void {
    const p = this.prev[slot] as number;
    const n = this.next[slot] as number;
    if (p >= 0) this.next[p] = n;
    else this.heads[list] = n;
    if (n >= 0) this.prev[n] = p;
    this.nrFree[list] = (this.nrFree[list] as number) - 1;
  }

  /** __rmqueue(): a block of `order` from zone `zone`, split down from the smallest that fits. */
  private rmqueue(zone: number, order: number): number {
    const lists = this.maxOrder + 1;
    const base = zone * lists;
    for (let j = order; j <= this.maxOrder; j++) {
      let slot = this.heads[base + j] as number;
      if (slot >= 0) this.unlink(base + j, slot);
      else if (j === this.maxOrder && (slot = this.takeFromPool(zone)) >= 0) this.nrFree[base + j] = (this.nrFree[base + j] as number) - 1;
      else continue;
      // expand(): give back the upper halves, largest first.
      while (j > order) {
        j--;
        const buddy = slot + (1 << j); // j < maxOrder ≤ 30: a page count
        this.state[buddy] = PAGE_FREE;
        this.order[buddy] = j;
        this.push(base + j, buddy);
      }
      this.state[slot] = PAGE_ALLOCATED;
      this.order[slot] = order;
      const pages = 1 << order;
      this.zoneFree[zone] = (this.zoneFree[zone] as number) - pages;
      this.freeTotal -= pages;
      return slot;
    }
    return -1;
  }

  private slotToPfn(slot: number): number {
    const zones = this.zones;
    const span = zones.spanOfSlot(slot);
    return (zones.spanStartPfn[span] as number) + slot - (zones.spanFirstSlot[span] as number);
  }

  /**
   * alloc_pages(gfp, order): the first pfn of 2^order free pages, or null (printing the kernel's
   * "page allocation failure" unless __GFP_NOWARN). Tries the highest zone the flags allow first.
   */
  allocPages(order: number, gfp: number = GFP_KERNEL): number | null {
    checkInteger(order, 'order', 0, 63);
    checkGfp(gfp);
    const type = gfpZone(gfp);
    if (order <= this.maxOrder) {
      for (let z = this.zones.highestZoneFor(type); z >= 0; z--) {
        const slot = this.rmqueue(z, order);
        if (slot >= 0) {
          const pfn = this.slotToPfn(slot);
          // clear_page() is a run of cached stores: on a non-coherent machine the zeroes sit in
          // dirty lines until someone cleans them.
          if ((gfp & __GFP_ZERO) !== 0) this.hw.cpuFill(pfn * this.pageSize, this.pageSize * pow2(order), 0, 'normal');
          return pfn;
        }
      }
    }
    this.warnAllocFailed(order, gfp);
    return null;
  }

  /** warn_alloc_failed(). */
  warnAllocFailed(order: number, gfp: number): void {
    if ((gfp & __GFP_NOWARN) === 0) this.hw.dmesg.printk('warn', `page allocation failure: order:${order}, mode:${formatGfp(gfp)}`);
  }

  /** The span of the block last checked by allocatedSlot(). */
  private checkedSpan = 0;

  /** Throws the kernel's "Bad page state" unless `pfn` heads an allocated block of `order`. */
  private allocatedSlot(pfn: number, order: number, caller: string): number {
    checkInteger(pfn, 'pfn');
    checkInteger(order, 'order', 0, 63);
    const zones = this.zones;
    const span = zones.spanOfPfn(pfn);
    if (span < 0) throw new Error(`BUG: Bad page state: ${caller}(pfn ${hex(pfn)}, order ${order}): no RAM page at this pfn`);
    const slot = (zones.spanFirstSlot[span] as number) + (pfn - (zones.spanStartPfn[span] as number));
    const state = this.state[slot] as number;
    if (state !== PAGE_ALLOCATED || this.order[slot] !== order) {
      const what = this.describe(pfn);
      throw new Error(`BUG: Bad page state: ${caller}(pfn ${hex(pfn)}, order ${order}) of a page that is ${what}`);
    }
    this.checkedSpan = span;
    return slot;
  }

  private describe(pfn: number): string {
    const state = this.pageState(pfn);
    const slot = this.memmap.pfnToSlot(pfn);
    if (state === 'allocated' && this.state[slot] === PAGE_ALLOCATED) return `allocated with order ${this.order[slot] as number}`;
    if (state === 'allocated') return 'inside an allocated block (not its first page)';
    if (state === 'free') return 'free (double free?)';
    return state === 'cma' ? 'in the CMA area (use cmaRelease)' : 'reserved';
  }

  /** __free_pages(): returns the block to its zone, merging with free buddies. */
  freePages(pfn: number, order: number): void {
    let slot = this.allocatedSlot(pfn, order, 'freePages');
    const zones = this.zones;
    const span = this.checkedSpan;
    const minSlot = zones.spanFirstSlot[span] as number;
    const endSlot = minSlot + ((zones.spanEndPfn[span] as number) - (zones.spanStartPfn[span] as number));
    const zone = zones.spanZone[span] as number;
    const list = zone * (this.maxOrder + 1);
    const pages = 1 << order; // order ≤ maxOrder ≤ 30 once allocatedSlot() accepted it
    this.zoneFree[zone] = (this.zoneFree[zone] as number) + pages;
    this.freeTotal += pages;
    // The buddy is pfn ^ (1 << k). Only the bits below maxOrder matter, so the arithmetic runs on
    // the pfn modulo 2^31 (an int32), never on the pfn itself, and on page slots (below 2^31).
    let low = pfn % 2 ** 31;
    let k = order;
    while (k < this.maxOrder) {
      const size = 1 << k; // k < maxOrder ≤ 30: a page count, not an address
      const delta = (low & size) === 0 ? size : -size;
      const buddy = slot + delta;
      if (buddy < minSlot || buddy + size > endSlot) break;
      if (this.state[buddy] !== PAGE_FREE || this.order[buddy] !== k) break;
      this.unlink(list + k, buddy);
      if (delta < 0) {
        this.state[slot] = PAGE_TAIL;
        slot = buddy;
        low -= size;
      } else {
        this.state[buddy] = PAGE_TAIL;
      }
      k++;
    }
    this.state[slot] = PAGE_FREE;
    this.order[slot] = k;
    this.push(list + k, slot);
  }

  /** split_page(): an allocated order-n block becomes 2^n order-0 pages, each freed on its own. */
  splitPage(pfn: number, order: number): void {
    const slot = this.allocatedSlot(pfn, order, 'splitPage');
    const pages = pow2(order);
    this.state.fill(PAGE_ALLOCATED, slot, slot + pages);
    this.order.fill(0, slot, slot + pages);
  }

  /** alloc_pages_exact(): exactly the pages `size` needs, the rest of the block given back. */
  allocPagesExact(size: number, gfp: number = GFP_KERNEL): number | null {
    checkSize(size, 'size');
    const order = getOrder(size, this.pageSize);
    const pfn = this.allocPages(order, gfp);
    if (pfn === null) return null;
    this.splitPage(pfn, order);
    const used = Math.ceil(size / this.pageSize);
    for (let i = used; i < pow2(order); i++) this.freePages(pfn + i, 0);
    return pfn;
  }

  /** free_pages_exact(): frees what allocPagesExact(size) returned; checks every page first. */
  freePagesExact(pfn: number, size: number): void {
    checkSize(size, 'size');
    const pages = Math.ceil(size / this.pageSize);
    for (let i = 0; i < pages; i++) this.allocatedSlot(pfn + i, 0, 'freePagesExact');
    for (let i = 0; i < pages; i++) this.freePages(pfn + i, 0);
  }

  /** Free pages in the buddy lists (nr_free_pages without CMA). */
  get freePageCount(): number {
    return this.freeTotal;
  }

  /** Free pages of zone index `zone`. */
  zoneFreePages(zone: number): number {
    return this.zoneFree[zone] ?? 0;
  }

  /** /proc/buddyinfo: per zone, how many free blocks of each order. */
  buddyinfo(): BuddyInfo[] {
    const lists = this.maxOrder + 1;
    return this.zones.names.map((zone, z) => ({
      zone,
      freeAreas: Array.from(this.nrFree.subarray(z * lists, (z + 1) * lists)),
      freePages: this.zoneFree[z] as number,
    }));
  }

  /** What the page at `pfn` is part of; null when there is no RAM page there. */
  pageState(pfn: number): PageState | null {
    const zones = this.zones;
    const span = zones.spanOfPfn(pfn);
    if (span < 0) return null;
    const spanStart = zones.spanStartPfn[span] as number;
    const slot = (zones.spanFirstSlot[span] as number) + pfn - spanStart;
    const state = this.state[slot] as number;
    if (state === PAGE_TAIL) {
      // A tail page: its head is the first aligned pfn below it that carries a state.
      for (let k = 1; k <= this.maxOrder; k++) {
        const head = pfn - (pfn % pow2(k));
        if (head < spanStart) break;
        const hs = slot - (pfn - head);
        const hstate = this.state[hs] as number;
        if (hstate !== PAGE_TAIL) return (this.order[hs] as number) >= k && hstate === PAGE_ALLOCATED ? 'allocated' : 'free';
      }
      return 'free';
    }
    if (state === PAGE_FREE) return 'free';
    if (state === PAGE_ALLOCATED) return 'allocated';
    return state === PAGE_CMA ? 'cma' : 'reserved';
  }
}
