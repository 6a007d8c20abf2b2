import { DMA_ATTR_DEBUGGING_IGNORE_CACHELINES, DMA_ATTR_REQUIRE_COHERENT, DMA_ATTR_SKIP_CPU_SYNC, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import type { DmaDebugEntry } from './dma-debug-entry.js';
import { hex016 } from './dma-debug-format.js';

/**
 * `ACTIVE_CACHELINE_MAX_OVERLAP`: the kernel counts overlaps in the 3 tag bits of a radix-tree
 * slot, so it can tell at most 7 extra mappings of one cache line apart.
 */
export const ACTIVE_CACHELINE_MAX_OVERLAP = 7;

/** Attributes with which both mappings of a shared line say the overlap is intended (2026). */
const CACHE_CLEAN_ATTRS = DMA_ATTR_DEBUGGING_IGNORE_CACHELINES | DMA_ATTR_REQUIRE_COHERENT;

/**
 * One line's slot (the kernel's radix-tree slot and its tag bits). An entry keeps a reference to
 * the slot it was counted under, so an unmap needs no lookup.
 */
export interface ActiveCacheline {
  /** The cache line number (the key). */
  readonly cln: number;
  /**
   * The attributes of the entry the radix tree slot points at (the first mapping of the line),
   * copied: entries are recycled once unmapped, so the slot keeps no reference to one.
   */
  firstAttrs: number;
  /** Mappings beyond the first (0..7), or −1 for an idle slot kept for reuse. */
  overlap: number;
}

/** Idle slots kept before a sweep, at least; a driver remapping its ring reuses them without Map churn. */
const MIN_IDLE_SLOTS = 1024;

/** What `insert` found. */
export type CachelineInsertResult = 'inserted' | 'skipped' | 'overlap' | 'exempt-overlap';

/**
 * `dma_active_cacheline`: the first cache line of every live mapping the device may write, keyed
 * by cache line number (`paddr / L1_CACHE_BYTES`). Two such mappings sharing a line are a bug on a
 * non-coherent machine: the CPU's write-back or invalidate of the line for one buffer corrupts
 * what the device wrote into the other. `DMA_TO_DEVICE` mappings are left out (the device only
 * reads them, so the CPU cannot consume stale data), which keeps legitimate shared read-only
 * mappings quiet. As in the kernel, only the first line of a mapping (of each sg entry) is keyed.
 */
export class ActiveCachelines {
  private readonly lines = new Map<number, ActiveCacheline>();
  private idle = 0;
  private warnedOverflow = false;

  constructor(
    private readonly lineSize: number,
    /** `WARN_ONCE`'s printk, for the overflow of the overlap counter. */
    private readonly warn: (message: string) => void,
  ) {}

  /** Lines with at least one live mapping. */
  get size(): number {
    return this.lines.size - this.idle;
  }

  /** `to_cacheline_number`. */
  cachelineOf(paddr: number): number {
    return Math.floor(paddr / this.lineSize);
  }

  /**
   * `active_cacheline_insert` plus the EEXIST policy of `add_dma_entry`: `'overlap'` is an error
   * to report; `'exempt-overlap'` is an overlap the mapping's attributes excuse
   * (`DMA_ATTR_SKIP_CPU_SYNC`: the caller manages the cache itself; since 2026 also both mappings
   * carrying `DMA_ATTR_DEBUGGING_IGNORE_CACHELINES` or `DMA_ATTR_REQUIRE_COHERENT`).
   */
  insert(entry: DmaDebugEntry): CachelineInsertResult {
    // Small enough to inline into every map, with the line work out of line.
    if (entry.direction === DMA_TO_DEVICE || entry.paddr === null) return 'skipped';
    return this.insertLine(entry, entry.paddr);
  }

  private insertLine(entry: DmaDebugEntry, paddr: number): CachelineInsertResult {
    const cln = this.cachelineOf(paddr);
    const line = this.lines.get(cln);
    if (line === undefined) return this.insertNew(entry, cln);
    entry.cacheline = line;
    if (line.overlap >= 0) return this.insertOverlap(entry, line, cln);
    line.firstAttrs = entry.attrs;
    line.overlap = 0;
    this.idle--;
    return 'inserted';
  }

  /** The first mapping of a line that has no slot (never mapped, or swept since). */
  private insertNew(entry: DmaDebugEntry, cln: number): CachelineInsertResult {
    const line: ActiveCacheline = { cln, firstAttrs: entry.attrs, overlap: 0 };
    this.lines.set(cln, line);
    entry.cacheline = line;
    return 'inserted';
  }

  /** The second and later live mappings of a line. */
  private insertOverlap(entry: DmaDebugEntry, line: ActiveCacheline, cln: number): CachelineInsertResult {
    this.incOverlap(line, cln);
    if ((entry.attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0) return 'exempt-overlap';
    if ((entry.attrs & CACHE_CLEAN_ATTRS) !== 0 && (line.firstAttrs & CACHE_CLEAN_ATTRS) !== 0) return 'exempt-overlap';
    return 'overlap';
  }

  /** `active_cacheline_inc_overlap`: saturates at 7 and warns once, as a leak is the likely cause. */
  private incOverlap(line: ActiveCacheline, cln: number): void {
    if (line.overlap < ACTIVE_CACHELINE_MAX_OVERLAP) {
      line.overlap++;
      return;
    }
    if (this.warnedOverflow) return;
    this.warnedOverflow = true;
    this.warn(`exceeded ${ACTIVE_CACHELINE_MAX_OVERLAP} overlapping mappings of cacheline ${hex016(cln)}`);
  }

  /**
   * `active_cacheline_remove`: the line is idle once the unmaps balance the maps. Like the
   * kernel, a line whose counter saturated is released early (after 8 unmaps).
   */
  remove(entry: DmaDebugEntry): void {
    const line = entry.cacheline;
    if (line === null) return;
    entry.cacheline = null;
    if (line.overlap >= 0) this.removeLine(line);
    else this.removeReleased(line);
  }

  /**
   * The unmap of a mapping whose line was released early (a saturated counter): the line's
   * current slot, if it was swept and mapped again since, is the one the kernel's lookup finds.
   */
  private removeReleased(stale: ActiveCacheline): void {
    const line = this.lines.get(stale.cln);
    if (line !== undefined && line.overlap >= 0) this.removeLine(line);
  }

  private removeLine(line: ActiveCacheline): void {
    line.overlap--;
    if (line.overlap < 0) {
      this.idle++;
      if (this.idle > MIN_IDLE_SLOTS && this.idle > this.lines.size / 2) this.sweep();
    }
  }

  /** Drops idle slots (amortised: only once they outnumber the live ones). */
  private sweep(): void {
    for (const [cln, line] of this.lines) if (line.overlap < 0) this.lines.delete(cln);
    this.idle = 0;
  }
}
