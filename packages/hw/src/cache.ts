/**
 * The CPU data cache of a non-coherent machine: physically indexed, write-back, write-allocate,
 * shared by all CPUs, invisible to devices that do not snoop. It is what makes the kernel's cache
 * maintenance (`dmac_clean_range`, `dmac_inv_range`, `dmac_flush_range`, `arch_sync_dma_for_*`)
 * necessary: a missing clean lets a device read old bytes, a missing invalidate lets the CPU read
 * old bytes, and an invalidate of a line shared by two buffers throws away the other's data.
 *
 * The model is a sparse shadow copy of RAM, chunked exactly as `PhysicalMemory` is (by RAM offset),
 * holding the cached data, plus two bitmaps per chunk: valid lines and dirty lines (invalid, clean
 * and dirty are 00, 10 and 11). Runs of lines move with one copy each; nothing is allocated per
 * line. With a capacity, valid lines also own a slot
 * in typed arrays (an LRU list, or a dense set for seeded-random replacement).
 *
 * Shadow copies are lazy: a clean line holds the same bytes as RAM until something writes RAM
 * behind the cache's back, so a line filled by a read is only tagged valid ("clean, unshadowed")
 * and reads of it copy straight from RAM — one copy where fill-then-copy-out made two. A third
 * bitmap marks the lines whose bytes live in the shadow (every dirty line, and clean lines that
 * were written back or snapshotted). `PhysicalMemory` tells the cache before any write to RAM
 * (device DMA, uncached or write-combined stores, `write`/`fill`/`copyAt`); the valid unshadowed
 * lines under it are first copied to the shadow, so a CPU that skips the invalidate still reads
 * the stale bytes, exactly as with eager fills.
 */

import { addrMod, checkAddress, checkInteger, checkSize, describe, isPowerOfTwo } from './address.js';
import type { HwCounters } from './counters.js';
import { clearBits, countBits, nextClearBit, nextSetBit, setBits, testBit } from './line-bitmap.js';
import type { PhysicalMemory } from './physical-memory.js';
import type { Prng } from './prng.js';
import { ViewCache } from './view-cache.js';

/** Replacement policy when the cache is full. */
export type CacheEviction = 'lru' | 'random';

export type CacheLineState = 'invalid' | 'clean' | 'dirty';

export interface CacheOptions {
  /** Bytes per line: a power of two in [16, 256] (the arch's `L1_CACHE_BYTES`). */
  readonly lineSize: number;
  /** Lines the cache holds; 0 or absent: unlimited (nothing is ever evicted). */
  readonly capacity?: number;
  /** Default 'lru'. */
  readonly eviction?: CacheEviction;
  /** Probability in [0, 1] that a normal CPU access speculatively fills the lines after it. */
  readonly prefetch?: number;
  /** Lines a prefetch fills (default 4). */
  readonly prefetchLines?: number;
}


/** Checks cache options (messages name `cacheLineSize` and `cache.*`) and fills in the defaults. */
export function checkCacheOptions(options: CacheOptions): Required<CacheOptions> {
  const { lineSize } = options;
  checkInteger(lineSize, 'cacheLineSize', 16, 256);
  if (!isPowerOfTwo(lineSize)) throw new RangeError(`cacheLineSize must be a power of two, got ${lineSize}`);
  const capacity = options.capacity ?? 0;
  checkInteger(capacity, 'cache.capacity');
  const eviction = options.eviction ?? 'lru';
  if (eviction !== 'lru' && eviction !== 'random') throw new RangeError(`cache.eviction must be 'lru' or 'random', got ${describe(eviction)}`);
  const prefetch = options.prefetch ?? 0;
  if (typeof prefetch !== 'number') throw new TypeError(`cache.prefetch must be a number, got ${describe(prefetch)}`);
  if (!(prefetch >= 0 && prefetch <= 1)) throw new RangeError(`cache.prefetch must be a probability in [0, 1], got ${prefetch}`);
  const prefetchLines = options.prefetchLines ?? 4;
  checkInteger(prefetchLines, 'cache.prefetchLines', 1, 1024);
  return { lineSize, capacity, eviction, prefetch, prefetchLines };
}

