import { Prng } from '@kdma/hw';

/**
 * Test data from a seed: `length` bytes from the seeded PRNG, so that a stale, shifted or foreign
 * byte cannot pass for the expected one. Deterministic: the same seed gives the same bytes.
 */
export function patternBytes(length: number, seed: number): Uint8Array {
  const prng = new Prng(seed);
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = prng.next();
  for (let i = words.length * 4; i < length; i++) out[i] = prng.int(256);
  return out;
}

/** Index of the first byte where `a` and `b` differ (or where one ends), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  // Compare 4 bytes at a time where both are aligned, then byte by byte.
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const wa = new Uint32Array(a.buffer, a.byteOffset, Math.floor(n / 4));
    const wb = new Uint32Array(b.buffer, b.byteOffset, Math.floor(n / 4));
    while (i < wa.length && wa[i] === wb[i]) i++;
    i *= 4;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
