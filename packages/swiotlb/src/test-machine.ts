// Test helpers (not published): a small machine with RAM below and above 4 GiB, and byte patterns.
import { expect } from '@jest/globals';
import { Hardware } from '@kdma/hw';
import { Mm, X86_64_ZONES } from '@kdma/mm';
import { swiotlbInit, type SwiotlbInitOptions } from './swiotlb-init.js';
import type { IoTlbMem } from './io-tlb-mem.js';

export const KiB = 1024;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export interface TestMachine {
  readonly hw: Hardware;
  readonly mm: Mm;
}

/** 64 MiB (or `lowMemory`) at 0 and 64 MiB at 4 GiB, x86-64 zones, two CPUs unless told otherwise. */
export function testMachine(options: { cpus?: number; cacheModel?: boolean; lowMemory?: number } = {}): TestMachine {
  const hw = new Hardware({
    memoryRegions: [
      { base: 0, size: options.lowMemory ?? 64 * MiB },
      { base: 4 * GiB, size: 64 * MiB },
    ],
    cpus: options.cpus ?? 2,
    cacheModel: options.cacheModel ?? false,
  });
  const mm = new Mm(hw, { zones: X86_64_ZONES, kernelImageSize: 4 * MiB });
  return { hw, mm };
}

/** A machine and its default io_tlb_mem. */
export function testPool(options: SwiotlbInitOptions = {}, machine: { cpus?: number; cacheModel?: boolean } = {}): TestMachine & { mem: IoTlbMem } {
  const m = testMachine(machine);
  const mem = swiotlbInit(m.hw, m.mm, { zones: X86_64_ZONES, ...options });
  if (mem === null) throw new Error('no pool');
  return { ...m, mem };
}

/** A buffer above 4 GiB of `bytes` (whole pages), its physical address. */
export function highBuffer(m: TestMachine, bytes: number): number {
  const pages = Math.ceil(bytes / m.mm.pageSize);
  const pfn = m.mm.allocPages(Math.ceil(Math.log2(pages)));
  if (pfn === null) throw new Error('out of memory');
  const paddr = pfn * m.mm.pageSize;
  expect(paddr).toBeGreaterThanOrEqual(4 * GiB);
  return paddr;
}

/** `length` bytes counting from `start` (mod 251), never all zero. */
export function pattern(length: number, start = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 251;
  return bytes;
}

/** Fast byte comparison; asks jest for a diff only on a mismatch. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) return;
  expect(actual).toEqual(expected);
}
