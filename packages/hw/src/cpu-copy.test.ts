import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Hardware } from './hardware.js';

const MiB = 2 ** 20;

function reference(bytes: Uint8Array, dst: number, src: number, len: number): void {
  bytes.copyWithin(dst, src, src + len);
}

describe('cpuCopy (memcpy by the CPU)', () => {
  it('moves bytes RAM to RAM across chunks and holes on a coherent machine, as memmove', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        (dst, src, len) => {
          const hw = new Hardware({ memoryRegions: [{ base: 0, size: MiB }] });
          const model = new Uint8Array(MiB);
          // Some chunks written, some left untouched (zero, unallocated).
          const seed = new Uint8Array(150_000).map((_, i) => (i * 13 + 7) & 0xff);
          hw.cpuWrite(64 * 1024, seed, 'normal');
          model.set(seed, 64 * 1024);
          hw.cpuCopy(dst, src, len, 'normal');
          reference(model, dst, src, len);
          // Buffer.compare: toEqual walks typed arrays element by element.
          expect(Buffer.compare(hw.cpuRead(0, 600_000, 'normal'), model.subarray(0, 600_000))).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('goes through the cache on a non-coherent machine: the device sees the copy only after a clean', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: MiB }], cacheModel: true });
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 32, coherent: false });
    hw.cpuWrite(0x1000, new Uint8Array([1, 2, 3, 4]), 'normal');
    hw.cpuCopy(0x8000, 0x1000, 4, 'normal');
    expect(dev.dmaRead(0x8000, 4)).toEqual(new Uint8Array(4));
    hw.cacheClean(0x8000, 64);
    expect(dev.dmaRead(0x8000, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  it('is seen by observers as a read and a write, and checks its arguments', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: MiB }] });
    const seen: string[] = [];
    hw.observe((e) => seen.push(`${e.write ? 'w' : 'r'}:${e.paddr.toString(16)}+${e.length}`));
    hw.cpuCopy(0x2000, 0x1000, 16, 'normal');
    expect(seen).toEqual(['r:1000+16', 'w:2000+16']);
    expect(() => hw.cpuCopy(2 * MiB, 0, 16, 'normal')).toThrow(/dstPaddr/);
    expect(() => hw.cpuCopy(0, 0, -1, 'normal')).toThrow(/length/);
  });
});
