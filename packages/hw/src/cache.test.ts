import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Cache } from './cache.js';
import { GiB, expectBytes, machine, pattern } from './test-machine.js';

const HI = 4 * GiB + 0x1000; // a buffer above 4 GiB, line-aligned

function nonCoherent() {
  const hw = machine({ cacheModel: true });
  const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
  return { hw, dev };
}

describe('write-back cache on a non-coherent machine', () => {
  it('lets a device read stale bytes after a CPU write until the range is cleaned', () => {
    const { hw, dev } = nonCoherent();
    const data = pattern(256);
    hw.cpuWrite(HI, data, 'normal');
    expect(hw.cpuRead(HI, 256, 'normal')).toEqual(data);
    expect(dev.dmaRead(HI, 256)).toEqual(new Uint8Array(256));
    hw.cacheClean(HI, 256);
    expect(dev.dmaRead(HI, 256)).toEqual(data);
    expect(hw.cache?.lineState(HI)).toBe('clean');
    expect(hw.counters.linesWrittenBack).toBe(4);
    expect(hw.counters.cacheCleans).toBe(1);
  });

  it('lets the CPU read stale bytes after a device write until it invalidates', () => {
    const { hw, dev } = nonCoherent();
    expect(hw.cpuRead(HI, 128, 'normal')).toEqual(new Uint8Array(128)); // the lines are now cached
    const data = pattern(128, 50);
    dev.dmaWrite(HI, data);
    expect(hw.cpuRead(HI, 128, 'normal')).toEqual(new Uint8Array(128));
    hw.cacheInvalidate(HI, 128);
    expect(hw.cpuRead(HI, 128, 'normal')).toEqual(data);
    expect(hw.counters.cacheInvalidates).toBe(1);
  });

  it('loses the CPU’s data when a dirty line is invalidated', () => {
    const { hw } = nonCoherent();
    hw.cpuWrite(HI, pattern(64), 'normal');
    hw.cacheInvalidate(HI, 64);
    expect(hw.cpuRead(HI, 64, 'normal')).toEqual(new Uint8Array(64));
    expect(hw.ram.read(HI, 64)).toEqual(new Uint8Array(64));
    expect(hw.cache?.lineState(HI)).toBe('clean'); // re-filled by the read
  });

  it('corrupts a neighbour sharing the cache line when one buffer is invalidated', () => {
    const { hw, dev } = nonCoherent();
    const rx = HI; // a 32-byte DMA buffer ...
    const neighbour = HI + 32; // ... and a CPU structure in the same 64-byte line
    hw.cpuWrite(neighbour, pattern(32, 100), 'normal');
    dev.dmaWrite(rx, pattern(32, 7));
    hw.cacheInvalidate(rx, 32); // dma_unmap(DMA_FROM_DEVICE) of the rx buffer
    expect(hw.cpuRead(rx, 32, 'normal')).toEqual(pattern(32, 7));
    expect(hw.cpuRead(neighbour, 32, 'normal')).toEqual(new Uint8Array(32)); // the CPU's update is gone
  });

  it('overwrites device data with a neighbour’s stale bytes when a shared line is cleaned', () => {
    const { hw, dev } = nonCoherent();
    hw.cpuWrite(HI, pattern(32, 1), 'normal'); // dirty line covering both buffers
    dev.dmaWrite(HI + 32, pattern(32, 200)); // the device fills the second half
    hw.cacheClean(HI, 32); // cleaning the first buffer writes back the whole line
    expect(dev.dmaRead(HI + 32, 32)).toEqual(new Uint8Array(32));
  });

  it('lets a coherent device see dirty lines, and the CPU see its writes', () => {
    const hw = machine({ cacheModel: true });
    const dev = hw.createBusMaster({ name: 'snoop', addressBits: 64, coherent: true });
    const data = pattern(200);
    hw.cpuWrite(HI, data, 'normal');
    expect(dev.dmaRead(HI, 200)).toEqual(data);
    expect(dev.dmaRead(HI + 10, 20)).toEqual(data.subarray(10, 30));
    // A write into the middle of the CPU's dirty lines keeps the CPU's bytes around it.
    dev.dmaWrite(HI + 40, pattern(60, 222));
    const expected = data.slice();
    expected.set(pattern(60, 222), 40);
    expect(hw.cpuRead(HI, 200, 'normal')).toEqual(expected);
    expect(hw.ram.read(HI, 128)).toEqual(expected.subarray(0, 128)); // edge lines written back
    expect(hw.counters.linesWrittenBack).toBe(2);
  });

  it('lets a dirty line overwrite an uncached write when it is written back later', () => {
    const { hw, dev } = nonCoherent();
    hw.cpuWrite(HI, pattern(64, 1), 'normal'); // e.g. a memset through the linear map
    hw.cpuWrite(HI, pattern(64, 90), 'uncached'); // then the uncached alias is used
    expect(hw.cpuRead(HI, 64, 'uncached')).toEqual(pattern(64, 90)); // uncached reads skip the cache
    expect(hw.cpuRead(HI, 64, 'normal')).toEqual(pattern(64, 1));
    expect(dev.dmaRead(HI, 64)).toEqual(pattern(64, 90));
    hw.cacheClean(HI, 64); // any later writeback ...
    expect(dev.dmaRead(HI, 64)).toEqual(pattern(64, 1)); // ... destroys the uncached data
  });

  it('is invisible on a machine without a cache model', () => {
    const hw = machine({ cacheModel: false });
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    expect(hw.cache).toBeNull();
    hw.cpuWrite(HI, pattern(64), 'normal');
    expect(dev.dmaRead(HI, 64)).toEqual(pattern(64));
    dev.dmaWrite(HI, pattern(64, 9));
    expect(hw.cpuRead(HI, 64, 'normal')).toEqual(pattern(64, 9));
    hw.cacheFlush(HI, 64);
    expect(hw.counters.cacheFlushes).toBe(1);
  });

  it('flushes: writes back, then drops', () => {
    const { hw, dev } = nonCoherent();
    hw.cpuWrite(HI + 3, pattern(100), 'normal');
    hw.cacheFlush(HI, 128);
    expect(dev.dmaRead(HI + 3, 100)).toEqual(pattern(100));
    expect(hw.cache?.countLines()).toEqual({ valid: 0, dirty: 0 });
    dev.dmaWrite(HI, pattern(8, 77));
    expect(hw.cpuRead(HI, 8, 'normal')).toEqual(pattern(8, 77));
  });

  it('reads RAM’s bytes into clean lines, and again after a write-back and an invalidate', () => {
    const { hw, dev } = nonCoherent();
    hw.ram.write(HI, pattern(200, 3));
    expect(hw.cpuRead(HI + 5, 150, 'normal')).toEqual(pattern(150, 8));
    expect(hw.cache?.lineState(HI)).toBe('clean');
    expect(hw.counters.linesFilled).toBe(3);
    hw.cpuWrite(HI + 64, pattern(64, 40), 'normal'); // a dirty line between two clean ones
    const expected = pattern(200, 3);
    expected.set(pattern(64, 40), 64);
    expect(hw.cpuRead(HI, 200, 'normal')).toEqual(expected);
    hw.cacheClean(HI, 200);
    dev.dmaWrite(HI + 150, pattern(50, 90)); // behind the clean lines
    expect(hw.cpuRead(HI, 200, 'normal')).toEqual(expected);
    hw.cacheInvalidate(HI, 200);
    expected.set(pattern(50, 90), 150);
    expect(hw.cpuRead(HI, 200, 'normal')).toEqual(expected);
  });

  const writesBehindTheCache: [string, (hw: ReturnType<typeof machine>, paddr: number, bytes: Uint8Array) => void][] = [
    ['a device write', (hw, paddr, bytes) => hw.createBusMaster({ name: 'd', addressBits: 64, coherent: false }).dmaWrite(paddr, bytes)],
    ['an uncached store', (hw, paddr, bytes) => hw.cpuWrite(paddr, bytes, 'uncached')],
    ['an uncached memset', (hw, paddr, bytes) => hw.cpuFill(paddr, bytes.length, bytes[0]!, 'uncached')],
    ['a write-combined store and wmb', (hw, paddr, bytes) => (hw.cpuWrite(paddr, bytes, 'wc'), hw.wmb())],
    ['an uncached memcpy', (hw, paddr, bytes) => (hw.ram.write(HI + 0x8000, bytes), hw.cpuCopy(paddr, HI + 0x8000, bytes.length, 'uncached'))],
    ['PhysicalMemory.write', (hw, paddr, bytes) => hw.ram.write(paddr, bytes)],
    ['PhysicalMemory.fill', (hw, paddr, bytes) => hw.ram.fill(paddr, bytes.length, bytes[0]!)],
  ];

  it.each(writesBehindTheCache)('keeps a clean line’s old bytes after %s until it is invalidated', (_name, writeRam) => {
    const hw = machine({ cacheModel: true });
    hw.ram.write(HI, pattern(256, 1));
    hw.cpuRead(HI, 256, 'normal'); // four clean lines
    const bytes = new Uint8Array(100).fill(0xee);
    writeRam(hw, HI + 30, bytes); // partly covers the first and last lines it touches
    expect(hw.ram.read(HI + 30, 100)).toEqual(bytes);
    expect(hw.cpuRead(HI, 256, 'normal')).toEqual(pattern(256, 1));
    expect(hw.cache?.lineState(HI + 64)).toBe('clean');
    hw.cacheInvalidate(HI, 256);
    const expected = pattern(256, 1);
    expected.set(bytes, 30);
    expect(hw.cpuRead(HI, 256, 'normal')).toEqual(expected);
  });

  it('writes a clean line’s stale bytes back over a device write once the CPU dirties the line', () => {
    const { hw, dev } = nonCoherent();
    hw.cpuRead(HI, 64, 'normal'); // clean: zeros
    dev.dmaWrite(HI + 32, pattern(32, 200)); // the device fills the second half behind it
    hw.cpuWrite(HI, pattern(32, 1), 'normal'); // the CPU writes the first half
    hw.cacheClean(HI, 32); // the whole line goes back, stale second half included
    const expected = new Uint8Array(64);
    expected.set(pattern(32, 1));
    expect(dev.dmaRead(HI, 64)).toEqual(expected);
  });

  it('allows one cache per memory', () => {
    const hw = machine({ cacheModel: true });
    expect(() => new Cache(hw.ram, { lineSize: 64 }, hw.random, hw.counters)).toThrow(/already has a write watcher/);
  });

  it('names bad maintenance arguments', () => {
    const { hw } = nonCoherent();
    expect(() => hw.cacheClean(-64, 64)).toThrow(/paddr/);
    expect(() => hw.cacheInvalidate(HI, 0.5)).toThrow(/size/);
    expect(() => hw.cacheFlush(2 * GiB, 64)).toThrow(/paddr .* not RAM/);
  });
});

