import { describe, expect, it } from '@jest/globals';
import { copyPair, measure, measureEach, ScatteredPages } from './measure.js';
import { printBench } from './report.js';

// Timings are never asserted: only what the harness calls, in which order, and what it returns.
describe('measure', () => {
  it('warms up, then times the given number of batches of the given size', () => {
    let calls = 0;
    const m = measure('count', () => calls++, { samples: 5, batch: 3, warmup: 2 });
    expect(calls).toBe(2 + 5 * 3);
    expect(m).toMatchObject({ name: 'count', samples: 5, batch: 3 });
    expect(m.minNs).toBeLessThanOrEqual(m.medianNs);
    expect(m.medianNs).toBeLessThanOrEqual(m.maxNs);
  });
});

describe('measureEach', () => {
  it('interleaves the entries batch by batch and returns one measurement each, in order', () => {
    const order: string[] = [];
    const [a, b] = measureEach(
      [
        { name: 'a', fn: () => order.push('a') },
        { name: 'b', fn: () => order.push('b') },
      ],
      { samples: 3, batch: 2, warmup: 1 },
    );
    // Warm-up of each, then a batch of a, a batch of b, three times.
    expect(order.join('')).toBe('ab' + 'aabb'.repeat(3));
    expect(a).toMatchObject({ name: 'a', samples: 3, batch: 2 });
    expect(b).toMatchObject({ name: 'b', samples: 3, batch: 2 });
  });
});

describe('copyPair', () => {
  it('gives a filled source and an empty target of the size, whole pages apart in one buffer', () => {
    for (const size of [1, 1500, 4096, 4097, 3 * 2 ** 20]) {
      const { src, dst } = copyPair(size, 7);
      expect(src.length).toBe(size);
      expect(dst.length).toBe(size);
      expect(src.buffer).toBe(dst.buffer);
      expect((dst.byteOffset - src.byteOffset) % 4096).toBe(0);
      expect(dst.byteOffset).toBeGreaterThanOrEqual(src.byteOffset + size);
      expect(src.every((b) => b === 7)).toBe(true);
      dst.set(src);
      expect(dst.every((b) => b === 7)).toBe(true);
    }
  });

  it('rejects a size or fill it cannot use, by name', () => {
    expect(() => copyPair(0)).toThrow(/size/);
    expect(() => copyPair(1.5)).toThrow(/size/);
    expect(() => copyPair(16, 256)).toThrow(/fill/);
  });
});

describe('ScatteredPages', () => {
  const P = 4096;

  it('copies page by page into the given frames and reads them back in buffer order', () => {
    // Two buffers; the first lists its frames out of order and far apart (other 64 KiB chunks).
    const pages = new ScatteredPages([[100, 3, 40], [7]], P);
    const src = new Uint8Array(3 * P).map((_, i) => (i * 7) % 251);
    pages.copyInto(0, src);
    const back = new Uint8Array(3 * P);
    pages.copyOut(0, back);
    expect(back).toEqual(src);
    // Buffer 1 is another frame: untouched.
    const other = new Uint8Array(P).fill(9);
    pages.copyOut(1, other);
    expect(other).toEqual(new Uint8Array(P));
  });

  it('gives a frame listed in two buffers one memory', () => {
    const pages = new ScatteredPages([[5, 6], [6]], P);
    const src = new Uint8Array(2 * P).map((_, i) => (i >> 12) + 1);
    pages.copyInto(0, src);
    const shared = new Uint8Array(P);
    pages.copyOut(1, shared);
    expect(shared).toEqual(new Uint8Array(P).fill(2));
  });
});

describe('printBench', () => {
  it('states each row against its own baseline when it has one', () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const base = { name: 'copy', medianNs: 100, minNs: 100, maxNs: 100, samples: 1, batch: 1 };
      const own = { ...base, name: 'scattered copies', medianNs: 300 };
      printBench('t', base, [
        { m: { ...base, name: 'long path', medianNs: 150 }, copies: 1, maxMultiple: 2 },
        { m: { ...base, name: 'scattered path', medianNs: 450 }, copies: 1, maxMultiple: 2, baseline: own },
        { m: { ...base, name: 'slow path', medianNs: 250 }, copies: 1, maxMultiple: 2 },
      ]);
    } finally {
      console.log = log;
    }
    const table = lines.join('\n');
    expect(table).toMatch(/long path\s+150 ns\s+1\.50×\s+≤ 2 ok/);
    expect(table).toMatch(/scattered path\s+450 ns\s+1\.50×\s+≤ 2 ok/);
    expect(table).toMatch(/slow path\s+250 ns\s+2\.50×\s+≤ 2 MISSED/);
  });
});
