/**
 * The machine's RAM: the memory that `memblock`/`e820` describe to the kernel, holes included.
 *
 * RAM is sparse so that a 64 GiB machine costs nothing until it is written: bytes live in chunks
 * allocated on first write, indexed by the "RAM offset" (the position of a byte within the
 * concatenated regions), so the index has at most 64 GiB / chunkSize slots whatever the physical
 * layout. Untouched memory reads as zeros.
 */

import { ADDRESS_LIMIT, addrMod, checkAddress, checkBytes, checkInteger, checkSize, checkWindow, describe, hex, isPowerOfTwo } from './address.js';
import type { MemoryRegion } from './types.js';
import { ViewCache } from './view-cache.js';

/** At most this much RAM per machine (DESIGN.md: page metadata is dense, one slot per page). */
export const MAX_RAM_BYTES = 64 * 2 ** 30;

/** Regions start and end on this boundary: the smallest page size of any arch kdma models. */
export const REGION_ALIGNMENT = 4096;

/** Default bytes per allocation chunk. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export interface PhysicalMemoryOptions {
  /** Bytes per lazily allocated chunk: a power of two in [4 KiB, 16 MiB]; default 64 KiB. */
  readonly chunkSize?: number;
}

/**
 * Told before bytes `[from, to)` of RAM chunk `ci` change through this class (every path that
 * writes RAM: device DMA, uncached and write-combined stores, `write`/`fill`/`copyAt`), so that a
 * cache that reads clean lines straight from RAM can keep their old bytes first. Writes the
 * watcher makes itself to a `shadowedChunk` buffer are not reported.
 */
export type RamWriteWatcher = (ci: number, from: number, to: number) => void;

/** Adjacent regions merged: one contiguous stretch of physical RAM. */
interface Span {
  readonly base: number;
  readonly end: number;
  /** RAM offset of `base`. */
  readonly ramStart: number;
}

export class PhysicalMemory {
  /** The RAM regions, sorted by base. */
  readonly regions: readonly MemoryRegion[];
  /** Bytes of RAM (the sum of the region sizes). */
  readonly totalBytes: number;
  readonly chunkSize: number;

  private readonly spans: readonly Span[];
  private readonly chunks: (Uint8Array | null)[];
  private allocated = 0;
  /** The span the last lookup hit: most accesses fall in the same one. */
  private lastSpan: Span;
  private watcher: RamWriteWatcher | null = null;
  /** Views of the windows copied most recently (see ViewCache). */
  private readonly viewCache = new ViewCache();
  /** Per chunk: 1 where the watcher must hear of writes. */
  private readonly watched: Uint8Array;

