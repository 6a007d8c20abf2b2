import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaDirectionName, type DmaDataDirection } from '@kdma/dma-attrs';
import type { AccessEvent } from '@kdma/hw';
import type { Device } from '../device.js';
import type { DmaDebugType } from './dma-debug-entry.js';
import { hex016 } from './dma-debug-format.js';
import type { DmaDebugErrorKind } from './dma-debug-hooks.js';

/** Who may touch a streaming buffer (Documentation/core-api/dma-api-howto.rst, "ownership"). */
export type DmaOwner = 'device' | 'cpu';

/**
 * One streaming mapping as the sanitizer sees it: its physical pieces and its owner. A single or
 * page mapping has one piece; an sg list has one per CPU entry, all sharing this record (its
 * ownership moves with `dma_sync_sg_*` as a whole). dma-debug recycles records once their mapping
 * is gone (`reuse`; a single mapping's entry is its own record), so the fields are writable.
 */
export class DmaOwnership {
  // Fields are declared with initial values of their type, not as constructor parameter
  // properties: with class-field semantics those start out undefined, and V8 then keeps the
  // field tagged, boxing every device address above 2^31 stored in it (an allocation per map).
  dev: Device;
  type: DmaDebugType;
  /** The (first) device address and the mapped size, for the report. */
  devAddr = 0;
  size = 0;
  direction: DmaDataDirection = DMA_BIDIRECTIONAL;
  /** Physical pieces as `paddr, length` pairs. */
  ranges: number[];
  owner: DmaOwner;
  /** Set once per ownership period, so that a loop over a buffer gives one report, not one per access. */
  reported = false;
  /** `'new'` until tracked, `'live'` while mapped, `'dead'` once unmapped or freed. */
  state: 'new' | 'live' | 'dead' = 'new';
  /** In the sanitizer's list yet? (A new record waits on the pending stack until the list is needed.) */
  listed = false;
  /** In the page index yet? (Indexing waits for the first access that needs it.) */
  indexed = false;
  /** Links of the sanitizer's list of live records (intrusive: tracking allocates nothing). */
  prev: DmaOwnership | null = null;
  next: DmaOwnership | null = null;
  /** Link of the pending stack. */
  pendingNext: DmaOwnership | null = null;

  /** How many dma-debug entries point at this record (an sg list's entries share one). */
  refs = 0;
  /**
   * The swiotlb bounce slot's physical address when the mapping bounces (one piece, the size of
   * the first), else −1: the device accesses the slot, the CPU the original. Looked up when the
   * record is first listed (the first access after the map), so mapping costs nothing more.
   */
  slot = -1;

  constructor(dev: Device, type: DmaDebugType, devAddr: number, size: number, direction: DmaDataDirection, ranges: number[], owner: DmaOwner) {
    this.dev = dev;
    this.type = type;
    this.devAddr = devAddr;
    this.size = size;
    this.direction = direction;
    this.ranges = ranges;
    this.owner = owner;
  }

  /** Makes a record that is no longer tracked or referenced describe a new mapping (`ranges` is kept). */
  reuse(dev: Device, type: DmaDebugType, devAddr: number, size: number, direction: DmaDataDirection, owner: DmaOwner): void {
    this.dev = dev;
    this.type = type;
    this.devAddr = devAddr;
    this.size = size;
    this.direction = direction;
    this.owner = owner;
    this.reported = false;
    this.state = 'new';
    this.listed = false;
    this.indexed = false;
    this.prev = null;
    this.next = null;
    this.pendingNext = null;
    this.refs = 0;
    this.slot = -1;
  }

  /** Does any piece overlap [paddr, paddr + length)? */
  overlaps(paddr: number, length: number): boolean {
    const end = paddr + length;
    for (let i = 0; i < this.ranges.length; i += 2) {
      const start = this.ranges[i] as number;
      if (start < end && paddr < start + (this.ranges[i + 1] as number)) return true;
    }
    return false;
  }
}

