import { describe, expect, it } from '@jest/globals';
import { Hardware } from './hardware.js';
import type { AccessEvent } from './observers.js';
import { GiB, MiB, machine, pattern } from './test-machine.js';

describe('Hardware', () => {
  it('builds a machine with defaults', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 64 * MiB }] });
    expect(hw.cache).toBeNull();
    expect(hw.cacheLineSize).toBe(64);
    expect(hw.cpus.map((c) => c.id)).toEqual([0, 1]);
    expect(hw.cpus[0]!.wcBuffer.entries).toBe(8);
    expect(hw.cpus[0]!.wcBuffer.entrySize).toBe(64);
    expect(hw.currentCpu.id).toBe(0);
    expect(hw.clock.now()).toBe(0);
    expect(Object.values(hw.counters).every((v) => v === 0)).toBe(true);
    expect(hw.ram.totalBytes).toBe(64 * MiB);
  });

  it('builds a 64 GiB machine and refuses more', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 2 * GiB }, { base: 4 * GiB, size: 62 * GiB }], cacheModel: true });
    hw.cpuWrite(66 * GiB - 8, pattern(8), 'normal');
    hw.cacheFlush(66 * GiB - 8, 8);
    expect(hw.ram.read(66 * GiB - 8, 8)).toEqual(pattern(8));
    expect(() => new Hardware({ memoryRegions: [{ base: 0, size: 65 * GiB }] })).toThrow(RangeError);
  });

  it('runs code on another CPU, nesting and restoring on throw', () => {
    const hw = machine({ cpus: 4 });
    expect(hw.runOn(2, () => hw.currentCpu.id)).toBe(2);
    const seen = hw.runOn(1, () => [hw.currentCpu.id, hw.runOn(3, () => hw.currentCpu.id), hw.currentCpu.id]);
    expect(seen).toEqual([1, 3, 1]);
    expect(() =>
      hw.runOn(3, () => {
        throw new Error('oops');
      }),
    ).toThrow('oops');
    expect(hw.currentCpu.id).toBe(0);
    expect(() => hw.runOn(4, () => 0)).toThrow(/cpuId/);
    expect(() => hw.runOn(0, 'f' as never)).toThrow(/fn/);
  });

  it('reports CPU and device accesses to observers, and stops after unsubscribe', () => {
    const hw = machine({ cacheModel: true });
    const dev = hw.createBusMaster({ name: 'dma0', addressBits: 64, coherent: false });
    const events: AccessEvent[] = [];
    const off = hw.observe((e) => events.push(e));
    hw.runOn(1, () => hw.cpuWrite(4 * GiB, pattern(10), 'wc'));
    hw.cpuRead(4 * GiB + 5, 3, 'normal');
    hw.cpuFill(0x100, 4, 0, 'uncached');
    dev.dmaRead(4 * GiB, 16);
    expect(events).toEqual([
      { source: 'cpu', write: true, paddr: 4 * GiB, length: 10, device: null, cpu: 1, memoryType: 'wc' },
      { source: 'cpu', write: false, paddr: 4 * GiB + 5, length: 3, device: null, cpu: 0, memoryType: 'normal' },
      { source: 'cpu', write: true, paddr: 0x100, length: 4, device: null, cpu: 0, memoryType: 'uncached' },
      { source: 'device', write: false, paddr: 4 * GiB, length: 16, device: 'dma0', cpu: -1, memoryType: null },
    ]);
    off();
    off();
    hw.cpuRead(0, 1, 'normal');
    expect(events).toHaveLength(4);
    expect(() => hw.observe(null as never)).toThrow(/listener/);
  });

  it('lets a listener unsubscribe while events are delivered', () => {
    const hw = machine();
    const seen: string[] = [];
    const offA = hw.observe(() => {
      seen.push('a');
      offA();
    });
    hw.observe(() => seen.push('b'));
    hw.cpuRead(0, 1, 'normal');
    hw.cpuRead(0, 1, 'normal');
    expect(seen).toEqual(['a', 'b', 'b']);
  });

  it('counts bytes and operations on every path', () => {
    const hw = machine({ cacheModel: true });
    const dev = hw.createBusMaster({ name: 'd', addressBits: 64, coherent: true });
    hw.cpuWrite(0, pattern(100), 'normal');
    hw.cpuWrite(0x1000, pattern(30), 'wc');
    hw.cpuFill(0x2000, 20, 1, 'uncached');
    hw.cpuRead(0, 50, 'normal');
    hw.cpuRead(0x1000, 7, 'wc');
    hw.wmb();
    hw.cacheClean(0, 128);
    hw.cacheInvalidate(0, 64);
    hw.cacheFlush(0, 128);
    dev.dmaWrite(0x3000, pattern(5));
    dev.dmaRead(0x3000, 9);
    expect(hw.counters).toEqual({
      cpuBytesRead: 57,
      cpuBytesWritten: 150,
      deviceBytesRead: 9,
      deviceBytesWritten: 5,
      cacheCleans: 1,
      cacheInvalidates: 1,
      cacheFlushes: 1,
      linesWrittenBack: 2,
      linesFilled: 1, // the partly written second line
      linesEvicted: 0,
      wcDrains: 1,
      faults: 0,
    });
  });

  it('rejects bad maintenance ranges by name even inside the RAM span last used', () => {
    const hw = machine({ cacheModel: true });
    hw.cpuWrite(0x100, pattern(64), 'normal');
    hw.cacheClean(0x100, 64);
    expect(hw.ram.read(0x100, 64)).toEqual(pattern(64));
    for (const [paddr, size, name] of [
      [256.5, 64, 'paddr'],
      [0x100, 63.5, 'size'],
      [0x100, -64, 'size'],
      [Number.NaN, 64, 'paddr'],
      ['256', 64, 'paddr'],
      [Symbol('p'), 64, 'paddr'],
    ] as const) {
      for (const op of [hw.cacheClean, hw.cacheInvalidate, hw.cacheFlush]) {
        expect(() => op.call(hw, paddr as number, size as number)).toThrow(new RegExp(`^${name} `));
      }
    }
    expect(hw.counters.cacheCleans).toBe(1);
    expect(hw.counters.cacheInvalidates + hw.counters.cacheFlushes).toBe(0);
    expect(hw.cache!.lineState(0x100)).toBe('clean');
  });

  it('copies windows of the caller arrays', () => {
    const hw = machine({ cacheModel: true });
    hw.cpuWrite(0x10, pattern(10), 'normal', 2, 5);
    const out = new Uint8Array(8).fill(0xff);
    hw.cpuReadInto(0x10, out, 'normal', 1, 5);
    expect(out).toEqual(new Uint8Array([0xff, 3, 4, 5, 6, 7, 0xff, 0xff]));
    expect(hw.cpuRead(0x10, 0, 'normal')).toEqual(new Uint8Array(0));
    expect(hw.counters.cpuBytesRead).toBe(5);
  });

  it('unchecked accesses move the same bytes, count and report them, and still refuse what is not RAM', () => {
    for (const cacheModel of [false, true]) {
      const hw = machine({ cacheModel });
      const events: AccessEvent[] = [];
      hw.observe((e) => events.push(e));
      hw.cpuWriteUnchecked(0x10, pattern(10), 'normal', 2, 5);
      hw.cpuWriteUnchecked(0x2000, pattern(8), 'wc', 0, 8);
      const out = new Uint8Array(8).fill(0xff);
      hw.cpuReadIntoUnchecked(0x10, out, 'normal', 1, 5);
      expect(out).toEqual(new Uint8Array([0xff, 3, 4, 5, 6, 7, 0xff, 0xff]));
      // The write-combined store is still in the buffer: the CPU's own read sees it, RAM does not yet.
      expect(hw.cpuRead(0x2000, 8, 'wc')).toEqual(pattern(8));
      expect(hw.counters.cpuBytesWritten).toBe(13);
      expect(events.map((e) => [e.write, e.paddr, e.length])).toEqual([
        [true, 0x10, 5],
        [true, 0x2000, 8],
        [false, 0x10, 5],
        [false, 0x2000, 8],
      ]);
      const end = hw.ram.regions[0]!.base + hw.ram.regions[0]!.size;
      expect(() => hw.cpuReadIntoUnchecked(end - 4, out, 'normal', 0, 8)).toThrow(/paddr/);
    }
  });

  it('rejects bad arguments by name and changes nothing', () => {
    const hw = machine({ cacheModel: true });
    expect(() => hw.cpuRead(-1, 4, 'normal')).toThrow(/paddr/);
    expect(() => hw.cpuRead(2 ** 52, 4, 'normal')).toThrow(/paddr/);
    expect(() => hw.cpuRead(0, 1.5, 'normal')).toThrow(/length/);
    expect(() => hw.cpuRead(0, 4, 'cached' as never)).toThrow(/type/);
    expect(() => hw.cpuWrite(0, [1, 2] as never, 'normal')).toThrow(TypeError);
    expect(() => hw.cpuWrite(0, new Uint8Array(4), 'normal', 1, 4)).toThrow(/length/);
    expect(() => hw.cpuReadInto(0, new Uint8Array(4), 'normal', -1)).toThrow(/offset/);
    expect(() => hw.cpuFill(0, 4, 300, 'normal')).toThrow(/value/);
    expect(() => hw.cpuWrite(MiB - 2, new Uint8Array(4), 'normal')).toThrow(/paddr .* not RAM/);
    expect(hw.cache?.countLines()).toEqual({ valid: 0, dirty: 0 });
    expect(hw.ram.allocatedBytes).toBe(0);
    expect(hw.counters.cpuBytesWritten).toBe(0);

    expect(() => new Hardware(undefined as never)).toThrow(/options/);
    expect(() => new Hardware({ memoryRegions: 'all' as never })).toThrow(/memoryRegions/);
    expect(() => machine({ cpus: 0 })).toThrow(/cpus/);
    expect(() => machine({ seed: -3 })).toThrow(/seed/);
    expect(() => machine({ cacheModel: 'yes' as never })).toThrow(/cacheModel/);
    expect(() => machine({ chunkSize: 1000 })).toThrow(/chunkSize/);
  });

  it('gives the same run for the same seed', () => {
    const run = (seed: number) => {
      const hw = machine({ seed, cacheModel: true, cache: { capacity: 32, eviction: 'random', prefetch: 0.5 } });
      const dev = hw.createBusMaster({ name: 'd', addressBits: 64, coherent: false });
      for (let i = 0; i < 300; i++) {
        hw.cpuWrite(4 * GiB + ((i * 4099) % (MiB - 64)), pattern(40, i), 'normal');
        if (i % 7 === 0) dev.dmaWrite(4 * GiB + ((i * 977) % (MiB - 64)), pattern(40, 255 - i));
        if (i % 5 === 0) hw.cpuRead(4 * GiB + ((i * 1543) % (MiB - 64)), 40, 'normal');
      }
      return { memory: Buffer.from(dev.dmaRead(4 * GiB, MiB)).toString('base64'), counters: { ...hw.counters }, next: hw.random.next() };
    };
    const a = run(11);
    expect(run(11)).toEqual(a);
    const b = run(12);
    expect(b.counters).not.toEqual(a.counters);
    expect(b.memory).not.toEqual(a.memory);
  });
});