describe('cache model against a reference', () => {
  type Op = { kind: string; p: number; n: number; seed: number };
  const SIZE = 2 * 4096;
  const KINDS = [
    'read', 'write', 'fill', 'clean', 'inv', 'flush', 'devRead', 'devWrite', 'snoopRead', 'snoopWrite', 'ucRead', 'ucWrite',
    'wcWrite', 'ramWrite', 'ramFill', 'ucCopy', 'copy', 'writeWords', 'cleanWords', 'invWords', 'flushWords',
  ];

  /** A plain line-by-line model: Map order is LRU order (first = least recent). */
  class Reference {
    readonly mem = new Uint8Array(SIZE);
    readonly lines = new Map<number, { dirty: boolean; data: Uint8Array }>();
    constructor(
      readonly L: number,
      readonly capacity: number,
    ) {}
    private range(p: number, n: number): number[] {
      const out: number[] = [];
      for (let l = Math.floor(p / this.L); l * this.L < p + n; l++) out.push(l);
      return out;
    }
    private get(l: number) {
      let line = this.lines.get(l);
      if (line === undefined) line = { dirty: false, data: this.mem.slice(l * this.L, (l + 1) * this.L) };
      this.lines.delete(l);
      this.lines.set(l, line);
      return line;
    }
    private writeBack(l: number): void {
      const line = this.lines.get(l);
      if (line?.dirty) {
        this.mem.set(line.data, l * this.L);
        line.dirty = false;
      }
    }
    private evict(): void {
      if (this.capacity === 0) return;
      while (this.lines.size > this.capacity) {
        const l = this.lines.keys().next().value as number;
        this.writeBack(l);
        this.lines.delete(l);
      }
    }
    read(p: number, n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (const l of this.range(p, n)) {
        const line = this.get(l);
        for (let a = Math.max(p, l * this.L); a < Math.min(p + n, (l + 1) * this.L); a++) out[a - p] = line.data[a - l * this.L]!;
      }
      this.evict();
      return out;
    }
    write(p: number, bytes: Uint8Array): void {
      for (const l of this.range(p, bytes.length)) {
        const line = this.get(l);
        for (let a = Math.max(p, l * this.L); a < Math.min(p + bytes.length, (l + 1) * this.L); a++) line.data[a - l * this.L] = bytes[a - p]!;
        line.dirty = true;
      }
      this.evict();
    }
    clean(p: number, n: number): void {
      for (const l of this.range(p, n)) this.writeBack(l);
    }
    inv(p: number, n: number): void {
      for (const l of this.range(p, n)) this.lines.delete(l);
    }
    snoopRead(p: number, n: number): Uint8Array {
      const out = this.mem.slice(p, p + n);
      for (const l of this.range(p, n)) {
        const line = this.lines.get(l);
        if (!line?.dirty) continue;
        for (let a = Math.max(p, l * this.L); a < Math.min(p + n, (l + 1) * this.L); a++) out[a - p] = line.data[a - l * this.L]!;
      }
      return out;
    }
    snoopWrite(p: number, bytes: Uint8Array): void {
      for (const l of this.range(p, bytes.length)) this.writeBack(l);
      this.inv(p, bytes.length);
      this.mem.set(bytes, p);
    }
  }

  const op = fc.record({
    kind: fc.constantFrom(...KINDS),
    p: fc.integer({ min: 0, max: SIZE - 1 }),
    n: fc.integer({ min: 1, max: 300 }),
    seed: fc.integer({ min: 0, max: 255 }),
  });

  it.each([
    [64, 0],
    [32, 0],
    [64, 6],
    [16, 40],
  ])('matches a line-by-line model (line %i bytes, capacity %i)', (L: number, capacity: number) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.array(op, { minLength: 5, maxLength: 60 }), (init, ops: Op[]) => {
        const hw = machine({
          memoryRegions: [{ base: 0x10000, size: SIZE }],
          cacheModel: true,
          cacheLineSize: L,
          chunkSize: 4096,
          cache: { capacity, eviction: 'lru' },
        });
        const plain = hw.createBusMaster({ name: 'plain', addressBits: 64, coherent: false, dmaOffset: 0x10000 });
        const snoop = hw.createBusMaster({ name: 'snoop', addressBits: 64, coherent: true, dmaOffset: 0x10000 });
        const ref = new Reference(L, capacity);
        // Memory starts non-zero so that a line filled from the wrong place shows.
        ref.mem.set(pattern(SIZE, init));
        hw.ram.write(0x10000, ref.mem);
        for (const { kind, p, n: rawN, seed } of ops) {
          const n = Math.min(rawN, SIZE - p);
          const pa = 0x10000 + p;
          const bytes = pattern(n, seed);
          switch (kind) {
            case 'read':
              expectBytes(hw.cpuRead(pa, n, 'normal'), ref.read(p, n));
              break;
            case 'write':
              hw.cpuWrite(pa, bytes, 'normal');
              ref.write(p, bytes);
              break;
            case 'fill':
              hw.cpuFill(pa, n, seed, 'normal');
              ref.write(p, new Uint8Array(n).fill(seed));
              break;
            case 'clean':
              hw.cacheClean(pa, n);
              ref.clean(p, n);
              break;
            case 'inv':
              hw.cacheInvalidate(pa, n);
              ref.inv(p, n);
              break;
            case 'flush':
              hw.cacheFlush(pa, n);
              ref.clean(p, n);
              ref.inv(p, n);
              break;
            // Ranges of whole bitmap words (32 lines: a page-aligned page and more), as DMA maps
            // and unmaps of pages make them.
            case 'writeWords':
            case 'cleanWords':
            case 'invWords':
            case 'flushWords': {
              const W = 32 * L;
              const a = Math.floor(p / W) * W;
              const m = Math.min(SIZE - a, W * (1 + (seed % 2)));
              if (kind === 'writeWords') {
                hw.cpuWrite(0x10000 + a, pattern(m, seed), 'normal');
                ref.write(a, pattern(m, seed));
              } else if (kind === 'cleanWords') {
                hw.cacheClean(0x10000 + a, m);
                ref.clean(a, m);
              } else {
                if (kind === 'flushWords') hw.cacheFlush(0x10000 + a, m);
                else hw.cacheInvalidate(0x10000 + a, m);
                if (kind === 'flushWords') ref.clean(a, m);
                ref.inv(a, m);
              }
              break;
            }
            case 'devRead':
            case 'ucRead':
              expectBytes(kind === 'devRead' ? plain.dmaRead(p, n) : hw.cpuRead(pa, n, 'uncached'), ref.mem.slice(p, p + n));
              break;
            case 'devWrite':
            case 'ucWrite':
              if (kind === 'devWrite') plain.dmaWrite(p, bytes);
              else hw.cpuWrite(pa, bytes, 'uncached');
              ref.mem.set(bytes, p);
              break;
            case 'snoopRead':
              expectBytes(snoop.dmaRead(p, n), ref.snoopRead(p, n));
              break;
            case 'snoopWrite':
              snoop.dmaWrite(p, bytes);
              ref.snoopWrite(p, bytes);
              break;
            // Every other way RAM changes behind the cache: the lines it holds keep their bytes.
            case 'wcWrite':
              hw.cpuWrite(pa, bytes, 'wc');
              hw.wmb();
              ref.mem.set(bytes, p);
              break;
            case 'ramWrite':
              hw.ram.write(pa, bytes);
              ref.mem.set(bytes, p);
              break;
            case 'ramFill':
              hw.ram.fill(pa, n, seed);
              ref.mem.fill(seed, p, p + n);
              break;
            case 'ucCopy':
            case 'copy': {
              const dst = (p + seed * 37) % (SIZE - n + 1);
              hw.cpuCopy(0x10000 + dst, pa, n, kind === 'copy' ? 'normal' : 'uncached');
              if (kind === 'copy') ref.write(dst, ref.read(p, n));
              else ref.mem.copyWithin(dst, p, p + n);
              break;
            }
          }
        }
        expectBytes(hw.ram.read(0x10000, SIZE), ref.mem);
        const counts = hw.cache!.countLines();
        expect(counts.valid).toBe(ref.lines.size);
        expect(counts.dirty).toBe([...ref.lines.values()].filter((l) => l.dirty).length);
        for (let l = 0; l < SIZE / L; l++) {
          const line = ref.lines.get(l);
          expect(hw.cache!.lineState(0x10000 + l * L)).toBe(line === undefined ? 'invalid' : line.dirty ? 'dirty' : 'clean');
        }
        if (capacity === 0) expectBytes(hw.cpuRead(0x10000, SIZE, 'normal'), ref.read(0, SIZE));
      }),
      { numRuns: 150 },
    );
  });
});