/** Idle page slots kept before a sweep, at least: remapping the same buffers then costs no Map churn. */
const MIN_IDLE_PAGES = 1024;

export type SanitizerReport = (dev: Device, kind: DmaDebugErrorKind, message: string) => void;

/** The bounce slot's physical address behind a record (see `DmaOwnership.slot`), or −1. */
export type BounceSlotLookup = (record: DmaOwnership) => number;

/**
 * The ownership sanitizer: kdma's answer to the kernel's removed `debug_dma_assert_idle()` ("cpu
 * touching an active dma mapped cacheline", which only caught copy-on-write of a mapped page).
 * It follows the streaming protocol — the device owns a buffer after map and `sync_for_device`,
 * the CPU after `sync_for_cpu`, nobody after unmap — and watches every access the hardware
 * reports. Coherent allocations are not watched: both sides may touch them at any time.
 *
 * What it reports, so that harmless accesses stay quiet:
 * - `cpu-access-device-owned`: a CPU write to a device-owned buffer (the device may be reading
 *   it, or a later invalidate throws the write away), or a CPU read of a device-owned
 *   `DMA_FROM_DEVICE`/`DMA_BIDIRECTIONAL` buffer (stale data). Reading a `DMA_TO_DEVICE` buffer
 *   the device is reading too is harmless, so it is not reported.
 * - `device-access-cpu-owned`: the mapping's own device writing a CPU-owned buffer (the CPU's
 *   write-back or invalidate will destroy or hide it), or reading a CPU-owned
 *   `DMA_TO_DEVICE`/`DMA_BIDIRECTIONAL` buffer (the CPU may not have written it back yet). Only
 *   the mapping's device counts: another device sharing the pages has its own mapping.
 *
 * Each mapping is reported at most once per ownership period. Cost: nothing without live
 * streaming mappings or while suppressed; otherwise one Map lookup per page an access touches.
 * Tracking is a push on a pending stack: a mapping enters the list of live records and the page
 * index only when an access (or a driver unbind) first needs them, so a map and unmap with no
 * access in between (the common streaming cycle) is a push and a pop.
 * The DMA core's own copies (swiotlb bounces to and from the original buffer) are CPU accesses
 * too: the core runs them inside `suppress`. A bounced mapping's device side is its swiotlb slot
 * (`DmaOwnership.slot`, found when the mapping is first listed): the device touching the slot
 * while the CPU owns the buffer is reported like a touch of the buffer itself.
 */
export class OwnershipSanitizer {
  /** pfn → the records with a piece in that page (one record directly, several in an array). */
  /** pfn → null marks an idle page kept for reuse, swept once idle pages outnumber the rest. */
  private readonly byPfn = new Map<number, DmaOwnership | DmaOwnership[] | null>();
  private idlePages = 0;
  /** Listed live records, newest first. */
  private head: DmaOwnership | null = null;
  /** Live records tracked since the list was last needed, newest first; all newer than the listed ones. */
  private pendingTop: DmaOwnership | null = null;
  private liveCount = 0;
  /** Live records not yet in `byPfn`: always the newest ones, a prefix of the list from `head`. */
  private unindexed = 0;
  private pieces = 0;
  private suppressDepth = 0;

  constructor(
    private readonly pageSize: number,
    private readonly report: SanitizerReport,
    /** Null when the machine has no swiotlb. */
    private readonly bounceSlot: BounceSlotLookup | null = null,
  ) {}

  /** Live streaming mappings watched. */
  get size(): number {
    return this.liveCount;
  }

  /** True inside `suppress`. */
  get suppressed(): boolean {
    return this.suppressDepth !== 0;
  }

  /** Runs `fn` without checking accesses: for the DMA core's own copies of mapped buffers. */
  suppress<T>(fn: () => T): T {
    this.suppressDepth++;
    try {
      return fn();
    } finally {
      this.suppressDepth--;
    }
  }

  /** `suppress` without a closure: every `enter` must be paired with an `exit` (in a `finally`). */
  enter(): void {
    this.suppressDepth++;
  }

