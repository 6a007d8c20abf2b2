import { beforeEach, describe, expect, it } from '@jest/globals';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import fc from 'fast-check';
import type { Device } from '../device.js';
import type { Machine } from '../machine.js';
import { MAP_ERR_CHECK_NOT_APPLICABLE, makeEntry, type DmaDebugEntry, type DmaDebugRef, type DmaDebugType } from './dma-debug-entry.js';
import { DmaDebugHash, HASH_SIZE, hashFn } from './hash-bucket.js';
import { createTestMachine } from '../test-machine.js';

let machine: Machine;
let dev: Device;
let other: Device;

beforeEach(() => {
  machine = createTestMachine();
  dev = machine.createDevice({ name: 'dev0' });
  other = machine.createDevice({ name: 'dev1' });
});

function ref(devAddr: number, size: number, options: { d?: Device; type?: DmaDebugType; dir?: DmaDataDirection; ents?: number } = {}): DmaDebugRef {
  return {
    dev: options.d ?? dev,
    devAddr,
    size,
    type: options.type ?? 'single',
    direction: options.dir ?? DMA_TO_DEVICE,
    sgCallEnts: options.ents ?? 0,
    paddr: null,
    cpuAddr: null,
  };
}

function entry(r: DmaDebugRef): DmaDebugEntry {
  return makeEntry(r, 0, MAP_ERR_CHECK_NOT_APPLICABLE, 0, null);
}

describe('hashFn', () => {
  it('is (dev_addr >> 13) & 16383 without 32-bit truncation', () => {
    expect(hashFn(0)).toBe(0);
    expect(hashFn(8191)).toBe(0);
    expect(hashFn(8192)).toBe(1);
    expect(hashFn(HASH_SIZE * 8192)).toBe(0);
    expect(hashFn(2 ** 40 + 3 * 8192)).toBe(3);
    expect(hashFn(2 ** 51 + 5 * 8192 + 17)).toBe(5);
  });

  it('puts DMA_MAPPING_ERROR (all ones) in the last bucket', () => {
    expect(hashFn(-1)).toBe(HASH_SIZE - 1);
  });

  it('property: is floor(addr / 8192) mod 16384 for every address below 2^52', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 - 1 }), (addr) => {
        expect(hashFn(addr)).toBe(Math.floor(addr / 8192) % HASH_SIZE);
      }),
      { numRuns: 500 },
    );
    for (const addr of [8191, 8192, 2 ** 52 - 1, 2 ** 52 - 8192, 2 ** 40 - 1]) expect(hashFn(addr)).toBe(Math.floor(addr / 8192) % HASH_SIZE);
  });
});

