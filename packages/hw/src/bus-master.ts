/**
 * A bus master: the DMA engine of one device. It drives `addressBits` address lines (what the
 * driver declares with `dma_set_mask`), sees memory at `bus address + dmaOffset` (the kernel's
 * `dma_range_map` offset: phys = dma + offset) unless an IOMMU has attached a translation, and
 * either snoops the CPU caches (`coherent`, e.g. PCIe on x86 or an ACE-Lite port on ARM) or sees
 * memory only.
 *
 * A faulting access (beyond the address lines, an IOMMU miss or permission violation, a physical
 * address that is not RAM) throws a `DmaFault` after checking every run and before moving a byte.
 */

import { checkAddress, checkBytes, checkInteger, checkSize, checkWindow, describe, hex, pow2 } from './address.js';
import type { Cache } from './cache.js';
import type { HwCounters } from './counters.js';
import { DmaFault } from './dma-fault.js';
import type { DmaFaultKind } from './dma-fault.js';
import type { AccessObservers } from './observers.js';
import type { PhysicalMemory } from './physical-memory.js';

/** One physically contiguous piece of a translated access. */
export interface TranslationRun {
  paddr: number;
  length: number;
}

/** What an IOMMU attaches to a bus master: its page-table walk (and IOTLB). */
export interface DmaTranslation {
  /**
   * Translates the run starting at busAddr (at most `length` bytes, stopping where physical
   * contiguity ends); fills `out` and returns null, or returns the fault kind.
   */
  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null;
  /** The IOMMU's fault handler (`report_iommu_fault`). */
  onFault?(fault: DmaFault): void;
}

export interface BusMasterOptions {
  readonly name: string;
  /** Address lines: 1..64 (above 52 every address is reachable). */
  readonly addressBits: number;
  readonly coherent: boolean;
  /** Added to a bus address to give the physical address when there is no translation; default 0. */
  readonly dmaOffset?: number;
}

/** What a bus master needs of its machine. */
export interface BusContext {
  readonly ram: PhysicalMemory;
  readonly cache: Cache | null;
  readonly counters: HwCounters;
  readonly faults: DmaFault[];
  readonly observers: AccessObservers;
}

export class BusMaster {
  readonly name: string;
  readonly addressBits: number;
  /** Snoops the CPU caches. Writable: some platforms decide per device after creation. */
  coherent: boolean;
  /** phys = bus address + dmaOffset when there is no translation. */
  dmaOffset: number;
  /** Set by an IOMMU when it attaches the device; null sends accesses straight to memory. */
  translation: DmaTranslation | null = null;

  /** One past the highest bus address the address lines reach (Infinity above 52 bits). */
  private readonly busLimit: number;
  private readonly ram: PhysicalMemory;
  private readonly counters: HwCounters;
  private readonly observers: AccessObservers;

  /** Reused for every translated access: its runs (RAM offsets and lengths). */
  private runRam = new Float64Array(16);
  private runPaddr = new Float64Array(16);
  private runLen = new Float64Array(16);
  private readonly out: TranslationRun = { paddr: 0, length: 0 };

