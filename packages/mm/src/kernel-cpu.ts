/**
 * The CPU as kernel code uses it (what dma-mapping exposes as `machine.cpu`): loads and stores
 * at kernel virtual addresses, translated through the kernel page tables to physical accesses of
 * the page's memory type. A range is checked whole before anything moves, then handed to the
 * hardware as one call per physically contiguous run of one memory type (the linear map is one run).
 */
import { checkAddress, checkInteger, checkSize } from '@kdma/hw';
import type { MemoryType } from '@kdma/hw';
import type { PhysicalCpuAccess } from './hardware.js';
import type { KernelPageTable } from './pgtable.js';

const NO_BYTES = new Uint8Array(0);

/** What KernelCpu needs of Mm. */
export interface KernelAddressSpace {
  readonly kernelPageTable: KernelPageTable;
}

export class KernelCpu {
  private readonly hw: PhysicalCpuAccess;
  private readonly tables: KernelPageTable;
  /** The buffer of the access being walked, so the run visitors below are made once, not per call. */
  private runBuffer: Uint8Array = NO_BYTES;
  private readonly writeRun = (paddr: number, type: MemoryType, offset: number, runLength: number): void => {
    this.hw.cpuWrite(paddr, this.runBuffer, type, offset, runLength);
  };
  private readonly readRun = (paddr: number, type: MemoryType, offset: number, runLength: number): void => {
    this.hw.cpuReadInto(paddr, this.runBuffer, type, offset, runLength);
  };

  constructor(hw: PhysicalCpuAccess, mm: KernelAddressSpace) {
    this.hw = hw;
    this.tables = mm.kernelPageTable;
  }

  /** smp_processor_id(). */
  get id(): number {
    return this.hw.currentCpu.id;
  }

  /** Loads `length` bytes at `kva` into a new array. */
  read(kva: number, length: number): Uint8Array {
    checkAddress(kva, 'kva');
    checkSize(length, 'length', 0);
    const target = new Uint8Array(length);
    this.access(kva, target, false);
    return target;
  }

  /** Loads `target.length` bytes at `kva` into `target`. */
  readInto(kva: number, target: Uint8Array): void {
    checkAddress(kva, 'kva');
    if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    this.access(kva, target, false);
  }

  /** Stores `bytes` at `kva`. */
  write(kva: number, bytes: Uint8Array): void {
    checkAddress(kva, 'kva');
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    this.access(kva, bytes, true);
  }

  /** memset(): stores `length` copies of `value` at `kva`. */
  fill(kva: number, length: number, value: number): void {
    checkAddress(kva, 'kva');
    checkSize(length, 'length', 0);
    checkInteger(value, 'value', 0, 255);
    this.tables.checkAccess(kva, length, true);
    const hw = this.hw;
    this.tables.forEachRun(kva, length, (paddr: number, type: MemoryType, _offset: number, runLength: number) => {
      hw.cpuFill(paddr, runLength, value, type);
    });
  }

  private access(kva: number, buffer: Uint8Array, write: boolean): void {
    const length = buffer.length;
    if (length === 0) return;
    const paddr = this.tables.linearPhys(kva, length, write);
    if (paddr >= 0) {
      if (write) this.hw.cpuWrite(paddr, buffer, 'normal', 0, length);
      else this.hw.cpuReadInto(paddr, buffer, 'normal', 0, length);
      return;
    }
    this.tables.checkAccess(kva, length, write);
    this.runBuffer = buffer;
    try {
      this.tables.forEachRun(kva, length, write ? this.writeRun : this.readRun);
    } finally {
      this.runBuffer = NO_BYTES;
    }
  }

  /** wmb(): orders stores and drains the write-combine buffer. */
  wmb(): void {
    this.hw.wmb();
  }

  /** rmb(). */
  rmb(): void {
    this.hw.rmb();
  }

  /** mb(). */
  mb(): void {
    this.hw.mb();
  }

  /** dma_wmb(): orders stores to DMA memory before a device sees a descriptor. */
  dmaWmb(): void {
    this.hw.dmaWmb();
  }
}
