/**
 * The part of @kdma/hw that kernel memory drives: RAM's layout, the CPU's physical accesses with
 * a memory type, barriers and the kernel log. `Hardware` of @kdma/hw implements it; mm depends on
 * this shape only, so it can be driven by any object that provides it.
 */
import type { MemoryRegion, MemoryType } from '@kdma/hw';

/** Kernel log levels mm prints at. */
export type PrintkLevel = 'err' | 'warn' | 'info' | 'debug';

export interface PhysicalCpuAccess {
  /** RAM: its regions (holes between them have no pages). */
  readonly ram: { readonly regions: readonly MemoryRegion[] };
  /** The kernel log. */
  readonly dmesg: { printk(level: PrintkLevel, message: string): void };
  /** The CPU the code runs on. */
  readonly currentCpu: { readonly id: number };
  cpuRead(paddr: number, length: number, type: MemoryType): Uint8Array;
  /** Reads `length` bytes at `paddr` into `target[offset, offset + length)`. */
  cpuReadInto(paddr: number, target: Uint8Array, type: MemoryType, offset?: number, length?: number): void;
  /** Stores `bytes[offset, offset + length)` at `paddr`. */
  cpuWrite(paddr: number, bytes: Uint8Array, type: MemoryType, offset?: number, length?: number): void;
  /** `cpuReadInto` of arguments the caller has checked: only the RAM range is. */
  cpuReadIntoUnchecked(paddr: number, target: Uint8Array, type: MemoryType, offset: number, length: number): void;
  /** `cpuWrite` of arguments the caller has checked: only the RAM range is. */
  cpuWriteUnchecked(paddr: number, bytes: Uint8Array, type: MemoryType, offset: number, length: number): void;
  cpuFill(paddr: number, length: number, value: number, type: MemoryType): void;
  wmb(): void;
  rmb(): void;
  mb(): void;
  dmaWmb(): void;
}