  constructor(regions: readonly MemoryRegion[], options: PhysicalMemoryOptions = {}) {
    if (!Array.isArray(regions)) throw new TypeError(`regions must be an array of { base, size }, got ${describe(regions)}`);
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    checkInteger(chunkSize, 'options.chunkSize', 4096, 2 ** 24);
    if (!isPowerOfTwo(chunkSize)) throw new RangeError(`options.chunkSize must be a power of two, got ${chunkSize}`);
    if (regions.length === 0) throw new RangeError('regions must name at least one region of RAM');

    const copies: MemoryRegion[] = [];
    regions.forEach((region: unknown, i) => {
      const name = `regions[${i}]`;
      if (typeof region !== 'object' || region === null) throw new TypeError(`${name} must be { base, size }, got ${describe(region)}`);
      const { base, size } = region as { base: unknown; size: unknown };
      checkAddress(base, `${name}.base`);
      checkSize(size, `${name}.size`);
      if (base % REGION_ALIGNMENT !== 0) throw new RangeError(`${name}.base must be a multiple of ${REGION_ALIGNMENT}, got ${hex(base)}`);
      if (size % REGION_ALIGNMENT !== 0) throw new RangeError(`${name}.size must be a multiple of ${REGION_ALIGNMENT}, got ${hex(size)}`);
      if (base + size > ADDRESS_LIMIT) throw new RangeError(`${name} [${hex(base)}, +${hex(size)}) passes the 52-bit address space`);
      copies.push(Object.freeze({ base, size }));
    });
    copies.sort((a, b) => a.base - b.base);

    let total = 0;
    const spans: Span[] = [];
    for (let i = 0; i < copies.length; i++) {
      const r = copies[i]!;
      const prev = copies[i - 1];
      if (prev !== undefined && prev.base + prev.size > r.base) {
        throw new RangeError(`regions overlap: [${hex(prev.base)}, +${hex(prev.size)}) and [${hex(r.base)}, +${hex(r.size)})`);
      }
      const last = spans[spans.length - 1];
      if (last !== undefined && last.end === r.base) spans[spans.length - 1] = { base: last.base, end: r.base + r.size, ramStart: last.ramStart };
      else spans.push({ base: r.base, end: r.base + r.size, ramStart: total });
      total += r.size;
    }
    if (total > MAX_RAM_BYTES) throw new RangeError(`regions hold ${total} bytes of RAM; a machine has at most 64 GiB (${MAX_RAM_BYTES})`);

    this.regions = Object.freeze(copies);
    this.totalBytes = total;
    this.chunkSize = chunkSize;
    this.spans = Object.freeze(spans.map((s) => Object.freeze(s)));
    this.lastSpan = this.spans[0]!;
    this.chunks = new Array<Uint8Array | null>(Math.ceil(total / chunkSize)).fill(null);
    this.watched = new Uint8Array(this.chunks.length);
  }

  /** Bytes of backing store allocated so far (whole chunks). */
  get allocatedBytes(): number {
    return this.allocated * this.chunkSize;
  }

  /** True when the whole of `[paddr, paddr + length)` is RAM. */
  isRam(paddr: number, length: number): boolean {
    checkAddress(paddr, 'paddr');
    checkSize(length, 'length', 0);
    return this.findSpan(paddr, length) !== null;
  }

  /** Copies `length` bytes at `paddr` into a new array. */
  read(paddr: number, length: number): Uint8Array {
    checkAddress(paddr, 'paddr');
    checkSize(length, 'length', 0);
    const r = this.ramOffset(paddr, length);
    const out = new Uint8Array(length);
    this.readAt(r, out, 0, length);
    return out;
  }

  /** Copies bytes at `paddr` into `target[offset, offset + length)`. */
  readInto(paddr: number, target: Uint8Array, offset = 0, length?: number): void {
    checkAddress(paddr, 'paddr');
    checkBytes(target, 'target');
    const n = checkWindow(target, offset, length);
    this.readAt(this.ramOffset(paddr, n), target, offset, n);
  }

  /** Copies `bytes[offset, offset + length)` to `paddr`. */
  write(paddr: number, bytes: Uint8Array, offset = 0, length?: number): void {
    checkAddress(paddr, 'paddr');
    checkBytes(bytes, 'bytes');
    const n = checkWindow(bytes, offset, length);
    this.writeAt(this.ramOffset(paddr, n), bytes, offset, n);
  }

  /** Sets `length` bytes at `paddr` to `value` (memset). */
  fill(paddr: number, length: number, value: number): void {
    checkAddress(paddr, 'paddr');
    checkSize(length, 'length', 0);
    checkInteger(value, 'value', 0, 255);
    this.fillAt(this.ramOffset(paddr, length), length, value);
  }

  // ---- RAM-offset interface, shared with the cache, the write-combine buffers and the bus masters.

  /**
   * The RAM offset of `paddr`, checking that `[paddr, paddr + length)` is RAM; a RangeError that
   * names `name` otherwise. Arguments must already be valid integers.
   */
  ramOffset(paddr: number, length: number, name = 'paddr'): number {
    // Most accesses fall in the span the last one hit: that test alone stays small enough for
    // the JIT to inline into every access and maintenance call.
    const last = this.lastSpan;
    if (paddr >= last.base && paddr + length <= last.end) return last.ramStart + (paddr - last.base);
    return this.ramOffsetSearch(paddr, length, name);
  }

