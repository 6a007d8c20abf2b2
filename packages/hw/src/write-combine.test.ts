import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GiB, MiB, expectBytes, machine, pattern } from './test-machine.js';

const WC = 4 * GiB + 0x4000;

function wcMachine(options = {}) {
  const hw = machine({ cacheModel: true, ...options });
  const dev = hw.createBusMaster({ name: 'nic', addressBits: 64, coherent: true });
  return { hw, dev };
}

describe('write-combine buffers', () => {
  it('keep a WC store from the device until wmb, while the CPU sees it at once', () => {
    const { hw, dev } = wcMachine();
    hw.cpuWrite(WC, pattern(16), 'wc');
    expect(dev.dmaRead(WC, 16)).toEqual(new Uint8Array(16)); // even a snooping device
    expect(hw.cpuRead(WC, 16, 'wc')).toEqual(pattern(16));
    expect(hw.cpuRead(WC, 16, 'uncached')).toEqual(pattern(16));
    expect(hw.runOn(1, () => hw.cpuRead(WC, 16, 'wc'))).toEqual(new Uint8Array(16)); // another CPU does not
    hw.rmb();
    hw.dmaRmb();
    expect(dev.dmaRead(WC, 16)).toEqual(new Uint8Array(16));
    hw.wmb();
    expect(dev.dmaRead(WC, 16)).toEqual(pattern(16));
    expect(hw.counters.wcDrains).toBe(1);
  });

  it.each(['mb', 'dmaWmb'] as const)('drain on %s', (barrier: 'mb' | 'dmaWmb') => {
    const { hw, dev } = wcMachine();
    hw.cpuWrite(WC + 100, pattern(8), 'wc');
    hw[barrier]();
    expect(dev.dmaRead(WC + 100, 8)).toEqual(pattern(8));
  });

  it('drain only the current CPU’s buffer', () => {
    const { hw, dev } = wcMachine();
    hw.runOn(1, () => hw.cpuWrite(WC, pattern(8), 'wc'));
    hw.wmb(); // on CPU 0
    expect(dev.dmaRead(WC, 8)).toEqual(new Uint8Array(8));
    hw.runOn(1, () => hw.wmb());
    expect(dev.dmaRead(WC, 8)).toEqual(pattern(8));
  });

  it('drain the oldest entry when full', () => {
    const { hw, dev } = wcMachine();
    for (let i = 0; i < 8; i++) hw.cpuWrite(WC + i * 64, new Uint8Array([i + 1]), 'wc');
    expect(hw.currentCpu.wcBuffer.pending).toBe(8);
    hw.cpuWrite(WC + 8 * 64 + 5, new Uint8Array([9]), 'wc'); // a ninth block
    expect(dev.dmaRead(WC, 1)[0]).toBe(1);
    for (let i = 1; i <= 8; i++) expect(dev.dmaRead(WC + i * 64, 8)).toEqual(new Uint8Array(8));
    expect(hw.counters.wcDrains).toBe(1);
    // Stores to a pending block combine and take no new entry.
    hw.cpuWrite(WC + 64 + 1, new Uint8Array([42]), 'wc');
    expect(hw.counters.wcDrains).toBe(1);
    hw.wmb();
    expect(dev.dmaRead(WC + 64, 2)).toEqual(new Uint8Array([2, 42]));
    expect(dev.dmaRead(WC + 8 * 64, 6)).toEqual(new Uint8Array([0, 0, 0, 0, 0, 9]));
  });

  it('write only the bytes stored, never the rest of the block', () => {
    const { hw, dev } = wcMachine();
    dev.dmaWrite(WC, pattern(64, 100));
    hw.cpuWrite(WC + 10, pattern(4), 'wc');
    hw.cpuWrite(WC + 30, pattern(4, 50), 'wc');
    hw.wmb();
    const expected = pattern(64, 100);
    expected.set(pattern(4), 10);
    expected.set(pattern(4, 50), 30);
    expect(dev.dmaRead(WC, 64)).toEqual(expected);
  });

  it('put a big store in memory except its last entries', () => {
    const { hw, dev } = wcMachine({ wcBufferEntries: 4, wcEntrySize: 128 });
    const data = pattern(MiB / 2 - 200, 9);
    hw.cpuWrite(WC + 100, data, 'wc');
    const visible = dev.dmaRead(WC + 100, data.length);
    const pendingFrom = WC + 100 + data.length - ((WC + 100 + data.length) % 128) - 3 * 128;
    expectBytes(visible.subarray(0, pendingFrom - WC - 100), data.subarray(0, pendingFrom - WC - 100));
    expectBytes(visible.subarray(pendingFrom - WC - 100), new Uint8Array(WC + 100 + data.length - pendingFrom));
    expectBytes(hw.cpuRead(WC + 100, data.length, 'wc'), data);
    hw.wmb();
    expectBytes(dev.dmaRead(WC + 100, data.length), data);
  });

  it('bypass the cache and do not see dirty lines', () => {
    const { hw, dev } = wcMachine();
    hw.cpuWrite(WC, pattern(64, 1), 'normal');
    hw.cpuFill(WC, 32, 0xaa, 'wc');
    hw.wmb();
    expect(hw.cpuRead(WC, 64, 'wc')).toEqual(new Uint8Array(64).fill(0xaa, 0, 32));
    expect(hw.cpuRead(WC, 4, 'normal')).toEqual(pattern(4, 1)); // the cache still holds its line
    expect(dev.dmaRead(WC, 4)).toEqual(pattern(4, 1)); // and a snooping device sees that
  });

  it('let a later uncached store win over an earlier pending WC store', () => {
    const { hw, dev } = wcMachine();
    hw.cpuWrite(WC, pattern(16, 1), 'wc');
    hw.cpuWrite(WC + 4, pattern(4, 200), 'uncached');
    expect(dev.dmaRead(WC, 16)).toEqual(new Uint8Array(16).fill(0, 0, 4).fill(200, 4, 5).fill(201, 5, 6).fill(202, 6, 7).fill(203, 7, 8));
    hw.wmb();
    const expected = pattern(16, 1);
    expected.set(pattern(4, 200), 4);
    expect(dev.dmaRead(WC, 16)).toEqual(expected);
  });

  it('match a store-by-store model for any sequence', () => {
    const SIZE = 4096;
    const E = 32;
    const N = 3;
    type Op = { kind: 'wc' | 'fill' | 'uc' | 'wmb' | 'read'; p: number; n: number; seed: number };
    const op = fc.record({
      kind: fc.constantFrom<Op['kind']>('wc', 'wc', 'fill', 'uc', 'wmb', 'read'),
      p: fc.integer({ min: 0, max: SIZE - 1 }),
      n: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 600 })),
      seed: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const hw = machine({ memoryRegions: [{ base: 0, size: SIZE }], wcBufferEntries: N, wcEntrySize: E });
        const dev = hw.createBusMaster({ name: 'dev', addressBits: 32, coherent: false });
        const mem = new Uint8Array(SIZE);
        const queue: { block: number; bytes: Map<number, number> }[] = [];
        const drainOldest = () => {
          const e = queue.shift()!;
          for (const [a, v] of e.bytes) mem[a] = v;
        };
        const cpuView = () => {
          const view = mem.slice();
          for (const e of queue) for (const [a, v] of e.bytes) view[a] = v;
          return view;
        };
        for (const { kind, p, n: raw, seed } of ops) {
          const n = Math.min(raw, SIZE - p);
          const bytes = kind === 'fill' ? new Uint8Array(n).fill(seed) : pattern(n, seed);
          if (kind === 'wc' || kind === 'fill') {
            if (kind === 'fill') hw.cpuFill(p, n, seed, 'wc');
            else hw.cpuWrite(p, bytes, 'wc');
            for (let a = p; a < p + n; a++) {
              const block = a - (a % E);
              let e = queue.find((x) => x.block === block);
              if (e === undefined) {
                if (queue.length === N) drainOldest();
                e = { block, bytes: new Map() };
                queue.push(e);
              }
              e.bytes.set(a, bytes[a - p]!);
            }
          } else if (kind === 'uc') {
            hw.cpuWrite(p, bytes, 'uncached');
            mem.set(bytes, p);
            for (const e of queue) for (let a = p; a < p + n; a++) if (e.bytes.has(a)) e.bytes.set(a, bytes[a - p]!);
          } else if (kind === 'wmb') {
            hw.wmb();
            while (queue.length > 0) drainOldest();
          } else {
            expectBytes(hw.cpuRead(p, n, 'wc'), cpuView().subarray(p, p + n));
          }
          expect(hw.currentCpu.wcBuffer.pending).toBe(queue.length);
        }
        expectBytes(dev.dmaRead(0, SIZE), mem);
      }),
      { numRuns: 200 },
    );
  });

  it('reject bad sizes by name', () => {
    expect(() => machine({ wcBufferEntries: 0 })).toThrow(/wcBufferEntries/);
    expect(() => machine({ wcEntrySize: 48 })).toThrow(/wcEntrySize/);
  });
});