describe('DmaDebugHash', () => {
  it('finds by exact address and device', () => {
    const hash = new DmaDebugHash();
    const a = entry(ref(0x10000, 64));
    hash.add(a);
    expect(hash.findExact(ref(0x10000, 64))).toBe(a);
    expect(hash.findExact(ref(0x10000, 64, { d: other }))).toBeNull();
    expect(hash.findExact(ref(0x10040, 64))).toBeNull();
    hash.remove(a);
    expect(hash.size).toBe(0);
    expect(hash.findExact(ref(0x10000, 64))).toBeNull();
  });

  it('keeps addresses 2^32 apart distinct although they share a bucket', () => {
    const hash = new DmaDebugHash();
    const low = entry(ref(0x1000, 64));
    const high = entry(ref(2 ** 32 + 0x1000, 64));
    hash.add(low);
    hash.add(high);
    expect(hash.findExact(ref(2 ** 32 + 0x1000, 64))).toBe(high);
    expect(hash.findExact(ref(0x1000, 64))).toBe(low);
  });

  it('best fit: a perfect match wins, one imperfect match is taken, several imperfect ones are ambiguous', () => {
    const hash = new DmaDebugHash();
    const small = entry(ref(0x4000, 64));
    const large = entry(ref(0x4000, 256));
    hash.add(small);
    hash.add(large);
    expect(hash.findExact(ref(0x4000, 256))).toBe(large);
    expect(hash.findExact(ref(0x4000, 64))).toBe(small);
    // Matches neither size: two entries with three points each.
    expect(hash.findExact(ref(0x4000, 128))).toBeNull();
    hash.remove(small);
    expect(hash.findExact(ref(0x4000, 128, { dir: DMA_FROM_DEVICE }))).toBe(large);
  });

  it('scores size, type, direction and sg_call_ents', () => {
    const hash = new DmaDebugHash();
    const sgEntry = entry(ref(0x8000, 4096, { type: 'scather-gather', ents: 3 }));
    const single = entry(ref(0x8000, 4096));
    hash.add(sgEntry);
    hash.add(single);
    expect(hash.findExact(ref(0x8000, 4096, { type: 'scather-gather', ents: 3 }))).toBe(sgEntry);
    expect(hash.findExact(ref(0x8000, 4096))).toBe(single);
  });

  it('finds the containing mapping by walking back over buckets', () => {
    const hash = new DmaDebugHash();
    const big = entry(ref(0x100000, 1 << 20));
    hash.add(big);
    expect(hash.findContain(ref(0x100000 + 900 * 1024, 4096))).toBe(big);
    expect(hash.findContain(ref(0x100000 + (1 << 20) - 64, 128))).toBeNull();
    expect(hash.findStartInside(ref(0x100000 + (1 << 20) - 64, 128))).toBe(big);
    expect(hash.findContain(ref(0x100000 - 64, 64))).toBeNull();
    expect(hash.findContain(ref(-1, 64))).toBeNull();
  });

  it('property: every sub-range of a mapping is found, and nothing outside any mapping', () => {
    fc.assert(
      fc.property(
        // Below 2048 slots (2^32): a slot plus a multiple of 2^32 never lands on another slot.
        fc.uniqueArray(fc.integer({ min: 0, max: 2047 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 2 ** 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (slots, sizeSeed, startFrac, lenFrac) => {
          const hash = new DmaDebugHash();
          // Slots 2 MiB apart (several buckets wide), each mapping up to 1 MiB: no overlaps.
          const entries = slots.map((slot, i) => entry(ref(slot * 2 ** 21 + 2 ** 32 * (i % 3), 1 + ((sizeSeed * (i + 1)) % 2 ** 20))));
          for (const e of entries) hash.add(e);
          for (const e of entries) {
            const start = e.devAddr + Math.floor(startFrac * (e.size - 1));
            const length = Math.max(1, Math.floor(lenFrac * (e.devAddr + e.size - start)));
            expect(hash.findContain(ref(start, length))).toBe(e);
            expect(hash.findContain(ref(e.devAddr + e.size, 1))).toBeNull();
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('removes from the middle of a bucket, keeping the order of the rest; removing twice is a no-op', () => {
    const hash = new DmaDebugHash();
    const [a, b, c] = [0x2000, 0x2040, 0x2080].map((addr) => entry(ref(addr, 64)));
    for (const e of [a, b, c]) hash.add(e as DmaDebugEntry);
    hash.remove(b as DmaDebugEntry);
    hash.remove(b as DmaDebugEntry);
    expect(hash.size).toBe(2);
    const seen: DmaDebugEntry[] = [];
    hash.forEach((e) => seen.push(e));
    expect(seen).toEqual([a, c]);
    expect(hash.findExact(ref(0x2040, 64))).toBeNull();
    hash.remove(c as DmaDebugEntry);
    hash.add(b as DmaDebugEntry);
    seen.length = 0;
    hash.forEach((e) => seen.push(e));
    expect(seen).toEqual([a, b]);
    expect(hash.findExact(ref(0x2040, 64))).toBe(b);
  });

  it('visits entries in bucket order', () => {
    const hash = new DmaDebugHash();
    const later = entry(ref(5 * 8192, 64));
    const earlier = entry(ref(8192, 64));
    hash.add(later);
    hash.add(earlier);
    const seen: DmaDebugEntry[] = [];
    hash.forEach((e) => seen.push(e));
    expect(seen).toEqual([earlier, later]);
  });
});