  /**
   * The RAM offset of `paddr` when `[paddr, paddr + length)` lies in the span the last access hit,
   * else -1, also for anything but integers with `length` ≥ 0: a hit proves the arguments valid,
   * so a hot caller may leave its own checks (and their errors) to the misses.
   */
  lastSpanOffset(paddr: number, length: number): number {
    const last = this.lastSpan;
    if (typeof paddr !== 'number' || typeof length !== 'number') return -1;
    const hit = paddr >= last.base && length >= 0 && paddr + length <= last.end;
    return hit && Math.floor(paddr) === paddr && Math.floor(length) === length ? last.ramStart + (paddr - last.base) : -1;
  }

  private ramOffsetSearch(paddr: number, length: number, name: string): number {
    const span = this.findSpan(paddr, length);
    if (span === null) {
      throw new RangeError(`${name} [${hex(paddr)}, +${hex(length)}) is not RAM (it crosses a hole or passes the end of memory)`);
    }
    return span.ramStart + (paddr - span.base);
  }

  /** The RAM offset of `paddr` when `[paddr, paddr + length)` is RAM, else -1 (no checks). */
  tryRamOffset(paddr: number, length: number): number {
    const span = this.findSpan(paddr, length);
    return span === null ? -1 : span.ramStart + (paddr - span.base);
  }

  /** The physical address of a RAM offset. */
  physAddr(ramOffset: number): number {
    const span = this.spanOfOffset(ramOffset);
    return span.base + (ramOffset - span.ramStart);
  }

  /** RAM offset one past the end of the stretch of contiguous physical RAM holding `ramOffset`. */
  spanEnd(ramOffset: number): number {
    const span = this.spanOfOffset(ramOffset);
    return span.ramStart + (span.end - span.base);
  }

  /** Copies RAM at offset `r` into `target[tOff, tOff + len)`: one `set` (or `fill`) per chunk. */
  readAt(r: number, target: Uint8Array, tOff: number, len: number): void {
    const size = this.chunkSize;
    let ci = Math.floor(r / size);
    let inChunk = r - ci * size;
    while (len > 0) {
      const n = Math.min(len, size - inChunk);
      const chunk = this.chunks[ci];
      if (chunk === null || chunk === undefined) target.fill(0, tOff, tOff + n);
      else if (n === size) target.set(chunk, tOff);
      else target.set(this.viewCache.view(chunk, ci, inChunk, n), tOff);
      tOff += n;
      len -= n;
      ci++;
      inChunk = 0;
    }
  }

  /** Copies `src[sOff, sOff + len)` to RAM at offset `r`, allocating chunks on first write. */
  writeAt(r: number, src: Uint8Array, sOff: number, len: number): void {
    const size = this.chunkSize;
    let ci = Math.floor(r / size);
    let inChunk = r - ci * size;
    while (len > 0) {
      const n = Math.min(len, size - inChunk);
      if (this.watched[ci] === 1) this.watcher!(ci, inChunk, inChunk + n);
      const chunk = this.chunks[ci] ?? this.allocate(ci);
      chunk.set(sOff === 0 && n === src.length ? src : this.viewCache.sourceView(src, sOff, n), inChunk);
      sOff += n;
      len -= n;
      ci++;
      inChunk = 0;
    }
  }

