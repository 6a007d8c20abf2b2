import { DMA_BIDIRECTIONAL, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '../device.js';
import type { ActiveCacheline } from './cacheline-tracking.js';
import { DmaOwnership } from './ownership-sanitizer.js';

/**
 * What a mapping was made with, as dma-debug's `type2name[]` prints it. The sg name keeps the
 * kernel's misspelling "scather-gather" of the era this model follows (v2.6.30 to v6.1; newer trees
 * print "scatter-gather"); "noncoherent" is the v5.10 type of `dma_alloc_pages`.
 */
export type DmaDebugType = 'single' | 'scather-gather' | 'coherent' | 'resource' | 'noncoherent';

/** `enum map_err_types`: whether `dma_mapping_error()` must be, or was, called on the handle. */
export const MAP_ERR_CHECK_NOT_APPLICABLE = 0;
export const MAP_ERR_NOT_CHECKED = 1;
export const MAP_ERR_CHECKED = 2;
export type MapErrType = typeof MAP_ERR_CHECK_NOT_APPLICABLE | typeof MAP_ERR_NOT_CHECKED | typeof MAP_ERR_CHECKED;

/**
 * The fields an unmap, free or sync describes: the kernel builds a `struct dma_debug_entry` on
 * the stack as the reference it looks the recorded entry up with.
 */
export interface DmaDebugRef {
  readonly dev: Device;
  readonly devAddr: number;
  readonly size: number;
  readonly type: DmaDebugType;
  readonly direction: DmaDataDirection;
  /** `nents` of the sg call; 0 for everything else. */
  readonly sgCallEnts: number;
  /** The physical address behind a noncoherent free (`page_to_phys`), else null. */
  readonly paddr: number | null;
  /** The CPU address a coherent free passes, else null. */
  readonly cpuAddr: number | null;
}

/**
 * `struct dma_debug_entry`: one live mapping or allocation. No stack trace is captured (the
 * kernel keeps 5 return addresses), so recording costs one object and one bucket insert.
 */
export interface DmaDebugEntry extends DmaDebugRef {
  /** `sg_mapped_ents`: what `dma_map_sg` returned (0 for non-sg entries). */
  readonly sgMappedEnts: number;
  mapErrType: MapErrType;
  readonly attrs: number;
  /**
   * The line slot the active-cacheline tracking counted this entry under, or null when it was
   * not inserted (`DMA_TO_DEVICE`, or no known physical address).
   */
  cacheline: ActiveCacheline | null;
  /** The ownership record the sanitizer watches (streaming mappings only), shared by an sg list's entries. */
  ownership: DmaOwnership | null;
  /** Links of the hash bucket's list (`list_head`); null while the entry is not in the hash. */
  hashPrev: DmaDebugEntry | null;
  hashNext: DmaDebugEntry | null;
  /** The bucket the entry was added to (`hash_fn` of its address then), so removal need not hash. */
  hashIndex: number;
}

/**
 * The object behind every entry. A single or page mapping is its own ownership record (the
 * sanitizer's view of it), so recording one costs one object, and that object comes back from
 * the pool; an sg list's entries share a separate record. The `DmaOwnership` part is unused
 * (and untracked) in the entries of coherent, resource and sg recordings.
 */
export class DmaDebugRecord extends DmaOwnership implements DmaDebugEntry {
  /** The line slot (see `DmaDebugEntry.cacheline`). */
  cacheline: ActiveCacheline | null = null;
  hashPrev: DmaDebugEntry | null = null;
  hashNext: DmaDebugEntry | null = null;
  hashIndex = 0;
  // Numeric fields start as numbers (see `DmaOwnership`): V8 keeps them unboxed.
  sgCallEnts = 0;
  /**
   * `paddr`, with −1 for none: a field that only ever holds numbers keeps them unboxed, while a
   * field that has held null boxes every address above 2^31 it stores (an allocation per map).
   */
  private phys = -1;
  cpuAddr: number | null = null;
  sgMappedEnts = 0;
  mapErrType: MapErrType = MAP_ERR_CHECK_NOT_APPLICABLE;
  attrs = 0;
  ownership: DmaOwnership | null = null;

  constructor(
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    direction: DmaDataDirection,
    sgCallEnts: number,
    paddr: number | null,
    cpuAddr: number | null,
    sgMappedEnts: number,
    mapErrType: MapErrType,
    attrs: number,
    ownership: DmaOwnership | null,
  ) {
    // Two slots: a record that is its own ownership has one piece (`setSingle`).
    super(dev, type, devAddr, size, direction, [paddr ?? 0, size], 'device');
    this.sgCallEnts = sgCallEnts;
    this.phys = paddr ?? -1;
    this.cpuAddr = cpuAddr;
    this.sgMappedEnts = sgMappedEnts;
    this.mapErrType = mapErrType;
    this.attrs = attrs;
    this.ownership = ownership;
  }

  /** The physical address behind the mapping, when known (see `DmaDebugRef.paddr`). */
  get paddr(): number | null {
    return this.phys < 0 ? null : this.phys;
  }

  set paddr(paddr: number | null) {
    this.phys = paddr ?? -1;
  }

  /**
   * Fills the entry for a `dma_map_page`/`dma_map_single` mapping of one physical piece: still to
   * be checked with `dma_mapping_error`, owned by the device, and made its own ownership record
   * (referenced once: by this entry). `dma_alloc_pages` adjusts three fields after it.
   */
  setSingle(dev: Device, devAddr: number, size: number, direction: DmaDataDirection, paddr: number, attrs: number): void {
    this.dev = dev;
    this.devAddr = devAddr;
    this.size = size;
    this.type = 'single';
    this.direction = direction;
    this.sgCallEnts = 0;
    this.phys = paddr;
    this.cpuAddr = null;
    this.sgMappedEnts = 0;
    this.mapErrType = MAP_ERR_NOT_CHECKED;
    this.attrs = attrs;
    this.cacheline = null;
    const { ranges } = this;
    ranges[0] = paddr;
    ranges[1] = size;
    this.owner = 'device';
    this.reported = false;
    // The sanitizer's links and flags (`listed`, `indexed`, `prev`, `next`, `pendingNext`) are
    // clear already: the record is new, or was untracked before the entry was freed.
    this.state = 'new';
    this.refs = 1;
    this.ownership = this;
  }
}

/** Builds an entry with the fields every recording sets. */
export function makeEntry(
  ref: DmaDebugRef,
  sgMappedEnts: number,
  mapErrType: MapErrType,
  attrs: number,
  ownership: DmaOwnership | null,
): DmaDebugRecord {
  return new DmaDebugRecord(ref.dev, ref.type, ref.devAddr, ref.size, ref.direction, ref.sgCallEnts, ref.paddr, ref.cpuAddr, sgMappedEnts, mapErrType, attrs, ownership);
}

/**
 * `PREALLOC_DMA_DEBUG_ENTRIES`: the kernel preallocates 65536 entries and recycles them through
 * `free_entries`. The pool keeps at most that many freed entries for reuse.
 */
export const PREALLOC_DMA_DEBUG_ENTRIES = 65536;

/**
 * `dma_entry_alloc` / `dma_entry_free` over the `free_entries` list: recording a mapping reuses
 * the object an unmap gave back instead of allocating one. Entries are made on demand (nothing is
 * preallocated), and an entry given back must no longer be referenced by anyone (nor tracked by
 * the sanitizer, when it was its own ownership record).
 */
export class DmaDebugEntryPool {
  /**
   * A stack of `count` entries, indexed rather than pushed and popped (measurably cheaper when a
   * map/unmap loop empties and refills it on every call); slots above `count` hold null.
   */
  private readonly free: (DmaDebugRecord | null)[] = [];
  private count = 0;

  /** Freed entries waiting for reuse. */
  get freeCount(): number {
    return this.count;
  }

  /** `dma_entry_alloc` with the fields filled in. */
  alloc(
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    direction: DmaDataDirection,
    sgCallEnts: number,
    paddr: number | null,
    cpuAddr: number | null,
    sgMappedEnts: number,
    mapErrType: MapErrType,
    attrs: number,
    ownership: DmaOwnership | null,
  ): DmaDebugRecord {
    if (this.count === 0) {
      return new DmaDebugRecord(dev, type, devAddr, size, direction, sgCallEnts, paddr, cpuAddr, sgMappedEnts, mapErrType, attrs, ownership);
    }
    const entry = this.pop();
    entry.dev = dev;
    entry.devAddr = devAddr;
    entry.size = size;
    entry.type = type;
    entry.direction = direction;
    entry.sgCallEnts = sgCallEnts;
    entry.paddr = paddr;
    entry.cpuAddr = cpuAddr;
    entry.sgMappedEnts = sgMappedEnts;
    entry.mapErrType = mapErrType;
    entry.attrs = attrs;
    entry.cacheline = null;
    entry.ownership = ownership;
    return entry;
  }

  /**
   * `dma_entry_alloc` for a streaming single mapping, filled in by `setSingle` (few arguments:
   * the map path is hot).
   */
  allocSingle(dev: Device, devAddr: number, size: number, direction: DmaDataDirection, paddr: number, attrs: number): DmaDebugRecord {
    const entry = this.count === 0 ? this.create(dev) : this.pop();
    entry.setSingle(dev, devAddr, size, direction, paddr, attrs);
    return entry;
  }

  /** A new entry for the caller to fill in (the pool is empty). */
  private create(dev: Device): DmaDebugRecord {
    return new DmaDebugRecord(dev, 'single', 0, 0, DMA_BIDIRECTIONAL, 0, null, null, 0, MAP_ERR_CHECK_NOT_APPLICABLE, 0, null);
  }

  /** The most recently freed entry (the pool is not empty). */
  private pop(): DmaDebugRecord {
    this.count--;
    const entry = this.free[this.count] as DmaDebugRecord;
    this.free[this.count] = null;
    return entry;
  }

  /** `dma_entry_free`: the entry is out of the hash, the cacheline tracking and the sanitizer. */
  release(entry: DmaDebugRecord): void {
    if (this.count >= PREALLOC_DMA_DEBUG_ENTRIES) return;
    // Drop the reference a parked entry would keep alive (a single mapping's is itself).
    if (entry.ownership !== entry) entry.ownership = null;
    this.free[this.count] = entry;
    this.count++;
  }
}
