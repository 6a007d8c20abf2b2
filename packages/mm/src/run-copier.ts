import type { MemoryType } from '@kdma/hw';
import type { PhysicalCpuAccess } from './hardware.js';
import { pteMemoryType, ptePhys, type RunVisitor } from './pgtable.js';

const NO_BYTES = new Uint8Array(0);

/** A page table walked as physically contiguous runs of one memory type (`PageTable`, `KernelPageTable`). */
export interface RunWalker {
  forEachRun(va: number, length: number, visit: RunVisitor): void;
}

/**
 * The CPU's loads and stores of a buffer window through page tables, run by run. Its two
 * visitors are made once per CPU view, not once per access: kernel and user accesses walk the
 * tables on every call, and a closure each time was garbage on the hot path. Its callers have
 * checked the buffer and window and the walk gives physical addresses and PTE memory types, so
 * it uses the hardware's unchecked accesses.
 */
export class RunCopier {
  private readonly hw: PhysicalCpuAccess;
  private readonly pageSize: number;
  /** The window of the access being walked (`base` is its offset in `buffer`). */
  private buffer: Uint8Array = NO_BYTES;
  private base = 0;
  private readonly store: RunVisitor = (paddr: number, type: MemoryType, offset: number, length: number): void => {
    this.hw.cpuWriteUnchecked(paddr, this.buffer, type, this.base + offset, length);
  };
  private readonly load: RunVisitor = (paddr: number, type: MemoryType, offset: number, length: number): void => {
    this.hw.cpuReadIntoUnchecked(paddr, this.buffer, type, this.base + offset, length);
  };

  constructor(hw: PhysicalCpuAccess, pageSize: number) {
    this.hw = hw;
    this.pageSize = pageSize;
  }

  /** Stores or loads `buffer[offset, offset + length)` at `va`, inside the one page `pte` maps (already checked). */
  copyInPage(pte: number, va: number, buffer: Uint8Array, offset: number, length: number, write: boolean): void {
    const paddr = ptePhys(pte, va, this.pageSize);
    if (write) this.hw.cpuWriteUnchecked(paddr, buffer, pteMemoryType(pte), offset, length);
    else this.hw.cpuReadIntoUnchecked(paddr, buffer, pteMemoryType(pte), offset, length);
  }

  /** Stores (`write`) or loads `buffer[offset, offset + length)` at `va`, already checked, run by run. */
  copy(table: RunWalker, va: number, buffer: Uint8Array, offset: number, length: number, write: boolean): void {
    this.buffer = buffer;
    this.base = offset;
    try {
      table.forEachRun(va, length, write ? this.store : this.load);
    } finally {
      this.buffer = NO_BYTES;
    }
  }
}
