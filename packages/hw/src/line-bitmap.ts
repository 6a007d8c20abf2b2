/*
 * Bit ranges over an Int32Array, 32 cache lines a word: the cache's valid and dirty sets. DMA
 * maintenance of a page touches 64 lines, which is two words here — a byte per line would be 64
 * stores and a scan of 16 words. Bit indices are line numbers within one memory chunk (well below
 * 2^31), never addresses, so JavaScript's 32-bit operators are exact on them.
 */

/** The bits of one word from bit `lo` (inclusive) to bit `hi` (exclusive), 0 ≤ lo < hi ≤ 32. */
function wordMask(lo: number, hi: number): number {
  return (hi >= 32 ? -1 : ~(-1 << hi)) & (-1 << lo);
}

/** Sets bits [a, b). */
export function setBits(words: Int32Array, a: number, b: number): void {
  if (a >= b) return;
  const ka = a >> 5;
  const kb = (b - 1) >> 5;
  if (ka === kb) {
    words[ka]! |= wordMask(a & 31, b - (ka << 5));
    return;
  }
  words[ka]! |= -1 << (a & 31);
  if (kb - ka > 8) words.fill(-1, ka + 1, kb);
  else for (let k = ka + 1; k < kb; k++) words[k] = -1;
  words[kb]! |= wordMask(0, b - (kb << 5));
}

/** Clears bits [a, b). */
export function clearBits(words: Int32Array, a: number, b: number): void {
  if (a >= b) return;
  const ka = a >> 5;
  const kb = (b - 1) >> 5;
  if (ka === kb) {
    words[ka]! &= ~wordMask(a & 31, b - (ka << 5));
    return;
  }
  words[ka]! &= ~(-1 << (a & 31));
  if (kb - ka > 8) words.fill(0, ka + 1, kb);
  else for (let k = ka + 1; k < kb; k++) words[k] = 0;
  words[kb]! &= ~wordMask(0, b - (kb << 5));
}

/** True when bit `i` is set. */
export function testBit(words: Int32Array, i: number): boolean {
  return (words[i >> 5]! & (1 << (i & 31))) !== 0;
}

/** The first set bit in [i, end), or `end`. */
export function nextSetBit(words: Int32Array, i: number, end: number): number {
  while (i < end) {
    const k = i >> 5;
    const w = words[k]! & (-1 << (i & 31));
    if (w !== 0) {
      const found = (k << 5) + 31 - Math.clz32(w & -w);
      return found < end ? found : end;
    }
    i = (k + 1) << 5;
  }
  return end;
}

/** The first clear bit in [i, end), or `end`. */
export function nextClearBit(words: Int32Array, i: number, end: number): number {
  while (i < end) {
    const k = i >> 5;
    const w = ~words[k]! & (-1 << (i & 31));
    if (w !== 0) {
      const found = (k << 5) + 31 - Math.clz32(w & -w);
      return found < end ? found : end;
    }
    i = (k + 1) << 5;
  }
  return end;
}

/** Set bits in the whole array. */
export function countBits(words: Int32Array): number {
  let n = 0;
  for (let k = 0; k < words.length; k++) {
    let w = words[k]!;
    // Clear the lowest set bit until none is left: as many steps as set bits.
    while (w !== 0) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}
