import { describe, expect, it } from '@jest/globals';
import { ADDRESS_LIMIT } from '@kdma/hw';
import { checkDmaAddr, checkDmaSize } from './checks.js';

// Both checks take the common case (below 4 GiB) in a short path and everything else in a long
// one: the two must agree on where the valid range ends.
describe('checkDmaSize', () => {
  it('accepts every byte count from 1 to 2^52, either side of 4 GiB', () => {
    for (const size of [1, 4096, 2 ** 32 - 1, 2 ** 32, 2 ** 40, ADDRESS_LIMIT]) expect(() => checkDmaSize(size)).not.toThrow();
  });

  it.each([0, -1, 1.5, 2 ** 32 + 0.5, ADDRESS_LIMIT + 1, NaN, Infinity, '4096', null])('rejects %p naming the argument', (size) => {
    expect(() => checkDmaSize(size)).toThrow(/^size /);
    expect(() => checkDmaSize(size, 'length')).toThrow(/^length /);
  });
});

describe('checkDmaAddr', () => {
  it('accepts DMA_MAPPING_ERROR and every bus address below 2^52', () => {
    for (const addr of [-1, 0, 0x8000_0000, 2 ** 32 - 1, 2 ** 32, ADDRESS_LIMIT - 1]) expect(() => checkDmaAddr(addr, 'addr')).not.toThrow();
  });

  it.each([-2, 0.5, 2 ** 32 + 0.5, ADDRESS_LIMIT, NaN, '0', undefined])('rejects %p naming the argument', (addr) => {
    expect(() => checkDmaAddr(addr, 'dmaHandle')).toThrow(/^dmaHandle /);
  });
});
