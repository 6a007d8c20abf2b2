/**
 * A CPU's write-combine buffer: stores to write-combined memory (`pgprot_writecombine`, the
 * mappings `dma_alloc_wc` and `dma_mmap_wc` hand out) collect in a few line-sized entries and reach
 * memory only when a barrier drains them (`wmb()`, `mb()`, `dma_wmb()`) or when the buffer needs a
 * free entry. That is why a driver must issue `wmb()` between filling a WC descriptor ring and
 * ringing the doorbell: until then the device reads the old bytes.
 *
 * Entries are aligned blocks of `entrySize` bytes with a byte-valid mask, kept in FIFO order; when
 * all are taken, the oldest drains. The CPU that owns the buffer sees its own pending stores; other
 * CPUs and devices do not. Drains go straight to memory, past any cache.
 */

import { addrMod, checkInteger, isPowerOfTwo } from './address.js';
import type { HwCounters } from './counters.js';
import type { PhysicalMemory } from './physical-memory.js';
import { ViewCache } from './view-cache.js';

export class WriteCombineBuffer {
  readonly entries: number;
  readonly entrySize: number;

  /** Per entry (a ring position): RAM offset of its block. */
  private readonly block: Float64Array;
  private readonly data: Uint8Array;
  /** 1 where the entry holds a pending byte. */
  private readonly mask: Uint8Array;
  /** Pending bytes per entry. */
  private readonly validBytes: Int32Array;
  /**
   * Per partly valid entry: the extent [lo, hi) of its pending bytes as offsets into `data`; when
   * `validBytes === hi - lo` they form one run, which then moves without scanning the mask.
   */
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  /** Ring position of the oldest entry, and the number of pending entries. */
  private head = 0;
  private count = 0;
  /** Views of the windows copied most recently (see ViewCache). */
  private readonly views = new ViewCache();

  constructor(
    private readonly ram: PhysicalMemory,
    entries: number,
    entrySize: number,
    private readonly counters: HwCounters,
  ) {
    checkInteger(entries, 'wcBufferEntries', 1, 1024);
    checkInteger(entrySize, 'wcEntrySize', 8, 4096);
    if (!isPowerOfTwo(entrySize)) throw new RangeError(`wcEntrySize must be a power of two, got ${entrySize}`);
    this.entries = entries;
    this.entrySize = entrySize;
    this.block = new Float64Array(entries);
    this.data = new Uint8Array(entries * entrySize);
    this.mask = new Uint8Array(entries * entrySize);
    this.validBytes = new Int32Array(entries);
    this.lo = new Int32Array(entries);
    this.hi = new Int32Array(entries);
  }

  /** Entries waiting to drain. */
  get pending(): number {
    return this.count;
  }

  /**
   * Drains every pending entry, oldest first: what a write barrier does. Full entries that sit
   * side by side in the buffer and hold consecutive blocks go to memory with one copy.
   */
  drain(): void {
    const E = this.entrySize;
    const N = this.entries;
    const validBytes = this.validBytes;
    const block = this.block;
    while (this.count > 0) {
      const h = this.head;
      if (validBytes[h] !== E) {
        this.drainOldest();
        continue;
      }
      let k = 1;
      const max = Math.min(this.count, N - h);
      while (k < max && validBytes[h + k] === E && block[h + k] === block[h]! + k * E) k++;
      if (k === 1) {
        this.drainOldest();
        continue;
      }
      this.ram.writeAt(block[h]!, this.data, h * E, k * E);
      this.mask.fill(0, h * E, (h + k) * E);
      validBytes.fill(0, h, h + k);
      this.count -= k;
      this.head = this.count === 0 ? 0 : (h + k) % N;
      this.counters.wcDrains += k;
    }
  }

  /**
   * Buffers a store of `src[sOff, sOff + len)` (or of `len` bytes of `value` when `src` is null) at
   * RAM offset `r`, as the CPU would, block by block: a block already pending merges, a new one
   * takes a free entry, draining the oldest when there is none. Once only this store's own entries
   * are pending and more blocks remain than there are entries, the outcome is known: everything
   * but the last `entries` blocks reaches memory in order, so it is written with one copy.
   */
  writeAt(r: number, src: Uint8Array | null, sOff: number, len: number, value: number): void {
    const E = this.entrySize;
    const N = this.entries;
    const end = r + len;
    /** Entries that predate this store and are still pending (they are the oldest). */
    let older = this.count;
    let pos = r;
    while (pos < end) {
      const blockStart = pos - addrMod(pos, E);
      const remainingBlocks = Math.ceil((end - blockStart) / E);
      if (older === 0 && remainingBlocks > N) {
        this.drain();
        const direct = blockStart + (remainingBlocks - N) * E;
        if (src === null) this.ram.fillAt(pos, direct - pos, value);
        else this.ram.writeAt(pos, src, sOff + (pos - r), direct - pos);
        this.counters.wcDrains += remainingBlocks - N;
        pos = direct;
        continue;
      }
      if (this.count === 0 && pos === blockStart && end - pos >= E) {
        // Whole blocks into an empty buffer: they take entries 0, 1, … with one copy.
        pos = this.fillEmpty(pos, Math.min(Math.floor((end - pos) / E), N), src, sOff + (pos - r), value);
        continue;
      }
      const stop = Math.min(blockStart + E, end);
      let slot = this.find(blockStart);
      if (slot < 0) {
        if (this.count === N) {
          this.drainOldest();
          if (older > 0) older--;
        }
        slot = (this.head + this.count) % N;
        this.count++;
        this.block[slot] = blockStart;
      }
      const x = slot * E + (pos - blockStart);
      const y = x + (stop - pos);
      if (src === null) this.data.fill(value, x, y);
      else {
        const s = sOff + (pos - r);
        this.data.set(this.views.sourceView(src, s, stop - pos), x);
      }
      const had = this.validBytes[slot]!;
      if (had === 0) {
        this.mask.fill(1, x, y);
        this.validBytes[slot] = y - x;
        this.lo[slot] = x;
        this.hi[slot] = y;
      } else if (had !== E) {
        this.mask.fill(1, x, y);
        const lo = this.lo[slot]!;
        const hi = this.hi[slot]!;
        const newLo = Math.min(lo, x);
        const newHi = Math.max(hi, y);
        this.lo[slot] = newLo;
        this.hi[slot] = newHi;
        // One run touching or overlapping another stays one run; otherwise count.
        this.validBytes[slot] = had === hi - lo && x <= hi && y >= lo ? newHi - newLo : countOnes(this.mask, newLo, newHi);
      }
      pos = stop;
    }
  }

