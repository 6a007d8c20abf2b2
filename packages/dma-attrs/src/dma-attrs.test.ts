import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_KNOWN_MASK,
  DMA_ATTR_MMIO,
  DMA_ATTR_NAMES,
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WEAK_ORDERING,
  DMA_ATTR_WRITE_BARRIER,
  DMA_ATTR_WRITE_COMBINE,
  DmaAttrs,
  defineDmaAttrs,
  dmaAttrsToString,
  dmaGetAttr,
  dmaSetAttr,
  initDmaAttrs,
  normalizeDmaAttrs,
} from './index.js';
import type { DmaAttrsInput } from './index.js';

const CORE: [string, number, number][] = [
  ['WRITE_BARRIER', DMA_ATTR_WRITE_BARRIER, 0],
  ['WEAK_ORDERING', DMA_ATTR_WEAK_ORDERING, 1],
  ['WRITE_COMBINE', DMA_ATTR_WRITE_COMBINE, 2],
  ['NON_CONSISTENT', DMA_ATTR_NON_CONSISTENT, 3],
  ['NO_KERNEL_MAPPING', DMA_ATTR_NO_KERNEL_MAPPING, 4],
  ['SKIP_CPU_SYNC', DMA_ATTR_SKIP_CPU_SYNC, 5],
  ['FORCE_CONTIGUOUS', DMA_ATTR_FORCE_CONTIGUOUS, 6],
  ['ALLOC_SINGLE_PAGES', DMA_ATTR_ALLOC_SINGLE_PAGES, 7],
  ['NO_WARN', DMA_ATTR_NO_WARN, 8],
  ['PRIVILEGED', DMA_ATTR_PRIVILEGED, 9],
];
const LATER: [string, number, number][] = [
  ['MMIO', DMA_ATTR_MMIO, 10],
  ['DEBUGGING_IGNORE_CACHELINES', DMA_ATTR_DEBUGGING_IGNORE_CACHELINES, 11],
  ['REQUIRE_COHERENT', DMA_ATTR_REQUIRE_COHERENT, 12],
];
const ALL = [...CORE, ...LATER];

describe('attribute bit values', () => {
  it.each(ALL)('DMA_ATTR_%s is 1 << %#', (name, value, bit) => {
    expect(value).toBe(2 ** bit);
    expect(DMA_ATTR_NAMES[value]).toBe(name);
  });

  it('names every known bit, in bit order, and nothing else', () => {
    expect(Object.values(DMA_ATTR_NAMES)).toEqual(ALL.map(([name]) => name));
    expect(DMA_ATTR_KNOWN_MASK).toBe(ALL.reduce((m, [, v]) => m + v, 0));
    expect(Object.isFrozen(DMA_ATTR_NAMES)).toBe(true);
  });
});

describe('the 2011 struct form', () => {
  it('starts empty and remembers what is set', () => {
    const attrs = defineDmaAttrs();
    expect(attrs).toBeInstanceOf(DmaAttrs);
    for (const [, value] of ALL) expect(dmaGetAttr(value, attrs)).toBe(false);
    dmaSetAttr(DMA_ATTR_WRITE_COMBINE, attrs);
    dmaSetAttr(DMA_ATTR_NO_KERNEL_MAPPING, attrs);
    dmaSetAttr(DMA_ATTR_WRITE_COMBINE, attrs);
    for (const [, value] of ALL) {
      expect(dmaGetAttr(value, attrs)).toBe(value === DMA_ATTR_WRITE_COMBINE || value === DMA_ATTR_NO_KERNEL_MAPPING);
    }
  });

  it('is interchangeable with the number form', () => {
    for (const [, a] of ALL) {
      for (const [, b] of CORE) {
        const attrs = defineDmaAttrs();
        dmaSetAttr(a, attrs);
        dmaSetAttr(b, attrs);
        expect(normalizeDmaAttrs(attrs)).toBe(a | b);
        expect(dmaGetAttr(a, a | b)).toBe(true);
      }
    }
  });

  it('keeps separate structs separate and is opaque', () => {
    const one = defineDmaAttrs();
    const two = defineDmaAttrs();
    dmaSetAttr(DMA_ATTR_SKIP_CPU_SYNC, one);
    expect(normalizeDmaAttrs(two)).toBe(0);
    expect(Object.keys(one)).toEqual([]);
    expect(JSON.stringify(one)).toBe('{}');
  });

  it('initDmaAttrs clears it', () => {
    const attrs = defineDmaAttrs();
    dmaSetAttr(DMA_ATTR_FORCE_CONTIGUOUS, attrs);
    initDmaAttrs(attrs);
    expect(normalizeDmaAttrs(attrs)).toBe(0);
    expect(() => initDmaAttrs(null as unknown as DmaAttrs)).toThrow(new TypeError('attrs must be a DmaAttrs struct (from defineDmaAttrs()), got null'));
  });

  it('treats a null or missing struct as the kernel did: set is a no-op, get is false', () => {
    expect(() => dmaSetAttr(DMA_ATTR_WRITE_COMBINE, null)).not.toThrow();
    expect(() => dmaSetAttr(DMA_ATTR_WRITE_COMBINE, undefined)).not.toThrow();
    expect(dmaGetAttr(DMA_ATTR_WRITE_COMBINE, null)).toBe(false);
    expect(dmaGetAttr(DMA_ATTR_WRITE_COMBINE, undefined)).toBe(false);
  });

  it('rejects an attr that is not exactly one known bit (the kernel BUG_ONs)', () => {
    const attrs = defineDmaAttrs();
    for (const bad of [0, 3, DMA_ATTR_WRITE_COMBINE | DMA_ATTR_NO_WARN, 1 << 20, -1, 1.5, NaN]) {
      expect(() => dmaSetAttr(bad, attrs)).toThrow(RangeError);
      expect(() => dmaGetAttr(bad, attrs)).toThrow(/^attr must be exactly one known DMA_ATTR_\* bit value/);
      expect(() => dmaSetAttr(bad, null)).toThrow(RangeError);
    }
    expect(() => dmaSetAttr('WRITE_COMBINE' as unknown as number, attrs)).toThrow(TypeError);
    expect(normalizeDmaAttrs(attrs)).toBe(0);
  });

  it('dmaSetAttr needs a struct to write to', () => {
    expect(() => dmaSetAttr(DMA_ATTR_NO_WARN, 4 as unknown as DmaAttrs)).toThrow(/^attrs must be a DmaAttrs struct/);
    expect(() => dmaSetAttr(DMA_ATTR_NO_WARN, {} as DmaAttrs)).toThrow(TypeError);
  });
});

