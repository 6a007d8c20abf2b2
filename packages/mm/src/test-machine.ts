// Test helpers (not published): hardware plus kernel memory in a line.
import { Hardware } from '@kdma/hw';
import type { HardwareOptions, MemoryRegion } from '@kdma/hw';
import { Mm } from './mm.js';
import type { MmOptions } from './mm.js';
import { X86_64_ZONES } from './zones.js';

export const KiB = 2 ** 10;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export interface TestMachine {
  readonly hw: Hardware;
  readonly mm: Mm;
}

/** A machine with `regions` of RAM (default 64 MiB at 0) and kernel memory with `options`. */
export function machine(regions: readonly MemoryRegion[] = [{ base: 0, size: 64 * MiB }], options: MmOptions = {}, hwOptions: Partial<HardwareOptions> = {}): TestMachine {
  const hw = new Hardware({ memoryRegions: regions, ...hwOptions });
  return { hw, mm: new Mm(hw, { kernelImageSize: MiB, ...options }) };
}

/** The x86-64-like 8 GiB layout with the PCI hole: [0, 3 GiB) and [4 GiB, 9 GiB). */
export function x86Machine(options: MmOptions = {}, hwOptions: Partial<HardwareOptions> = {}): TestMachine {
  return machine(
    [
      { base: 0, size: 3 * GiB },
      { base: 4 * GiB, size: 5 * GiB },
    ],
    { zones: X86_64_ZONES, ...options },
    hwOptions,
  );
}

/** A small x86 machine whose zones can be exhausted quickly: DMA 16 MiB, DMA32 16 MiB, NORMAL 8 MiB. */
export function smallX86Machine(options: MmOptions = {}): TestMachine {
  return machine(
    [
      { base: 0, size: 32 * MiB },
      { base: 4 * GiB, size: 8 * MiB },
    ],
    { zones: X86_64_ZONES, ...options },
  );
}

/** `length` bytes counting from `start` (mod 256), never all zero. */
export function pattern(length: number, start = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 256 || 1;
  return bytes;
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