export class Cache {
  readonly lineSize: number;
  /** Lines it holds; 0 = unlimited. */
  readonly capacity: number;
  readonly eviction: CacheEviction;
  readonly prefetch: number;
  readonly prefetchLines: number;

  private readonly chunkSize: number;
  private readonly linesPerChunk: number;
  /** Per RAM chunk: cached bytes (meaningful where the line is shadowed); null until one is. */
  private readonly data: (Uint8Array | null)[];
  /**
   * Per RAM chunk with a shadow: the chunk's RAM, the other half of the buffer `data` lives in
   * (`PhysicalMemory.shadowedChunk`); runs move between the two halves.
   */
  private readonly ramChunk: (Uint8Array | null)[];
  /** Per RAM chunk: a bit per line, set while the line is valid; null until the CPU touches it. */
  private readonly valid: (Int32Array | null)[];
  /** Per RAM chunk: a bit per line, set while the line is dirty (always a valid one). */
  private readonly dirty: (Int32Array | null)[];
  /** Per RAM chunk: a bit per valid line whose bytes are in `data` (all dirty ones); clear: read RAM. */
  private readonly shadowed: (Int32Array | null)[];
  /** Per RAM chunk, with a capacity: the slot of each valid line, -1 for none. */
  private readonly slotOf: (Int32Array | null)[];

  // Capacity bookkeeping: slots 0..used-1 hold valid lines (global line numbers); LRU order is a
  // doubly linked list through slotPrev/slotNext from head (most recent) to tail.
  private slotLine = new Float64Array(0);
  private slotPrev = new Int32Array(0);
  private slotNext = new Int32Array(0);
  private used = 0;
  private head = -1;
  private tail = -1;
  /** Views of the windows copied most recently (see ViewCache). */
  private readonly views = new ViewCache();

  constructor(
    private readonly ram: PhysicalMemory,
    options: CacheOptions,
    private readonly random: Prng,
    private readonly counters: HwCounters,
  ) {
    const { lineSize, capacity, eviction, prefetch, prefetchLines } = checkCacheOptions(options);
    this.lineSize = lineSize;
    this.capacity = capacity;
    this.eviction = eviction;
    this.prefetch = prefetch;
    this.prefetchLines = prefetchLines;
    this.chunkSize = ram.chunkSize;
    this.linesPerChunk = ram.chunkSize / lineSize;
    const chunks = Math.ceil(ram.totalBytes / ram.chunkSize);
    this.data = new Array<Uint8Array | null>(chunks).fill(null);
    this.ramChunk = new Array<Uint8Array | null>(chunks).fill(null);
    this.valid = new Array<Int32Array | null>(chunks).fill(null);
    this.dirty = new Array<Int32Array | null>(chunks).fill(null);
    this.shadowed = new Array<Int32Array | null>(chunks).fill(null);
    this.slotOf = capacity > 0 ? new Array<Int32Array | null>(chunks).fill(null) : [];
    ram.setWriteWatcher((ci, from, to) => this.beforeRamWrite(ci, from, to));
  }

  // ---- Maintenance by physical range (what dmac_*_range and arch_sync_dma_* do); the same as
  // Hardware.cacheClean/cacheInvalidate/cacheFlush, and counted the same way.

  /** Writes the dirty lines of the range back to memory; they stay valid and become clean. */
  clean(paddr: number, size: number): void {
    const r = this.checkedOffset(paddr, size);
    this.counters.cacheCleans++;
    this.cleanAt(r, size);
  }

  /** Drops every line the range touches, whole lines even where partly covered: dirty data is lost. */
  invalidate(paddr: number, size: number): void {
    const r = this.checkedOffset(paddr, size);
    this.counters.cacheInvalidates++;
    this.invalidateAt(r, size);
  }

  /** Clean, then invalidate. */
  flush(paddr: number, size: number): void {
    const r = this.checkedOffset(paddr, size);
    this.counters.cacheFlushes++;
    this.flushAt(r, size);
  }

