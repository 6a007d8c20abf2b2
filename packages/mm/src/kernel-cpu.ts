/**
 * The CPU as kernel code uses it (what dma-mapping exposes as `machine.cpu`): loads and stores
 * at kernel virtual addresses, translated through the kernel page tables to physical accesses of
 * the page's memory type. A range is checked whole before anything moves, then handed to the
 * hardware as one call per physically contiguous run of one memory type (the linear map is one run).
 */
import { checkAddress, checkBytes, checkInteger, checkSize, checkWindow } from '@kdma/hw';
import type { MemoryType } from '@kdma/hw';
import type { PhysicalCpuAccess } from './hardware.js';
import type { KernelPageTable } from './pgtable.js';
import { RunCopier } from './run-copier.js';

/** What KernelCpu needs of Mm. */
export interface KernelAddressSpace {
  readonly kernelPageTable: KernelPageTable;
}

export class KernelCpu {
  private readonly hw: PhysicalCpuAccess;
  private readonly tables: KernelPageTable;
  private readonly runs: RunCopier;

  constructor(hw: PhysicalCpuAccess, mm: KernelAddressSpace) {
    this.hw = hw;
    this.tables = mm.kernelPageTable;
    this.runs = new RunCopier(hw, mm.kernelPageTable.pageSize);
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
    this.access(kva, target, 0, length, false);
    return target;
  }

  /**
   * Loads bytes at `kva` into `target[offset, offset + length)` (`length` defaults to the rest of
   * `target`): a window, so a caller filling part of a buffer makes no view of it.
   */
  readInto(kva: number, target: Uint8Array, offset = 0, length?: number): void {
    checkAddress(kva, 'kva');
    checkBytes(target, 'target');
    this.access(kva, target, offset, checkWindow(target, offset, length), false);
  }

  /** Stores `bytes[offset, offset + length)` at `kva` (`length` defaults to the rest of `bytes`). */
  write(kva: number, bytes: Uint8Array, offset = 0, length?: number): void {
    checkAddress(kva, 'kva');
    checkBytes(bytes, 'bytes');
    this.access(kva, bytes, offset, checkWindow(bytes, offset, length), true);
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

  private access(kva: number, buffer: Uint8Array, offset: number, length: number, write: boolean): void {
    if (length === 0) return;
    const paddr = this.tables.linearPhys(kva, length, write);
    if (paddr >= 0) {
      // readInto/write checked the buffer and window, checkLinear the RAM: no second round in hw.
      if (write) this.hw.cpuWriteUnchecked(paddr, buffer, 'normal', offset, length);
      else this.hw.cpuReadIntoUnchecked(paddr, buffer, 'normal', offset, length);
      return;
    }
    const pte = this.tables.onePagePte(kva, length, write);
    if (pte >= 0) {
      this.runs.copyInPage(pte, kva, buffer, offset, length, write);
      return;
    }
    this.tables.checkAccess(kva, length, write);
    this.runs.copy(this.tables, kva, buffer, offset, length, write);
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