  /** Ends the innermost `enter`. */
  exit(): void {
    if (this.suppressDepth > 0) this.suppressDepth--;
  }

  /** Starts watching a new mapping. */
  track(record: DmaOwnership): void {
    if (record.state !== 'new') return;
    record.state = 'live';
    record.pendingNext = this.pendingTop;
    this.pendingTop = record;
    this.liveCount++;
    this.pieces += record.ranges.length / 2;
  }

  /** Stops watching a mapping (unmap, free). */
  untrack(record: DmaOwnership): void {
    if (record !== this.pendingTop || record.state !== 'live') {
      this.untrackListed(record);
      return;
    }
    // Unmapped before anything needed the list: the newest mapping, the common case.
    record.state = 'dead';
    this.pendingTop = record.pendingNext;
    record.pendingNext = null;
    this.liveCount--;
    this.pieces -= record.ranges.length / 2;
  }

  /** `untrack` of anything but the top of the pending stack. */
  private untrackListed(record: DmaOwnership): void {
    if (record.state !== 'live') return;
    if (!record.listed) this.listPending();
    record.state = 'dead';
    record.listed = false;
    if (record.prev !== null) record.prev.next = record.next;
    else this.head = record.next;
    if (record.next !== null) record.next.prev = record.prev;
    record.prev = null;
    record.next = null;
    this.liveCount--;
    this.pieces -= record.ranges.length / 2;
    if (record.indexed) {
      record.indexed = false;
      this.updatePages(record, false);
    } else {
      this.unindexed--;
    }
    if (record.slot >= 0) {
      record.slot = -1;
      this.pieces--;
    }
  }

  /** Moves the pending records to the head of the list, oldest first, so the list stays newest first. */
  private listPending(): void {
    let reversed: DmaOwnership | null = null;
    while (this.pendingTop !== null) {
      const record: DmaOwnership = this.pendingTop;
      this.pendingTop = record.pendingNext;
      record.pendingNext = reversed;
      reversed = record;
    }
    while (reversed !== null) {
      const record: DmaOwnership = reversed;
      reversed = record.pendingNext;
      record.pendingNext = null;
      record.listed = true;
      if (this.bounceSlot !== null) this.findSlot(record, this.bounceSlot);
      record.next = this.head;
      if (this.head !== null) this.head.prev = record;
      this.head = record;
      this.unindexed++;
    }
  }

  /** Looks the bounce slot up once per mapping (the record is listed once per tracking). */
  private findSlot(record: DmaOwnership, lookup: BounceSlotLookup): void {
    const slot = lookup(record);
    if (slot < 0) return;
    record.slot = slot;
    this.pieces++;
  }

  /** Puts the records tracked since the last access into the page index, oldest first (track order). */
  private indexPending(): void {
    let oldest: DmaOwnership | null = null;
    for (let record = this.head; record !== null && !record.indexed; record = record.next) oldest = record;
    for (let record = oldest; record !== null; record = record.prev) {
      record.indexed = true;
      this.updatePages(record, true);
    }
    this.unindexed = 0;
  }

  /** Stops watching whatever `dev` left mapped (driver unbind: its memory is reused next). */
  untrackDevice(dev: Device): void {
    this.listPending();
    let record = this.head;
    while (record !== null) {
      const next = record.next;
      if (record.dev === dev) this.untrack(record);
      record = next;
    }
  }

  /** Hands a mapping over (sync for CPU or device); a new period may be reported again. */
  setOwner(record: DmaOwnership, owner: DmaOwner): void {
    if (record.owner === owner) return;
    record.owner = owner;
    record.reported = false;
  }