  /** The state of the line holding `paddr`. */
  lineState(paddr: number): CacheLineState {
    checkAddress(paddr, 'paddr');
    const line = Math.floor(this.ram.ramOffset(paddr, 1) / this.lineSize);
    const ci = Math.floor(line / this.linesPerChunk);
    const li = line - ci * this.linesPerChunk;
    const valid = this.valid[ci];
    if (valid === null || valid === undefined || !testBit(valid, li)) return 'invalid';
    return testBit(this.dirty[ci]!, li) ? 'dirty' : 'clean';
  }

  /** Valid and dirty lines now in the cache (counts by scanning; for tests and reports). */
  countLines(): { valid: number; dirty: number } {
    let valid = 0;
    let dirty = 0;
    for (let ci = 0; ci < this.valid.length; ci++) {
      const v = this.valid[ci];
      if (v === null || v === undefined) continue;
      valid += countBits(v);
      dirty += countBits(this.dirty[ci]!);
    }
    return { valid, dirty };
  }

  // ---- RAM-offset interface used by the Hardware (arguments already checked).

  /**
   * A normal (cacheable) CPU read: invalid lines become valid (tagged only: their bytes are RAM's),
   * then each run of lines is copied out from the shadow where it is shadowed, else from RAM.
   */
  readAt(r: number, target: Uint8Array, tOff: number, len: number): void {
    if (len === 0) return;
    const C = this.chunkSize;
    const L = this.lineSize;
    const lpc = this.linesPerChunk;
    const end = r + len;
    const lineA = Math.floor(r / L);
    const lineB = Math.ceil(end / L);
    const ciEnd = Math.floor((lineB - 1) / lpc);
    for (let ci = Math.floor(lineA / lpc); ci <= ciEnd; ci++) {
      const base = ci * C;
      const la = Math.max(lineA - ci * lpc, 0);
      const lb = Math.min(lineB - ci * lpc, lpc);
      this.fillLines(ci, la, lb, true);
      const a = Math.max(r - base, 0);
      const b = Math.min(end - base, C);
      const data = this.data[ci];
      const shadowed = this.shadowed[ci]!;
      let i = data === null || data === undefined ? lb : nextSetBit(shadowed, la, lb);
      if (i === lb) {
        // Nothing shadowed here: the lines hold RAM's bytes.
        this.ram.readAt(base + a, target, tOff + (base + a - r), b - a);
        continue;
      }
      // Alternate runs: unshadowed from RAM, shadowed from the shadow (views under the tags the
      // write-back and the snapshot use for the same windows).
      let from = 0;
      let inShadow = false;
      for (;;) {
        const x = Math.max(from * L, a);
        const y = Math.min(i * L, b);
        if (y > x) {
          const run = inShadow ? this.views.view(data!, ci, x, y - x) : this.views.view(this.ramChunk[ci]!, ~ci, x, y - x);
          target.set(run, tOff + (base + x - r));
        }
        if (i === lb) break;
        from = i;
        inShadow = !inShadow;
        i = inShadow ? nextClearBit(shadowed, i, lb) : nextSetBit(shadowed, i, lb);
      }
    }
    this.afterAccess(lineB, end);
  }

  /**
   * A normal CPU write (or memset when `src` is null): write-allocate, filling a partly written
   * edge line from memory first, then the lines become dirty.
   */
  writeAt(r: number, src: Uint8Array | null, sOff: number, len: number, value: number): void {
    if (len === 0) return;
    const C = this.chunkSize;
    const L = this.lineSize;
    const lpc = this.linesPerChunk;
    const end = r + len;
    const lineA = Math.floor(r / L);
    const lineB = Math.ceil(end / L);
    const firstPartial = addrMod(r, L) !== 0;
    const lastPartial = addrMod(end, L) !== 0;
    if (firstPartial) this.fillLine(lineA, true);
    if (lastPartial && !(firstPartial && lineB - 1 === lineA)) this.fillLine(lineB - 1, true);
    const capped = this.capacity > 0;
    const ciEnd = Math.floor((lineB - 1) / lpc);
    for (let ci = Math.floor(lineA / lpc); ci <= ciEnd; ci++) {
      const base = ci * C;
      const valid = this.valid[ci] ?? this.allocateChunk(ci);
      const data = this.data[ci] ?? this.attachShadow(ci);
      const a = Math.max(r - base, 0);
      const b = Math.min(end - base, C);
      if (src === null) data.fill(value, a, b);
      else {
        const s = sOff + (base + a - r);
        data.set(s === 0 && b - a === src.length ? src : this.views.sourceView(src, s, b - a), a);
      }
      const la = Math.max(lineA - ci * lpc, 0);
      const lb = Math.min(lineB - ci * lpc, lpc);
      if (capped) this.claimLines(ci, la, lb);
      setBits(valid, la, lb);
      setBits(this.dirty[ci]!, la, lb);
      setBits(this.shadowed[ci]!, la, lb);
    }
    this.afterAccess(lineB, end);
  }

