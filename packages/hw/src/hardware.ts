/**
 * The simulated machine under kdma: RAM, the CPUs with their write-combine buffers, the shared
 * data cache of a non-coherent machine, bus masters, a clock, a seeded PRNG, the kernel log, access
 * observers and counters. Everything above hw (mm, dma-mapping, the arch backends, the drivers'
 * device models) touches memory only through it, so the kernel's DMA rules have visible effects.
 */

import { checkAddress, checkBytes, checkInteger, checkSize, checkWindow, describe, isPowerOfTwo } from './address.js';
import { BusMaster } from './bus-master.js';
import type { BusContext, BusMasterOptions } from './bus-master.js';
import { Cache, checkCacheOptions } from './cache.js';
import type { CacheEviction } from './cache.js';
import { Clock } from './clock.js';
import { createHwCounters } from './counters.js';
import type { HwCounters } from './counters.js';
import type { DmaFault } from './dma-fault.js';
import { Dmesg } from './dmesg.js';
import { AccessObservers } from './observers.js';
import type { AccessListener } from './observers.js';
import { DEFAULT_CHUNK_SIZE, PhysicalMemory } from './physical-memory.js';
import { Prng } from './prng.js';
import type { MemoryRegion, MemoryType } from './types.js';
import { WriteCombineBuffer } from './write-combine.js';

export interface HardwareOptions {
  readonly memoryRegions: readonly MemoryRegion[];
  /** Default 64; a power of two in [16, 256]. */
  readonly cacheLineSize?: number;
  /**
   * True: the CPUs have a write-back cache that non-snooping devices do not see (a non-coherent
   * machine, e.g. ARM). False (default, x86): normal accesses go straight to memory, which is
   * what a fully snooping machine looks like.
   */
  readonly cacheModel?: boolean;
  /** Cache options; used only with `cacheModel`. */
  readonly cache?: {
    /** Lines; 0 or absent: unlimited. */
    readonly capacity?: number;
    /** Default 'lru'. */
    readonly eviction?: CacheEviction;
    /** Probability in [0, 1] that a normal CPU access fills the next lines (clean). */
    readonly prefetch?: number;
    /** Default 4. */
    readonly prefetchLines?: number;
  };
  /** Default 8. */
  readonly wcBufferEntries?: number;
  /** Default 64. */
  readonly wcEntrySize?: number;
  /** Default 2. */
  readonly cpus?: number;
  /** Default 1. */
  readonly seed?: number;
  /** Bytes per sparse RAM chunk (default 64 KiB); see `PhysicalMemory`. */
  readonly chunkSize?: number;
}

/** One simulated CPU: an id (`smp_processor_id()`) and its write-combine buffer. */
export interface CpuCore {
  readonly id: number;
  readonly wcBuffer: WriteCombineBuffer;
}


export class Hardware {
  readonly ram: PhysicalMemory;
  /** The CPU data cache; null without `cacheModel`. */
  readonly cache: Cache | null;
  readonly cacheLineSize: number;
  readonly clock: Clock;
  readonly random: Prng;
  readonly dmesg: Dmesg;
  readonly counters: HwCounters;
  /** Every DMA fault, in order. */
  readonly faults: DmaFault[] = [];
  readonly cpus: readonly CpuCore[];
  /** Every bus master created, in order. */
  readonly busMasters: BusMaster[] = [];

  private current: CpuCore;
  private readonly observers = new AccessObservers();
  /** cpuCopy's staging buffer where the copy must go through the cache or the WC buffer. */
  private copyScratch = new Uint8Array(0);
  private readonly bus: BusContext;

  constructor(options: HardwareOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const cacheLineSize = options.cacheLineSize ?? 64;
    checkInteger(cacheLineSize, 'cacheLineSize', 16, 256);
    if (!isPowerOfTwo(cacheLineSize)) throw new RangeError(`cacheLineSize must be a power of two, got ${cacheLineSize}`);
    const cacheModel = options.cacheModel ?? false;
    if (typeof cacheModel !== 'boolean') throw new TypeError(`cacheModel must be a boolean, got ${describe(cacheModel)}`);
    const cacheOptions = options.cache ?? {};
    if (typeof cacheOptions !== 'object' || cacheOptions === null) throw new TypeError(`cache must be an object, got ${describe(cacheOptions)}`);
    const cpus = options.cpus ?? 2;
    checkInteger(cpus, 'cpus', 1, 1024);
    const seed = options.seed ?? 1;
    checkInteger(seed, 'seed');
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;

    if (!Array.isArray(options.memoryRegions)) {
      throw new TypeError(`memoryRegions must be an array of { base, size }, got ${describe(options.memoryRegions)}`);
    }
    this.ram = new PhysicalMemory(options.memoryRegions, { chunkSize });
    this.cacheLineSize = cacheLineSize;
    this.clock = new Clock();
    this.random = new Prng(seed);
    this.dmesg = new Dmesg(this.clock);
    this.counters = createHwCounters();
    const fullCacheOptions = { lineSize: cacheLineSize, ...cacheOptions };
    checkCacheOptions(fullCacheOptions);
    this.cache = cacheModel ? new Cache(this.ram, fullCacheOptions, this.random, this.counters) : null;
    const entries = options.wcBufferEntries ?? 8;
    const entrySize = options.wcEntrySize ?? 64;
    const cores: CpuCore[] = [];
    for (let id = 0; id < cpus; id++) {
      cores.push(Object.freeze({ id, wcBuffer: new WriteCombineBuffer(this.ram, entries, entrySize, this.counters) }));
    }
    this.cpus = Object.freeze(cores);
    this.current = cores[0]!;
    this.bus = { ram: this.ram, cache: this.cache, counters: this.counters, faults: this.faults, observers: this.observers };
  }