describe('normalizeDmaAttrs', () => {
  it('maps absent and null to 0 and passes numbers through', () => {
    expect(normalizeDmaAttrs(undefined)).toBe(0);
    expect(normalizeDmaAttrs(null)).toBe(0);
    expect(normalizeDmaAttrs(0)).toBe(0);
    expect(normalizeDmaAttrs(DMA_ATTR_WRITE_COMBINE | DMA_ATTR_SKIP_CPU_SYNC)).toBe(0x24);
  });

  it('keeps unknown bits instead of throwing (the kernel ignores them)', () => {
    expect(normalizeDmaAttrs(1 << 30)).toBe(1 << 30);
    // Either side of the 32-bit fast path, and the largest exact integer.
    for (const big of [2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) expect(normalizeDmaAttrs(big)).toBe(big);
    expect(normalizeDmaAttrs(2 ** 40 + DMA_ATTR_NO_WARN)).toBe(2 ** 40 + 0x100);
    expect(dmaGetAttr(DMA_ATTR_NO_WARN, 2 ** 40 + DMA_ATTR_NO_WARN)).toBe(true);
    expect(dmaGetAttr(DMA_ATTR_WRITE_COMBINE, 2 ** 40 + DMA_ATTR_NO_WARN)).toBe(false);
  });

  it.each([
    ['NaN', NaN],
    ['negative', -4],
    ['fractional', 4.5],
    ['Infinity', Infinity],
    ['beyond 2^53', 2 ** 60],
    ['string', '4'],
    ['boolean', true],
    ['plain object', { flags: 4 }],
    ['array', [4]],
  ])('throws TypeError naming the argument for a %s', (_label, value) => {
    expect(() => normalizeDmaAttrs(value as DmaAttrsInput)).toThrow(TypeError);
    expect(() => normalizeDmaAttrs(value as DmaAttrsInput, 'allocAttrs')).toThrow(/^allocAttrs must be a non-negative integer/);
    expect(() => normalizeDmaAttrs(value as DmaAttrsInput)).toThrow(/^attrs must be/);
  });
});

describe('dmaAttrsToString', () => {
  it('spells known bits in bit order, unknown bits as hex, and no bits as 0', () => {
    expect(dmaAttrsToString(0)).toBe('0');
    expect(dmaAttrsToString(null)).toBe('0');
    expect(dmaAttrsToString(DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_WRITE_COMBINE)).toBe('WRITE_COMBINE|NO_KERNEL_MAPPING');
    expect(dmaAttrsToString(DMA_ATTR_PRIVILEGED | (1 << 20) | (1 << 24))).toBe('PRIVILEGED|0x1100000');
    expect(dmaAttrsToString(2 ** 40)).toBe('0x10000000000');
    expect(dmaAttrsToString(DMA_ATTR_KNOWN_MASK)).toBe(ALL.map(([name]) => name).join('|'));
  });

  it('works on the struct form too', () => {
    const attrs = defineDmaAttrs();
    dmaSetAttr(DMA_ATTR_SKIP_CPU_SYNC, attrs);
    dmaSetAttr(DMA_ATTR_WEAK_ORDERING, attrs);
    expect(dmaAttrsToString(attrs)).toBe('WEAK_ORDERING|SKIP_CPU_SYNC');
    expect(String(attrs)).toBe('WEAK_ORDERING|SKIP_CPU_SYNC');
  });
});