  /** Writes back the dirty lines that `[r, r + len)` touches (one copy per run); they become clean. */
  cleanAt(r: number, len: number): void {
    this.maintain(r, len, false, true);
  }

  /** Drops the lines that `[r, r + len)` touches, dirty or not. */
  invalidateAt(r: number, len: number): void {
    this.maintain(r, len, true, false);
  }

  /** Writes back the dirty lines that `[r, r + len)` touches, then drops them all. */
  flushAt(r: number, len: number): void {
    this.maintain(r, len, true, true);
  }

  /**
   * A snooping (coherent) device read: `target` already holds memory; the dirty lines overlapping
   * the range overlay it, as a snoop hit supplies the line from the cache.
   */
  snoopReadAt(r: number, target: Uint8Array, tOff: number, len: number): void {
    if (len === 0) return;
    const C = this.chunkSize;
    const L = this.lineSize;
    const lpc = this.linesPerChunk;
    const end = r + len;
    const lineA = Math.floor(r / L);
    const lineB = Math.ceil(end / L);
    const ciEnd = Math.floor((lineB - 1) / lpc);
    for (let ci = Math.floor(lineA / lpc); ci <= ciEnd; ci++) {
      const dirty = this.dirty[ci];
      const data = this.data[ci];
      // Dirty lines are always shadowed: no shadow, nothing dirty.
      if (dirty === null || dirty === undefined || data === null || data === undefined) continue;
      const base = ci * C;
      const lb = Math.min(lineB - ci * lpc, lpc);
      for (let i = nextSetBit(dirty, Math.max(lineA - ci * lpc, 0), lb); i < lb; ) {
        const j = nextClearBit(dirty, i, lb);
        const x = Math.max(i * L, r - base);
        const y = Math.min(j * L, end - base);
        target.set(this.views.view(data, ci, x, y - x), tOff + (base + x - r));
        i = nextSetBit(dirty, j, lb);
      }
    }
  }

  /**
   * Before a snooping device writes `[r, r + len)`: dirty edge lines that the write only partly
   * covers are written back (so no CPU data outside the write is lost), then every line the range
   * touches is invalidated, so the CPU's next read sees the device's bytes.
   */
  snoopWriteAt(r: number, len: number): void {
    if (len === 0) return;
    const L = this.lineSize;
    const end = r + len;
    if (addrMod(r, L) !== 0) this.writeBackLine(Math.floor(r / L));
    if (addrMod(end, L) !== 0) this.writeBackLine(Math.floor(end / L));
    this.invalidateAt(r, len);
  }

  // ---- internals

  private checkedOffset(paddr: number, size: number): number {
    checkAddress(paddr, 'paddr');
    checkSize(size, 'size', 0);
    return this.ram.ramOffset(paddr, size);
  }

  private allocateChunk(ci: number): Int32Array {
    const words = Math.ceil(this.linesPerChunk / 32);
    const valid = new Int32Array(words);
    this.valid[ci] = valid;
    this.dirty[ci] = new Int32Array(words);
    this.shadowed[ci] = new Int32Array(words);
    if (this.capacity > 0) this.slotOf[ci] = new Int32Array(this.linesPerChunk).fill(-1);
    this.ram.watchChunk(ci);
    return valid;
  }