  /** Made by `Hardware.createBusMaster`. */
  constructor(
    private readonly machine: BusContext,
    options: BusMasterOptions,
  ) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const { name, addressBits, coherent, dmaOffset = 0 } = options;
    if (typeof name !== 'string' || name === '') throw new TypeError(`name must be a non-empty string, got ${describe(name)}`);
    checkInteger(addressBits, 'addressBits', 1, 64);
    if (typeof coherent !== 'boolean') throw new TypeError(`coherent must be a boolean, got ${describe(coherent)}`);
    checkInteger(dmaOffset, 'dmaOffset', -Number.MAX_SAFE_INTEGER);
    this.name = name;
    this.addressBits = addressBits;
    this.coherent = coherent;
    this.dmaOffset = dmaOffset;
    this.busLimit = addressBits <= 52 ? pow2(addressBits) : Infinity;
    this.ram = machine.ram;
    this.counters = machine.counters;
    this.observers = machine.observers;
  }

  /** The device reads `length` bytes at `busAddr` into a new array. */
  dmaRead(busAddr: number, length: number): Uint8Array {
    checkAddress(busAddr, 'busAddr');
    checkSize(length, 'length', 0);
    const out = new Uint8Array(length);
    this.access(busAddr, out, 0, length, false);
    return out;
  }

  /** The device reads memory at `busAddr` into `target[offset, offset + length)`. */
  dmaReadInto(busAddr: number, target: Uint8Array, offset = 0, length?: number): void {
    checkAddress(busAddr, 'busAddr');
    checkBytes(target, 'target');
    this.access(busAddr, target, offset, checkWindow(target, offset, length), false);
  }

  /** The device writes `bytes[offset, offset + length)` to memory at `busAddr`. */
  dmaWrite(busAddr: number, bytes: Uint8Array, offset = 0, length?: number): void {
    checkAddress(busAddr, 'busAddr');
    checkBytes(bytes, 'bytes');
    this.access(busAddr, bytes, offset, checkWindow(bytes, offset, length), true);
  }

  /** Arguments are checked by the callers; `len` fits in `buf` from `off`. */
  private access(busAddr: number, buf: Uint8Array, off: number, len: number, write: boolean): void {
    if (len === 0) return;
    if (busAddr + len > this.busLimit) this.fault('width', busAddr, len, write);
    const translation = this.translation;
    if (translation === null) {
      // Untranslated: one physically contiguous run, moved without the run arrays.
      const paddr = busAddr + this.dmaOffset;
      const r = paddr < 0 ? -1 : this.ram.tryRamOffset(paddr, len);
      if (r < 0) this.fault('bus', busAddr, len, write);
      this.moveRun(r, buf, off, len, write);
      if (write) this.counters.deviceBytesWritten += len;
      else this.counters.deviceBytesRead += len;
      if (this.observers.active) this.observers.emitAccess('device', write, paddr, len, this.name, -1, null);
      return;
    }
    const runs = this.translateAll(translation, busAddr, len, write);

    // Every run checked: now move the bytes.
    let pos = off;
    for (let i = 0; i < runs; i++) {
      const n = this.runLen[i]!;
      this.moveRun(this.runRam[i]!, buf, pos, n, write);
      pos += n;
    }
    if (write) this.counters.deviceBytesWritten += len;
    else this.counters.deviceBytesRead += len;
    if (this.observers.active) {
      for (let i = 0; i < runs; i++) {
        this.observers.emitAccess('device', write, this.runPaddr[i]!, this.runLen[i]!, this.name, -1, null);
      }
    }
  }

  /** Moves one checked run at RAM offset `r`, snooping the CPU cache when the device is coherent. */
  private moveRun(r: number, buf: Uint8Array, pos: number, n: number, write: boolean): void {
    const cache = this.coherent ? this.machine.cache : null;
    if (write) {
      if (cache !== null) cache.snoopWriteAt(r, n);
      this.ram.writeAt(r, buf, pos, n);
    } else {
      this.ram.readAt(r, buf, pos, n);
      if (cache !== null) cache.snoopReadAt(r, buf, pos, n);
    }
  }

  /** Fills the run arrays through the IOMMU; returns the number of runs, or throws the fault. */
  private translateAll(translation: DmaTranslation, busAddr: number, len: number, write: boolean): number {
    const out = this.out;
    let runs = 0;
    let bus = busAddr;
    let left = len;
    while (left > 0) {
      const kind = translation.translate(bus, left, write, out);
      if (kind !== null) this.fault(kind, bus, len, write);
      const { paddr, length } = out;
      if (!Number.isSafeInteger(length) || length < 1 || length > left || !Number.isSafeInteger(paddr) || paddr < 0) {
        throw new RangeError(`translation of ${this.name}'s bus address ${hex(bus)} returned an invalid run { paddr: ${paddr}, length: ${length} }`);
      }
      const r = this.machine.ram.tryRamOffset(paddr, length);
      if (r < 0) this.fault('bus', bus, len, write);
      if (runs === this.runLen.length) this.growRuns();
      this.runPaddr[runs] = paddr;
      this.runRam[runs] = r;
      this.runLen[runs] = length;
      runs++;
      bus += length;
      left -= length;
    }
    return runs;
  }

  private growRuns(): void {
    const n = this.runLen.length * 2;
    const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.runRam = grow(this.runRam);
    this.runPaddr = grow(this.runPaddr);
    this.runLen = grow(this.runLen);
  }

  private fault(kind: DmaFaultKind, busAddr: number, length: number, write: boolean): never {
    const fault = new DmaFault(kind, busAddr, this.name, write, length);
    const m = this.machine;
    m.faults.push(fault);
    m.counters.faults++;
    this.translation?.onFault?.(fault);
    throw fault;
  }
}
