// Test helpers (not published): small machines and recognisable bytes.
import { expect } from '@jest/globals';
import { Hardware } from './hardware.js';
import type { HardwareOptions } from './hardware.js';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A machine with 1 MiB of RAM at 0 and 1 MiB at 4 GiB unless told otherwise. */
export function machine(options: Partial<HardwareOptions> = {}): Hardware {
  return new Hardware({
    memoryRegions: [
      { base: 0, size: MiB },
      { base: 4 * GiB, size: MiB },
    ],
    ...options,
  });
}

/** `length` bytes counting from `start` (mod 256), never all zero. */
export function pattern(length: number, start = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 256;
  return bytes;
}

/** Fast byte-array assertion: compares natively, and only on a mismatch asks jest for the diff. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) return;
  expect(actual).toEqual(expected);
}