  /** Gives chunk `ci` its shadow (the first time a line of it needs bytes of its own); returns it. */
  private attachShadow(ci: number): Uint8Array {
    const pair = this.ram.shadowedChunk(ci);
    this.ramChunk[ci] = pair.subarray(0, this.chunkSize);
    const data = pair.subarray(this.chunkSize);
    this.data[ci] = data;
    return data;
  }

  /**
   * Makes `line` valid (a fill); with `shadow`, also gives it its bytes in the shadow, as a partly
   * written line needs before the write lands on it.
   */
  private fillLine(line: number, shadow: boolean): void {
    const ci = Math.floor(line / this.linesPerChunk);
    const li = line - ci * this.linesPerChunk;
    this.fillLines(ci, li, li + 1, true);
    if (shadow) this.snapshot(ci, li, li + 1);
  }

  /** Copies lines [i, j) of chunk `ci` that are not yet shadowed from RAM to the shadow. */
  private snapshot(ci: number, i: number, j: number): void {
    const shadowed = this.shadowed[ci]!;
    const L = this.lineSize;
    for (let x = nextClearBit(shadowed, i, j); x < j; ) {
      const y = nextSetBit(shadowed, x, j);
      const data = this.data[ci] ?? this.attachShadow(ci);
      // The RAM half's views under their own tag, so they do not evict the shadow's.
      data.set(this.views.view(this.ramChunk[ci]!, ~ci, x * L, (y - x) * L), x * L);
      setBits(shadowed, x, y);
      x = nextClearBit(shadowed, y, j);
    }
  }

  /**
   * `PhysicalMemory` is about to change bytes [from, to) of chunk `ci` behind the cache: the valid
   * lines there that still read from RAM keep their present bytes in the shadow first.
   */
  private beforeRamWrite(ci: number, from: number, to: number): void {
    const valid = this.valid[ci];
    if (valid === null || valid === undefined || from >= to) return;
    const L = this.lineSize;
    const lb = Math.ceil(to / L);
    for (let i = nextSetBit(valid, Math.floor(from / L), lb); i < lb; ) {
      const j = nextClearBit(valid, i, lb);
      this.snapshot(ci, i, j);
      i = nextSetBit(valid, j, lb);
    }
  }

  /**
   * Makes lines [la, lb) of chunk `ci` valid, filling each run of invalid lines from memory with one
   * copy; `touch` marks the valid ones as recently used (a prefetch does not).
   */
  private fillLines(ci: number, la: number, lb: number, touch: boolean): void {
    const valid = this.valid[ci] ?? this.allocateChunk(ci);
    const slots = this.capacity > 0 ? this.slotOf[ci]! : null;
    const lineBase = ci * this.linesPerChunk;
    if (slots !== null && touch && this.eviction === 'lru') {
      // Every valid line in the range becomes most recently used: walk them one by one.
      for (let i = la; i < lb; ) {
        if (testBit(valid, i)) {
          this.touch(slots[i]!);
          i++;
          continue;
        }
        const j = nextSetBit(valid, i, lb);
        this.fillRun(valid, i, j);
        for (; i < j; i++) this.allocSlot(lineBase + i, slots, i);
      }
      return;
    }
    for (let i = nextClearBit(valid, la, lb); i < lb; ) {
      const j = nextSetBit(valid, i, lb);
      this.fillRun(valid, i, j);
      if (slots !== null) for (let k = i; k < j; k++) this.allocSlot(lineBase + k, slots, k);
      i = nextClearBit(valid, j, lb);
    }
  }

  /**
   * Fills invalid lines [i, j) of chunk `ci`: they become valid and clean, their bytes still RAM's
   * (unshadowed), so the fill itself copies nothing.
   */
  private fillRun(valid: Int32Array, i: number, j: number): void {
    setBits(valid, i, j);
    this.counters.linesFilled += j - i;
  }

