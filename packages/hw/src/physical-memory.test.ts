import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_RAM_BYTES, PhysicalMemory } from './physical-memory.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('PhysicalMemory', () => {
  it('reads zeros from untouched memory without allocating', () => {
    const ram = new PhysicalMemory([{ base: 0, size: 16 * MiB }]);
    expect(ram.read(0x123000, 100)).toEqual(new Uint8Array(100));
    ram.fill(0x200000, 5 * MiB, 0);
    expect(ram.allocatedBytes).toBe(0);
  });

  it('allocates a chunk on first write only where written', () => {
    const ram = new PhysicalMemory([{ base: 0, size: 16 * MiB }], { chunkSize: 4096 });
    ram.write(0x5001, new Uint8Array([7]));
    expect(ram.allocatedBytes).toBe(4096);
    ram.write(0x5ff0, new Uint8Array([8]));
    expect(ram.allocatedBytes).toBe(4096);
    // A write across a chunk boundary takes both chunks.
    ram.write(0x6ffe, new Uint8Array([1, 2, 3, 4]));
    expect(ram.allocatedBytes).toBe(3 * 4096);
    expect(ram.read(0x6ffe, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(ram.read(0x5000, 2)).toEqual(new Uint8Array([0, 7]));
  });

  it('keeps data above 4 GiB and across adjacent regions', () => {
    const ram = new PhysicalMemory([
      { base: 4 * GiB + 1 * MiB, size: 1 * MiB },
      { base: 0, size: 1 * MiB },
      { base: 4 * GiB, size: 1 * MiB },
    ]);
    expect(ram.regions.map((r) => r.base)).toEqual([0, 4 * GiB, 4 * GiB + MiB]);
    expect(ram.totalBytes).toBe(3 * MiB);
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
    const at = 4 * GiB + MiB - 100_000; // crosses from one region into the adjacent one
    ram.write(at, bytes);
    expect(ram.read(at, bytes.length)).toEqual(bytes);
    expect(ram.read(at - 1, 1)).toEqual(new Uint8Array(1));
    expect(ram.isRam(at, bytes.length)).toBe(true);
    // The first byte of the second GiB region is not the first byte of RAM.
    expect(ram.read(0, 4)).toEqual(new Uint8Array(4));
  });

  it('throws a RangeError naming the argument for holes and for the end of memory', () => {
    const ram = new PhysicalMemory([
      { base: 0, size: MiB },
      { base: 4 * GiB, size: MiB },
    ]);
    expect(ram.isRam(MiB - 4, 8)).toBe(false);
    expect(ram.isRam(2 * GiB, 1)).toBe(false);
    expect(() => ram.read(MiB - 4, 8)).toThrow(RangeError);
    expect(() => ram.read(MiB - 4, 8)).toThrow(/paddr/);
    expect(() => ram.write(4 * GiB + MiB - 1, new Uint8Array(2))).toThrow(/paddr .* not RAM/);
    expect(() => ram.fill(2 * GiB, 1, 0)).toThrow(RangeError);
    expect(ram.allocatedBytes).toBe(0);
  });

  it('copies windows of the caller arrays', () => {
    const ram = new PhysicalMemory([{ base: 0, size: MiB }]);
    ram.write(0x100, new Uint8Array([9, 1, 2, 3, 9]), 1, 3);
    const target = new Uint8Array(6).fill(0xee);
    ram.readInto(0xff, target, 1, 4);
    expect(target).toEqual(new Uint8Array([0xee, 0, 1, 2, 3, 0xee]));
    ram.fill(0x101, 2, 0x55);
    expect(ram.read(0x100, 4)).toEqual(new Uint8Array([1, 0x55, 0x55, 0]));
  });

  it('builds a 64 GiB machine with holes without allocating its bytes', () => {
    const ram = new PhysicalMemory([
      { base: 0, size: 3 * GiB },
      { base: 4 * GiB, size: 61 * GiB },
    ]);
    expect(ram.totalBytes).toBe(MAX_RAM_BYTES);
    const top = 65 * GiB - 2;
    ram.write(top, new Uint8Array([0xab, 0xcd]));
    expect(ram.read(top, 2)).toEqual(new Uint8Array([0xab, 0xcd]));
    expect(ram.allocatedBytes).toBe(64 * 1024);
    expect(() => ram.read(top, 3)).toThrow(RangeError);
  });

  it('rejects more than 64 GiB and malformed regions', () => {
    expect(() => new PhysicalMemory([{ base: 0, size: 64 * GiB + 4096 }])).toThrow(/64 GiB/);
    expect(() => new PhysicalMemory([])).toThrow(RangeError);
    expect(() => new PhysicalMemory([{ base: 0, size: MiB }, { base: MiB - 4096, size: MiB }])).toThrow(/overlap/);
    expect(() => new PhysicalMemory([{ base: 100, size: MiB }])).toThrow(/regions\[0\]\.base/);
    expect(() => new PhysicalMemory([{ base: 0, size: 1000 }])).toThrow(/regions\[0\]\.size/);
    expect(() => new PhysicalMemory([{ base: 2 ** 52 - 4096, size: 8192 }])).toThrow(/52-bit/);
    expect(() => new PhysicalMemory([{ base: 0, size: MiB }], { chunkSize: 5000 })).toThrow(/chunkSize/);
    expect(() => new PhysicalMemory('lots' as never)).toThrow(TypeError);
  });

  it('rejects bad access arguments by name', () => {
    const ram = new PhysicalMemory([{ base: 0, size: MiB }]);
    expect(() => ram.read(-1, 1)).toThrow(/paddr/);
    expect(() => ram.read(0, 1.5)).toThrow(/length/);
    expect(() => ram.write(0, [1] as never)).toThrow(/bytes/);
    expect(() => ram.readInto(0, new Uint8Array(2), 3)).toThrow(/offset/);
    expect(() => ram.write(0, new Uint8Array(2), 1, 2)).toThrow(/length/);
    expect(() => ram.fill(0, 1, 256)).toThrow(/value/);
  });

  it('copyAt moves bytes as memmove does, overlapping or not, within a chunk and across chunks', () => {
    const size = 4 * 4096;
    fc.assert(
      fc.property(fc.nat(size - 1), fc.nat(size - 1), fc.nat(3 * 4096), (src, dst, wanted) => {
        const len = Math.min(wanted, size - src, size - dst);
        const ram = new PhysicalMemory([{ base: 0, size }], { chunkSize: 4096 });
        const model = new Uint8Array(size).map((_, i) => (i * 7 + 3) % 251);
        ram.write(0, model);
        ram.copyAt(dst, src, len);
        model.copyWithin(dst, src, src + len);
        expect(ram.read(0, size)).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});
