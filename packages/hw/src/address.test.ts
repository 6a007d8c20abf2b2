import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  addrAnd,
  addrMod,
  addrAndNot,
  addrOr,
  alignDown,
  alignUp,
  bitMask,
  checkAddress,
  checkBytes,
  checkInteger,
  checkSize,
  checkWindow,
  getOrder,
  hex,
  ilog2,
  isAligned,
  isPowerOfTwo,
  lowBits,
  lower32Bits,
  upper32Bits,
} from './address.js';

/** Bit-by-bit reference, independent of the implementation's 32-bit halves. */
function bitwise(a: number, b: number, op: (x: number, y: number) => number): number {
  let result = 0;
  for (let k = 0; k < 52; k++) {
    const bit = op(Math.floor(a / 2 ** k) % 2, Math.floor(b / 2 ** k) % 2);
    result += bit * 2 ** k;
  }
  return result;
}

const address = fc.integer({ min: 0, max: 2 ** 52 - 1 });

describe('52-bit address helpers', () => {
  it('splits a 52-bit address into the halves of a 64-bit field (lower_32_bits, upper_32_bits)', () => {
    expect([lower32Bits(0x1_2345_6789), upper32Bits(0x1_2345_6789)]).toEqual([0x2345_6789, 1]);
    expect([lower32Bits(0xf_ffff_ffff_ffff), upper32Bits(0xf_ffff_ffff_ffff)]).toEqual([0xffff_ffff, 0xf_ffff]);
    expect([lower32Bits(0x8000_0000), upper32Bits(0x8000_0000)]).toEqual([0x8000_0000, 0]);
    fc.assert(fc.property(address, (a) => lower32Bits(a) >= 0 && lower32Bits(a) < 2 ** 32 && upper32Bits(a) * 2 ** 32 + lower32Bits(a) === a));
  });

  it('computes AND, OR and AND-NOT above 4 GiB', () => {
    expect(addrAnd(0xabcde12345678, 0xfffff0000ffff)).toBe(0xabcde00005678);
    expect(addrOr(0x100000000, 0xfff)).toBe(0x100000fff);
    expect(addrAndNot(0x180000fff, 0xfff)).toBe(0x180000000);
    expect(addrAndNot(0xfffffffffffff, 0x8000000000000)).toBe(0x7ffffffffffff);
    // bitMask(64) (MAX_SAFE_INTEGER) as a mask keeps every address bit.
    expect(addrAnd(0xfffffffffffff, Number.MAX_SAFE_INTEGER)).toBe(0xfffffffffffff);
    expect(addrAnd(0x123456789abc, bitMask(64))).toBe(0x123456789abc);
    // What JavaScript's own operators would do: truncate to 32 bits.
    expect(0x180000fff & ~0xfff).not.toBe(0x180000000);
  });

  it('matches a bit-by-bit reference on all 52 bits', () => {
    fc.assert(
      fc.property(address, address, (a, b) => {
        expect(addrAnd(a, b)).toBe(bitwise(a, b, (x, y) => x & y));
        expect(addrOr(a, b)).toBe(bitwise(a, b, (x, y) => x | y));
        expect(addrAndNot(a, b)).toBe(bitwise(a, b, (x, y) => x & (1 - y)));
      }),
    );
  });

  it('aligns up and down above 4 GiB', () => {
    expect(alignUp(0x100000001, 4096)).toBe(0x100001000);
    expect(alignUp(0x100001000, 4096)).toBe(0x100001000);
    expect(alignDown(0x1234567fff, 0x1000)).toBe(0x1234567000);
    expect(alignDown(2 ** 51 + 2 ** 40 + 5, 2 ** 40)).toBe(2 ** 51 + 2 ** 40);
    expect(isAligned(0x200000000, 2 ** 33)).toBe(true);
    expect(isAligned(0x200000040, 128)).toBe(false);
    expect(lowBits(0x123456789, 12)).toBe(0x789);
    expect(lowBits(2 ** 50 + 3, 40)).toBe(3);
  });

  it('takes remainders of any address by any divisor exactly, as % does', () => {
    fc.assert(
      fc.property(address, fc.integer({ min: 1, max: 2 ** 40 }), (value, divisor) => {
        expect(addrMod(value, divisor)).toBe(value % divisor);
        expect(isAligned(value, divisor)).toBe(value % divisor === 0);
        expect(isAligned(value - (value % divisor), divisor)).toBe(true);
      }),
    );
    // Divisors that are not powers of two, at the top of the range.
    expect(addrMod(2 ** 52 - 1, 3)).toBe((2 ** 52 - 1) % 3);
    expect(addrMod(2 ** 52 - 2, 7)).toBe((2 ** 52 - 2) % 7);
    expect(isAligned(3 * 1234567890123, 3)).toBe(true);
  });

  it('makes masks of any width', () => {
    expect(bitMask(0)).toBe(0);
    expect(bitMask(32)).toBe(0xffffffff);
    expect(bitMask(36)).toBe(0xfffffffff);
    expect(bitMask(52)).toBe(2 ** 52 - 1);
    expect(bitMask(64)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => bitMask(65)).toThrow(/bits/);
  });

  it('computes powers of two, logs and orders', () => {
    expect(isPowerOfTwo(2 ** 50)).toBe(true);
    expect(isPowerOfTwo(2 ** 50 + 2)).toBe(false);
    expect(isPowerOfTwo(0)).toBe(false);
    expect(ilog2(2 ** 40)).toBe(40);
    expect(ilog2(2 ** 40 - 1)).toBe(39);
    expect(getOrder(4096, 4096)).toBe(0);
    expect(getOrder(4097, 4096)).toBe(1);
    expect(getOrder(2 ** 33, 4096)).toBe(21);
    expect(hex(0x1_0000_0000)).toBe('0x100000000');
  });

  it('checks arguments and names them', () => {
    expect(() => checkInteger('1', 'count')).toThrow(TypeError);
    expect(() => checkInteger(1.5, 'count')).toThrow(/count must be an integer/);
    expect(() => checkInteger(Number.NaN, 'count')).toThrow(/count/);
    expect(() => checkAddress(2 ** 52, 'paddr')).toThrow(/paddr/);
    expect(() => checkSize(0, 'size')).toThrow(/size/);
    expect(() => checkBytes([1, 2], 'bytes')).toThrow(TypeError);
    const a = new Uint8Array(8);
    expect(checkWindow(a, 2, undefined)).toBe(6);
    expect(checkWindow(a, 2, 3)).toBe(3);
    expect(() => checkWindow(a, 9, undefined)).toThrow(/offset/);
    expect(() => checkWindow(a, 2, 7)).toThrow(/length/);
  });
});