  /**
   * Copies this buffer's pending bytes that fall in `[r, r + len)` over `target[tOff, …)`: the
   * owning CPU's reads of WC or uncached memory see its own stores.
   */
  overlayAt(r: number, target: Uint8Array, tOff: number, len: number): void {
    const E = this.entrySize;
    const N = this.entries;
    const end = r + len;
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) % N;
      const b = this.block[slot]!;
      if (b + E <= r || b >= end) continue;
      const lo = Math.max(b, r);
      const hi = Math.min(b + E, end);
      const base = slot * E - b;
      const v = this.validBytes[slot]!;
      if (v === E) {
        target.set(this.views.view(this.data, 0, base + lo, hi - lo), tOff + (lo - r));
        continue;
      }
      if (v === this.hi[slot]! - this.lo[slot]!) {
        const x = Math.max(this.lo[slot]!, base + lo);
        const y = Math.min(this.hi[slot]!, base + hi);
        if (y > x) target.set(this.views.view(this.data, 0, x, y - x), tOff + (x - base - r));
        continue;
      }
      forRuns(this.mask, base + lo, base + hi, (x, y) => {
        target.set(this.views.view(this.data, 0, x, y - x), tOff + (x - base - r));
      });
    }
  }

  /**
   * An uncached store to `[r, r + len)` reaches memory at once; pending WC bytes at the same
   * addresses take the newer value so that their later drain does not undo it (program order).
   */
  mergeStoreAt(r: number, src: Uint8Array | null, sOff: number, len: number, value: number): void {
    const E = this.entrySize;
    const N = this.entries;
    const end = r + len;
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) % N;
      const b = this.block[slot]!;
      if (b + E <= r || b >= end) continue;
      const lo = Math.max(b, r);
      const hi = Math.min(b + E, end);
      const base = slot * E - b;
      if (src === null) this.data.fill(value, base + lo, base + hi);
      else this.data.set(this.views.sourceView(src, sOff + (lo - r), hi - lo), base + lo);
    }
  }

  /**
   * With no entry pending: `k` whole blocks from RAM offset `pos` take entries 0..k-1 (the ring
   * restarts at 0), copied from `src[s, …)` (or filled with `value`); returns the end offset.
   */
  private fillEmpty(pos: number, k: number, src: Uint8Array | null, s: number, value: number): number {
    const E = this.entrySize;
    const n = k * E;
    if (src === null) this.data.fill(value, 0, n);
    else this.data.set(s === 0 && n === src.length ? src : this.views.sourceView(src, s, n), 0);
    this.mask.fill(1, 0, n);
    this.validBytes.fill(E, 0, k);
    for (let i = 0; i < k; i++) this.block[i] = pos + i * E;
    this.head = 0;
    this.count = k;
    return pos + n;
  }

  private find(blockStart: number): number {
    const N = this.entries;
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) % N;
      if (this.block[slot] === blockStart) return slot;
    }
    return -1;
  }

  private drainOldest(): void {
    const slot = this.head;
    const E = this.entrySize;
    const b = this.block[slot]!;
    const base = slot * E;
    const v = this.validBytes[slot]!;
    if (v === E) this.ram.writeAt(b, this.data, base, E);
    else {
      const lo = this.lo[slot]!;
      const hi = this.hi[slot]!;
      if (v === hi - lo) this.ram.writeAt(b + (lo - base), this.data, lo, v);
      else {
        forRuns(this.mask, lo, hi, (x, y) => {
          this.ram.writeAt(b + (x - base), this.data, x, y - x);
        });
      }
    }
    this.mask.fill(0, base, base + E);
    this.validBytes[slot] = 0;
    this.head = (this.head + 1) % this.entries;
    this.count--;
    this.counters.wcDrains++;
  }
}

/** Calls `fn(x, y)` for each run of ones in `mask[from, to)`, found with native `indexOf`. */
function forRuns(mask: Uint8Array, from: number, to: number, fn: (x: number, y: number) => void): void {
  let x = mask.indexOf(1, from);
  while (x >= 0 && x < to) {
    let y = mask.indexOf(0, x);
    if (y < 0 || y > to) y = to;
    fn(x, y);
    x = y < to ? mask.indexOf(1, y) : -1;
  }
}

function countOnes(mask: Uint8Array, from: number, to: number): number {
  let n = 0;
  forRuns(mask, from, to, (x, y) => {
    n += y - x;
  });
  return n;
}