  /**
   * Copies `len` bytes of RAM from offset `src` to offset `dst` (memmove semantics): one `set`
   * per piece that stays inside one source and one destination chunk, no scratch.
   */
  copyAt(dst: number, src: number, len: number): void {
    if (len === 0 || dst === src) return;
    // Overlapping with the destination above the source: copy from the end, as memmove does.
    const backwards = dst > src && dst < src + len;
    let done = 0;
    while (done < len) {
      const size = this.chunkSize;
      const remaining = len - done;
      const s = backwards ? src + remaining : src + done;
      const d = backwards ? dst + remaining : dst + done;
      // The piece ends (or, backwards, starts) at the nearest chunk boundary of either side.
      const n = backwards
        ? Math.min(remaining, s - Math.ceil(s / size - 1) * size, d - Math.ceil(d / size - 1) * size)
        : Math.min(remaining, size - addrMod(s, size), size - addrMod(d, size));
      const from = backwards ? s - n : s;
      const to = backwards ? d - n : d;
      const sci = Math.floor(from / size);
      const sOff = from - sci * size;
      const dci = Math.floor(to / size);
      // The watcher may re-home the destination chunk: hear it before fetching either chunk.
      if (this.watched[dci] === 1) this.watcher!(dci, to - dci * size, to - dci * size + n);
      const source = this.chunks[sci];
      if (source === null || source === undefined) {
        this.fillAt(to, n, 0);
      } else {
        // set() copies as memmove does when both are views of one buffer (the spec reads the
        // source as it was), and is not entered through the runtime as copyWithin() is.
        const target = this.chunks[dci] ?? this.allocate(dci);
        target.set(this.viewCache.view(source, sci, sOff, n), to - dci * size);
      }
      done += n;
    }
  }

  /** Sets `len` bytes of RAM at offset `r` to `value`; zeros into untouched chunks allocate nothing. */
  fillAt(r: number, len: number, value: number): void {
    const size = this.chunkSize;
    let ci = Math.floor(r / size);
    let inChunk = r - ci * size;
    while (len > 0) {
      const n = Math.min(len, size - inChunk);
      if (this.watched[ci] === 1) this.watcher!(ci, inChunk, inChunk + n);
      const chunk = this.chunks[ci] ?? (value === 0 ? null : this.allocate(ci));
      if (chunk !== null) chunk.fill(value, inChunk, inChunk + n);
      len -= n;
      ci++;
      inChunk = 0;
    }
  }

  /**
   * Chunk `ci` followed by `chunkSize` bytes of shadow storage (a cache's copy of it), both views
   * of one buffer, so the pair lives and dies with the chunk. Allocates or widens the chunk as
   * needed; the RAM half keeps its bytes and is what every other access goes on using.
   */
  shadowedChunk(ci: number): Uint8Array {
    const size = this.chunkSize;
    const pair = new Uint8Array(2 * size);
    const old = this.chunks[ci];
    if (old === null || old === undefined) this.allocated++;
    else pair.set(old);
    this.chunks[ci] = pair.subarray(0, size);
    return pair;
  }

  /** Installs the machine's one write watcher (its cache); chunks are watched once `watchChunk` names them. */
  setWriteWatcher(watcher: RamWriteWatcher): void {
    if (typeof watcher !== 'function') throw new TypeError(`watcher must be a function, got ${describe(watcher)}`);
    if (this.watcher !== null) throw new Error('this memory already has a write watcher (one cache per machine)');
    this.watcher = watcher;
  }

  /** Reports later writes to chunk `ci` to the watcher before they happen. */
  watchChunk(ci: number): void {
    if (this.watcher === null) throw new Error('watchChunk needs a write watcher (setWriteWatcher)');
    this.watched[ci] = 1;
  }

  private allocate(ci: number): Uint8Array {
    const chunk = new Uint8Array(this.chunkSize);
    this.chunks[ci] = chunk;
    this.allocated++;
    return chunk;
  }

  private findSpan(paddr: number, length: number): Span | null {
    const end = paddr + length;
    const last = this.lastSpan;
    if (paddr >= last.base && end <= last.end) return last;
    const spans = this.spans;
    let lo = 0;
    let hi = spans.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = spans[mid]!;
      if (paddr < s.base) hi = mid - 1;
      else if (paddr >= s.end && !(length === 0 && paddr === s.end)) lo = mid + 1;
      else {
        if (end > s.end) return null;
        this.lastSpan = s;
        return s;
      }
    }
    return null;
  }

  private spanOfOffset(ramOffset: number): Span {
    const spans = this.spans;
    let lo = 0;
    let hi = spans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (spans[mid]!.ramStart <= ramOffset) lo = mid;
      else hi = mid - 1;
    }
    return spans[lo]!;
  }
}