  /** The `hw.observe` listener. */
  readonly onAccess = (event: AccessEvent): void => {
    if (this.liveCount === 0 || this.suppressDepth !== 0 || event.length <= 0) return;
    if (this.pendingTop !== null) this.listPending();
    const first = Math.floor(event.paddr / this.pageSize);
    const last = Math.floor((event.paddr + event.length - 1) / this.pageSize);
    if (last - first >= this.pieces) {
      // A large access over few mappings: cheaper to test each mapping than each page.
      for (let record = this.head; record !== null; record = record.next) this.check(record, event);
      return;
    }
    if (this.unindexed !== 0) this.indexPending();
    for (let pfn = first; pfn <= last; pfn++) {
      const slot = this.byPfn.get(pfn);
      if (slot === undefined || slot === null) continue;
      if (slot instanceof DmaOwnership) this.check(slot, event);
      else for (const record of slot) this.check(record, event);
    }
  };

  private check(record: DmaOwnership, event: AccessEvent): void {
    if (record.reported) return;
    if (event.source === 'cpu') {
      if (record.owner !== 'device') return;
      if (!event.write && record.direction === DMA_TO_DEVICE) return;
    } else {
      if (record.owner !== 'cpu' || event.device !== record.dev.name) return;
      if (!event.write && record.direction === DMA_FROM_DEVICE) return;
    }
    if (!record.overlaps(event.paddr, event.length) && !(event.source === 'device' && this.overlapsSlot(record, event))) return;
    record.reported = true;
    const cpu = event.source === 'cpu';
    const what = cpu ? 'cpu touching an active dma mapped buffer owned by the device' : 'device touching an active dma mapped buffer owned by the cpu';
    this.report(
      record.dev,
      cpu ? 'cpu-access-device-owned' : 'device-access-cpu-owned',
      `${what} [access=${event.write ? 'write' : 'read'}] [paddr=${hex016(event.paddr)}] [len=${event.length}] ` +
        `[device address=${hex016(record.devAddr)}] [size=${record.size} bytes] [mapped as ${record.type}] ` +
        `[mapped with ${dmaDirectionName(record.direction)}]`,
    );
  }

  /** Does a device access touch the mapping's bounce slot? */
  private overlapsSlot(record: DmaOwnership, event: AccessEvent): boolean {
    const { slot } = record;
    return slot >= 0 && slot < event.paddr + event.length && event.paddr < slot + (record.ranges[1] as number);
  }

  private updatePages(record: DmaOwnership, add: boolean): void {
    const { ranges } = record;
    for (let i = 0; i < ranges.length; i += 2) this.updateRange(record, ranges[i] as number, ranges[i + 1] as number, add);
    if (record.slot >= 0) this.updateRange(record, record.slot, ranges[1] as number, add);
  }

  private updateRange(record: DmaOwnership, start: number, length: number, add: boolean): void {
    if (length <= 0) return;
    const { pageSize } = this;
    const last = Math.floor((start + length - 1) / pageSize);
    for (let pfn = Math.floor(start / pageSize); pfn <= last; pfn++) {
      if (add) this.addPage(pfn, record);
      else this.removePage(pfn, record);
    }
  }

  private addPage(pfn: number, record: DmaOwnership): void {
    const slot = this.byPfn.get(pfn);
    if (slot === undefined) this.byPfn.set(pfn, record);
    else if (slot === null) {
      this.byPfn.set(pfn, record);
      this.idlePages--;
    } else if (slot === record) return;
    else if (slot instanceof DmaOwnership) this.byPfn.set(pfn, [slot, record]);
    else if (!slot.includes(record)) slot.push(record);
  }

  private removePage(pfn: number, record: DmaOwnership): void {
    const slot = this.byPfn.get(pfn);
    if (slot === undefined || slot === null) return;
    if (slot === record) {
      this.byPfn.set(pfn, null);
      this.idlePages++;
      if (this.idlePages > MIN_IDLE_PAGES && this.idlePages > this.byPfn.size / 2) this.sweep();
      return;
    }
    if (slot instanceof DmaOwnership) return;
    const i = slot.indexOf(record);
    if (i < 0) return;
    slot.splice(i, 1);
    if (slot.length === 1) this.byPfn.set(pfn, slot[0] as DmaOwnership);
  }

  private sweep(): void {
    for (const [pfn, slot] of this.byPfn) if (slot === null) this.byPfn.delete(pfn);
    this.idlePages = 0;
  }
}
