import { describe, expect, it } from '@jest/globals';
import type { Hardware } from './hardware.js';
import { GiB, machine, pattern } from './test-machine.js';

const BUF = 4 * GiB; // the CPU's dirty line
const OTHER = 4 * GiB + 0x10000; // unrelated memory the CPU walks through

/**
 * Dirties one line, then reads unrelated lines one by one until the dirty line reaches memory;
 * returns how many reads that took (or -1).
 */
function writebackPoint(hw: Hardware): number {
  const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
  hw.cpuWrite(BUF, pattern(64), 'normal');
  for (let i = 0; i < 200; i++) {
    hw.cpuRead(OTHER + i * 64, 1, 'normal');
    if (dev.dmaRead(BUF, 1)[0] === 1) return i + 1;
  }
  return -1;
}

describe('cache capacity and eviction', () => {
  it('evicts the least recently used line first, writing it back', () => {
    const hw = machine({ cacheModel: true, cache: { capacity: 4 } });
    expect(writebackPoint(hw)).toBe(4); // the 4th new line pushes out the dirty one
    expect(hw.counters.linesEvicted).toBe(1);
    expect(hw.counters.linesWrittenBack).toBe(1);
    expect(hw.cache?.countLines()).toEqual({ valid: 4, dirty: 0 });
  });

  it('keeps a recently used line under LRU', () => {
    const hw = machine({ cacheModel: true, cache: { capacity: 2 } });
    hw.cpuWrite(BUF, pattern(64), 'normal');
    hw.cpuRead(OTHER, 1, 'normal');
    hw.cpuRead(BUF, 1, 'normal'); // touch: now OTHER is least recent
    hw.cpuRead(OTHER + 64, 1, 'normal');
    expect(hw.cache?.lineState(BUF)).toBe('dirty');
    expect(hw.cache?.lineState(OTHER)).toBe('invalid');
  });

  it('evicts at random at a point the seed reproduces', () => {
    const point = (seed: number): number => writebackPoint(machine({ seed, cacheModel: true, cache: { capacity: 8, eviction: 'random' } }));
    const points = [1, 2, 3, 4, 5, 6].map(point);
    expect(points.every((p) => p > 0)).toBe(true);
    expect([1, 2, 3, 4, 5, 6].map(point)).toEqual(points); // same seed, same point
    expect(new Set(points).size).toBeGreaterThan(1); // another seed, another point
  });

  it('never holds more lines than its capacity, even for a big access', () => {
    const hw = machine({ cacheModel: true, cache: { capacity: 16 } });
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    hw.cpuWrite(BUF, pattern(4096), 'normal');
    expect(hw.cache?.countLines()).toEqual({ valid: 16, dirty: 16 });
    // Everything but the last 16 lines went out in order.
    expect(dev.dmaRead(BUF, 4096 - 1024)).toEqual(pattern(4096 - 1024));
    expect(dev.dmaRead(BUF + 3072, 1024)).toEqual(new Uint8Array(1024));
    expect(hw.counters.linesEvicted).toBe(48);
  });

  it('rejects bad cache options by name', () => {
    expect(() => machine({ cacheModel: true, cache: { capacity: -1 } })).toThrow(/cache\.capacity/);
    expect(() => machine({ cacheModel: true, cache: { eviction: 'fifo' as never } })).toThrow(/cache\.eviction/);
    expect(() => machine({ cacheModel: true, cache: { prefetch: 1.5 } })).toThrow(/cache\.prefetch/);
    expect(() => machine({ cacheModel: true, cache: { prefetchLines: 0 } })).toThrow(/cache\.prefetchLines/);
    expect(() => machine({ cacheLineSize: 48 })).toThrow(/cacheLineSize/);
    expect(() => machine({ cacheLineSize: 512 })).toThrow(/cacheLineSize/);
  });
});

describe('speculative prefetch', () => {
  it('fills the next lines, so a missing invalidate shows even if the CPU never read the buffer', () => {
    const hw = machine({ cacheModel: true, cache: { prefetch: 1, prefetchLines: 4 } });
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    const header = 4 * GiB + 0x2000;
    const rxBuffer = header + 64; // the DMA buffer right after a structure the CPU uses
    hw.cpuRead(header, 16, 'normal'); // the prefetcher pulls in rxBuffer's first lines
    expect(hw.cache?.lineState(rxBuffer)).toBe('clean');
    expect(hw.cache?.lineState(rxBuffer + 4 * 64)).toBe('invalid');
    dev.dmaWrite(rxBuffer, pattern(256, 3));
    // The driver "forgot" dma_sync_single_for_cpu: it reads the prefetched, stale line.
    expect(hw.cpuRead(rxBuffer, 64, 'normal')).toEqual(new Uint8Array(64));
    hw.cacheInvalidate(rxBuffer, 256);
    expect(hw.cpuRead(rxBuffer, 256, 'normal')).toEqual(pattern(256, 3));
  });

  it('does not prefetch when the probability is 0', () => {
    const hw = machine({ cacheModel: true });
    hw.cpuRead(4 * GiB, 16, 'normal');
    expect(hw.cache?.lineState(4 * GiB + 64)).toBe('invalid');
    expect(hw.counters.linesFilled).toBe(1);
  });

  it('prefetches with a seeded probability', () => {
    const fills = (seed: number): number => {
      const hw = machine({ seed, cacheModel: true, cache: { prefetch: 0.3, prefetchLines: 1 } });
      for (let i = 0; i < 200; i++) hw.cpuRead(4 * GiB + i * 4096, 1, 'normal');
      return hw.counters.linesFilled - 200;
    };
    const a = fills(7);
    expect(a).toBe(fills(7));
    expect(a).toBeGreaterThan(30);
    expect(a).toBeLessThan(100);
    expect([8, 9, 10].map(fills)).not.toEqual([a, a, a]);
  });

  it('stays inside RAM at the end of a region', () => {
    const hw = machine({ cacheModel: true, cache: { prefetch: 1 } });
    hw.cpuRead(2 ** 20 - 64, 64, 'normal'); // the last line of the first region
    expect(hw.counters.linesFilled).toBe(1);
  });

  it('is maintained through the cache object as through the machine', () => {
    const hw = machine({ cacheModel: true });
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    hw.cpuWrite(4 * GiB, pattern(64), 'normal');
    hw.cache!.clean(4 * GiB, 64);
    expect(dev.dmaRead(4 * GiB, 64)).toEqual(pattern(64));
    dev.dmaWrite(4 * GiB, pattern(64, 9));
    hw.cache!.flush(4 * GiB, 1);
    expect(hw.cpuRead(4 * GiB, 64, 'normal')).toEqual(pattern(64, 9));
    hw.cpuWrite(4 * GiB, pattern(64), 'normal');
    hw.cache!.invalidate(4 * GiB, 1);
    expect(hw.cpuRead(4 * GiB, 64, 'normal')).toEqual(pattern(64, 9));
    expect([hw.counters.cacheCleans, hw.counters.cacheFlushes, hw.counters.cacheInvalidates]).toEqual([1, 1, 1]);
    expect(() => hw.cache!.clean(-1, 1)).toThrow(/paddr/);
  });

  it('works with a capacity', () => {
    const hw = machine({ cacheModel: true, cache: { prefetch: 1, prefetchLines: 8, capacity: 4 } });
    hw.cpuRead(4 * GiB, 64, 'normal');
    expect(hw.cache?.countLines().valid).toBe(4);
  });
});
