import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { clearBits, countBits, nextClearBit, nextSetBit, setBits, testBit } from './line-bitmap.js';

const BITS = 200;
const range = fc.tuple(fc.integer({ min: 0, max: BITS }), fc.integer({ min: 0, max: BITS })).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
const op = fc.tuple(fc.boolean(), range);

describe('line bitmaps', () => {
  it('agree with an array of booleans under any sequence of set and clear', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), range, (ops, [qa, qb]) => {
        const words = new Int32Array(Math.ceil(BITS / 32));
        const ref = new Array<boolean>(BITS).fill(false);
        for (const [set, [a, b]] of ops) {
          if (set) setBits(words, a!, b!);
          else clearBits(words, a!, b!);
          ref.fill(set, a!, b!);
        }
        for (let i = 0; i < BITS; i++) expect(testBit(words, i)).toBe(ref[i]);
        expect(countBits(words)).toBe(ref.filter(Boolean).length);
        const firstSet = ref.findIndex((v, i) => i >= qa! && i < qb! && v);
        const firstClear = ref.findIndex((v, i) => i >= qa! && i < qb! && !v);
        expect(nextSetBit(words, qa!, qb!)).toBe(firstSet < 0 ? qb : firstSet);
        expect(nextClearBit(words, qa!, qb!)).toBe(firstClear < 0 ? qb : firstClear);
      }),
    );
  });

  it('handles whole words, bit 31 and long runs', () => {
    const words = new Int32Array(40);
    setBits(words, 31, 33);
    expect([testBit(words, 30), testBit(words, 31), testBit(words, 32), testBit(words, 33)]).toEqual([false, true, true, false]);
    setBits(words, 0, 1280);
    expect(countBits(words)).toBe(1280);
    clearBits(words, 5, 1275);
    expect(countBits(words)).toBe(10);
    expect(nextSetBit(words, 5, 1280)).toBe(1275);
    expect(nextClearBit(words, 0, 1280)).toBe(5);
  });
});