  /** The CPU the code runs on: CPU 0 unless inside `runOn`. */
  get currentCpu(): CpuCore {
    return this.current;
  }

  /** Runs `fn` on CPU `cpuId` (nests; the previous CPU is restored even if `fn` throws). */
  runOn<T>(cpuId: number, fn: () => T): T {
    checkInteger(cpuId, 'cpuId', 0, this.cpus.length - 1);
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describe(fn)}`);
    const previous = this.current;
    this.current = this.cpus[cpuId]!;
    try {
      return fn();
    } finally {
      this.current = previous;
    }
  }

  // ---- CPU accesses by physical address

  /** The current CPU reads `length` bytes at `paddr` through a page of memory type `type`. */
  cpuRead(paddr: number, length: number, type: MemoryType): Uint8Array {
    checkAddress(paddr, 'paddr');
    checkSize(length, 'length', 0);
    checkType(type);
    const out = new Uint8Array(length);
    this.read(this.ram.ramOffset(paddr, length), paddr, out, 0, length, type);
    return out;
  }

  /** As `cpuRead`, into `target[offset, offset + length)`. */
  cpuReadInto(paddr: number, target: Uint8Array, type: MemoryType, offset = 0, length?: number): void {
    checkAddress(paddr, 'paddr');
    checkBytes(target, 'target');
    checkType(type);
    const n = checkWindow(target, offset, length);
    this.read(this.ram.ramOffset(paddr, n), paddr, target, offset, n, type);
  }

  /** The current CPU writes `bytes[offset, offset + length)` at `paddr` through a page of type `type`. */
  cpuWrite(paddr: number, bytes: Uint8Array, type: MemoryType, offset = 0, length?: number): void {
    checkAddress(paddr, 'paddr');
    checkBytes(bytes, 'bytes');
    checkType(type);
    const n = checkWindow(bytes, offset, length);
    this.write(this.ram.ramOffset(paddr, n), paddr, bytes, offset, n, 0, type);
  }

  /**
   * `cpuReadInto` for a caller that has already checked its arguments, as `__copy_from_user`
   * follows `access_ok`: mm's CPU views, which checked the address, the buffer and the window and
   * took `type` from a PTE. Only the RAM range is still checked. The skipped checks were a fifth
   * of a 1500-byte kernel read.
   */
  cpuReadIntoUnchecked(paddr: number, target: Uint8Array, type: MemoryType, offset: number, length: number): void {
    this.read(this.ram.ramOffset(paddr, length), paddr, target, offset, length, type);
  }

  /** `cpuWrite` for a caller that has already checked its arguments (see `cpuReadIntoUnchecked`). */
  cpuWriteUnchecked(paddr: number, bytes: Uint8Array, type: MemoryType, offset: number, length: number): void {
    this.write(this.ram.ramOffset(paddr, length), paddr, bytes, offset, length, 0, type);
  }

  /**
   * `memcpy` by the current CPU between two physical ranges, both through pages of type `type`
   * (swiotlb's bounce, a driver's copybreak). Seen as one read and one write. Without a cache
   * model a normal copy moves the bytes once, RAM to RAM; otherwise it goes through the CPU's
   * view (cache or write-combine buffer) exactly as a read followed by a write.
   */
  cpuCopy(dstPaddr: number, srcPaddr: number, length: number, type: MemoryType): void {
    checkAddress(dstPaddr, 'dstPaddr');
    checkAddress(srcPaddr, 'srcPaddr');
    checkSize(length, 'length', 0);
    checkType(type);
    const src = this.ram.ramOffset(srcPaddr, length, 'srcPaddr');
    const dst = this.ram.ramOffset(dstPaddr, length, 'dstPaddr');
    if (length === 0) return;
    if (type === 'normal' && this.cache === null) {
      this.ram.copyAt(dst, src, length);
      this.counters.cpuBytesRead += length;
      this.counters.cpuBytesWritten += length;
      if (this.observers.active) {
        this.observers.emitAccess('cpu', false, srcPaddr, length, null, this.current.id, type);
        this.observers.emitAccess('cpu', true, dstPaddr, length, null, this.current.id, type);
      }
      return;
    }
    if (this.copyScratch.length < length) this.copyScratch = new Uint8Array(Math.max(length, 2 * this.copyScratch.length));
    const scratch = this.copyScratch;
    this.read(src, srcPaddr, scratch, 0, length, type);
    this.write(dst, dstPaddr, scratch, 0, length, 0, type);
  }

  /** `memset`: the current CPU sets `length` bytes at `paddr` to `value`. */
  cpuFill(paddr: number, length: number, value: number, type: MemoryType): void {
    checkAddress(paddr, 'paddr');
    checkSize(length, 'length', 0);
    checkInteger(value, 'value', 0, 255);
    checkType(type);
    this.write(this.ram.ramOffset(paddr, length), paddr, null, 0, length, value, type);
  }

  // ---- Barriers. Only stores are buffered in the model (no load reordering), so read barriers have
  // nothing to order; write barriers drain the current CPU's write-combine buffer.

  /** `wmb()`: earlier stores, WC ones included, reach memory before later ones. */
  wmb(): void {
    this.current.wcBuffer.drain();
  }

  /** `rmb()`: nothing to do, loads are not reordered in the model. */
  rmb(): void {}

  /** `mb()`: a full barrier; drains the WC buffer. */
  mb(): void {
    this.current.wcBuffer.drain();
  }

  /** `dma_wmb()`: orders stores to DMA memory (descriptors before the ownership bit); drains the WC buffer. */
  dmaWmb(): void {
    this.current.wcBuffer.drain();
  }

  /** `dma_rmb()`: nothing to do, as `rmb()`. */
  dmaRmb(): void {}

  // ---- Cache maintenance by physical range (no-ops without a cache model; always counted).

  /** `dmac_clean_range` / `arch_sync_dma_for_device(DMA_TO_DEVICE)`: write dirty lines back. */
  cacheClean(paddr: number, size: number): void {
    const r = this.maintenanceOffset(paddr, size);
    this.counters.cacheCleans++;
    this.cache?.cleanAt(r, size);
  }

  /** `dmac_inv_range`: drop the lines, whole lines even where partly covered, losing dirty data. */
  cacheInvalidate(paddr: number, size: number): void {
    const r = this.maintenanceOffset(paddr, size);
    this.counters.cacheInvalidates++;
    this.cache?.invalidateAt(r, size);
  }

  /** `dmac_flush_range`: clean, then invalidate. */
  cacheFlush(paddr: number, size: number): void {
    const r = this.maintenanceOffset(paddr, size);
    this.counters.cacheFlushes++;
    this.cache?.flushAt(r, size);
  }

  // ---- Devices and observers

  /** A device's DMA engine. */
  createBusMaster(options: BusMasterOptions): BusMaster {
    const master = new BusMaster(this.bus, options);
    this.busMasters.push(master);
    return master;
  }

  /** Subscribes to every CPU and device access; returns the unsubscribe function. */
  observe(listener: AccessListener): () => void {
    return this.observers.subscribe(listener);
  }

  // ---- internals

  /**
   * The RAM offset of a maintenance range. DMA maps and unmaps run this on every call: a range in
   * the RAM span last used needs no other test (it proves the arguments valid integers), which
   * keeps the maintenance methods small enough for the JIT to inline into the whole map path.
   */
  private maintenanceOffset(paddr: number, size: number): number {
    const r = this.ram.lastSpanOffset(paddr, size);
    return r >= 0 ? r : this.maintenanceRange(paddr, size);
  }

  private maintenanceRange(paddr: number, size: number): number {
    checkAddress(paddr, 'paddr');
    checkSize(size, 'size', 0);
    return this.ram.ramOffset(paddr, size);
  }

  private read(r: number, paddr: number, target: Uint8Array, off: number, len: number, type: MemoryType): void {
    if (len === 0) return;
    if (type === 'normal') {
      if (this.cache !== null) this.cache.readAt(r, target, off, len);
      else this.ram.readAt(r, target, off, len);
    } else {
      this.ram.readAt(r, target, off, len);
      this.current.wcBuffer.overlayAt(r, target, off, len);
    }
    this.counters.cpuBytesRead += len;
    if (this.observers.active) this.observers.emitAccess('cpu', false, paddr, len, null, this.current.id, type);
  }

  private write(r: number, paddr: number, src: Uint8Array | null, off: number, len: number, value: number, type: MemoryType): void {
    if (len === 0) return;
    if (type === 'normal') {
      if (this.cache !== null) this.cache.writeAt(r, src, off, len, value);
      else if (src === null) this.ram.fillAt(r, len, value);
      else this.ram.writeAt(r, src, off, len);
    } else if (type === 'wc') {
      this.current.wcBuffer.writeAt(r, src, off, len, value);
    } else {
      if (src === null) this.ram.fillAt(r, len, value);
      else this.ram.writeAt(r, src, off, len);
      this.current.wcBuffer.mergeStoreAt(r, src, off, len, value);
    }
    this.counters.cpuBytesWritten += len;
    if (this.observers.active) this.observers.emitAccess('cpu', true, paddr, len, null, this.current.id, type);
  }
}

function checkType(type: unknown): asserts type is MemoryType {
  // Compared, not looked up in a Set: every CPU access checks its type.
  if (type === 'normal' || type === 'wc' || type === 'uncached') return;
  throw new TypeError(`type must be 'normal', 'wc' or 'uncached', got ${describe(type)}`);
}