  /** With a capacity: gives slots to the invalid lines in [la, lb) about to be written, touches the rest. */
  private claimLines(ci: number, la: number, lb: number): void {
    const valid = this.valid[ci]!;
    const slots = this.slotOf[ci]!;
    const lineBase = ci * this.linesPerChunk;
    for (let i = la; i < lb; i++) {
      if (!testBit(valid, i)) this.allocSlot(lineBase + i, slots, i);
      else this.touch(slots[i]!);
    }
  }

  /**
   * Cache maintenance of `[r, r + len)`: with `writeBack`, runs of dirty lines go to memory with
   * one copy each and become clean; with `drop`, every line then becomes invalid. A range inside
   * one chunk (every DMA buffer of a page or less) goes straight to the lines, no chunk loop.
   */
  private maintain(r: number, len: number, drop: boolean, writeBack: boolean): void {
    if (len === 0) return;
    const L = this.lineSize;
    const lpc = this.linesPerChunk;
    const lineA = Math.floor(r / L);
    const ci = Math.floor(lineA / lpc);
    const lb = Math.ceil((r + len) / L) - ci * lpc;
    if (lb > lpc) {
      this.forLines(r, len, drop, writeBack);
      return;
    }
    // valid and dirty exist together (allocateChunk): none, and no line of this chunk is cached.
    if (this.valid[ci] === null || this.valid[ci] === undefined) return;
    if (writeBack) this.cleanLines(ci, lineA - ci * lpc, lb);
    if (drop) this.dropLines(ci, lineA - ci * lpc, lb);
  }

  /** `maintain` of a range over several chunks, chunk by chunk. */
  private forLines(r: number, len: number, drop: boolean, writeBack: boolean): void {
    const L = this.lineSize;
    const lpc = this.linesPerChunk;
    const lineA = Math.floor(r / L);
    const lineB = Math.ceil((r + len) / L);
    const ciEnd = Math.floor((lineB - 1) / lpc);
    for (let ci = Math.floor(lineA / lpc); ci <= ciEnd; ci++) {
      // valid and dirty exist together (allocateChunk): no bitmap, no line of this chunk cached.
      if (this.valid[ci] === null || this.valid[ci] === undefined) continue;
      const la = Math.max(lineA - ci * lpc, 0);
      const lb = Math.min(lineB - ci * lpc, lpc);
      if (writeBack) this.cleanLines(ci, la, lb);
      if (drop) this.dropLines(ci, la, lb);
    }
  }

  /** Writes back the dirty lines among [la, lb) of chunk `ci` (one copy per run); they become clean. */
  private cleanLines(ci: number, la: number, lb: number): void {
    const dirty = this.dirty[ci]!;
    for (let i = nextSetBit(dirty, la, lb); i < lb; ) {
      const j = nextClearBit(dirty, i, lb);
      this.writeBackRun(ci, i, j);
      i = nextSetBit(dirty, j, lb);
    }
    clearBits(dirty, la, lb);
  }

  /** Drops lines [la, lb) of chunk `ci`, dirty or not (and, with a capacity, their slots). */
  private dropLines(ci: number, la: number, lb: number): void {
    const valid = this.valid[ci]!;
    if (this.capacity > 0) {
      const slots = this.slotOf[ci]!;
      for (let i = nextSetBit(valid, la, lb); i < lb; i = nextSetBit(valid, i + 1, lb)) {
        this.freeSlot(slots[i]!);
        slots[i] = -1;
      }
    }
    clearBits(this.dirty[ci]!, la, lb);
    clearBits(valid, la, lb);
    clearBits(this.shadowed[ci]!, la, lb);
  }

  private writeBackLine(line: number): void {
    const ci = Math.floor(line / this.linesPerChunk);
    const li = line - ci * this.linesPerChunk;
    const dirty = this.dirty[ci];
    if (dirty === null || dirty === undefined || !testBit(dirty, li)) return;
    this.writeBackRun(ci, li, li + 1);
    clearBits(dirty, li, li + 1);
  }

  /** Copies dirty lines [i, j) of chunk `ci` from the shadow to RAM (one copy); the caller clears their dirty bits. */
  private writeBackRun(ci: number, i: number, j: number): void {
    const x = i * this.lineSize;
    // set() of a cached view, not copyWithin(): V8's copyWithin is a C++ builtin entered through
    // the runtime (~15 ns a call), where set() goes straight to memmove.
    this.ramChunk[ci]!.set(this.views.view(this.data[ci]!, ci, x, (j - i) * this.lineSize), x);
    this.counters.linesWrittenBack += j - i;
  }

  /** After a normal access ending at line `lineB` (exclusive): maybe prefetch, then respect capacity. */
  private afterAccess(lineB: number, end: number): void {
    if (this.prefetch > 0 && this.random.float() < this.prefetch) {
      const lpc = this.linesPerChunk;
      // The prefetcher stays within physical RAM: it stops at the end of this stretch of memory.
      const limit = Math.min(lineB + this.prefetchLines, this.ram.spanEnd(end - 1) / this.lineSize);
      for (let line = lineB; line < limit; ) {
        const ci = Math.floor(line / lpc);
        const lb = Math.min(limit - ci * lpc, lpc);
        this.fillLines(ci, line - ci * lpc, lb, false);
        line = ci * lpc + lb;
      }
    }
    if (this.capacity > 0) while (this.used > this.capacity) this.evictOne();
  }

  // ---- capacity: slots, LRU list, eviction

  private allocSlot(line: number, slots: Int32Array, li: number): void {
    if (this.used === this.slotLine.length) this.growSlots();
    const s = this.used++;
    this.slotLine[s] = line;
    slots[li] = s;
    if (this.eviction === 'lru') this.pushFront(s);
  }

  private growSlots(): void {
    const n = Math.max(64, this.slotLine.length * 2);
    const line = new Float64Array(n);
    line.set(this.slotLine);
    const prev = new Int32Array(n);
    prev.set(this.slotPrev);
    const next = new Int32Array(n);
    next.set(this.slotNext);
    this.slotLine = line;
    this.slotPrev = prev;
    this.slotNext = next;
  }

  private touch(s: number): void {
    if (this.eviction !== 'lru' || this.head === s) return;
    this.unlink(s);
    this.pushFront(s);
  }

  private pushFront(s: number): void {
    this.slotPrev[s] = -1;
    this.slotNext[s] = this.head;
    if (this.head >= 0) this.slotPrev[this.head] = s;
    else this.tail = s;
    this.head = s;
  }

  private unlink(s: number): void {
    const p = this.slotPrev[s]!;
    const n = this.slotNext[s]!;
    if (p >= 0) this.slotNext[p] = n;
    else this.head = n;
    if (n >= 0) this.slotPrev[n] = p;
    else this.tail = p;
  }

  /** Releases slot `s` (its line is no longer valid) by moving the last used slot into it. */
  private freeSlot(s: number): void {
    const lru = this.eviction === 'lru';
    if (lru) this.unlink(s);
    const last = --this.used;
    if (s === last) return;
    const line = this.slotLine[last]!;
    this.slotLine[s] = line;
    if (lru) {
      const p = this.slotPrev[last]!;
      const n = this.slotNext[last]!;
      this.slotPrev[s] = p;
      this.slotNext[s] = n;
      if (p >= 0) this.slotNext[p] = s;
      else this.head = s;
      if (n >= 0) this.slotPrev[n] = s;
      else this.tail = s;
    }
    const ci = Math.floor(line / this.linesPerChunk);
    this.slotOf[ci]![line - ci * this.linesPerChunk] = s;
  }

  private evictOne(): void {
    const s = this.eviction === 'lru' ? this.tail : this.random.int(this.used);
    const line = this.slotLine[s]!;
    const ci = Math.floor(line / this.linesPerChunk);
    const li = line - ci * this.linesPerChunk;
    const dirty = this.dirty[ci]!;
    if (testBit(dirty, li)) this.writeBackRun(ci, li, li + 1);
    clearBits(dirty, li, li + 1);
    clearBits(this.valid[ci]!, li, li + 1);
    clearBits(this.shadowed[ci]!, li, li + 1);
    this.slotOf[ci]![li] = -1;
    this.freeSlot(s);
    this.counters.linesEvicted++;
  }
}
