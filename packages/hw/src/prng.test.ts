import { describe, expect, it } from '@jest/globals';
import { Prng } from './prng.js';

const take = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.next());

describe('Prng', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    expect(take(new Prng(42), 20)).toEqual(take(new Prng(42), 20));
    expect(take(new Prng(42), 20)).not.toEqual(take(new Prng(43), 20));
    expect(take(new Prng(0), 5)).not.toEqual(take(new Prng(2 ** 32), 5)); // the high half of the seed counts
  });

  it('gives unsigned 32-bit integers, floats in [0, 1) and unbiased ints in [0, n)', () => {
    const p = new Prng(7);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const u = p.next();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      const f = p.float();
      expect(f >= 0 && f < 1).toBe(true);
      const k = p.int(6);
      counts[k] = counts[k]! + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(p.int(1)).toBe(0);
    expect(p.int(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it('forks a deterministic, independent stream', () => {
    const a = new Prng(5);
    const b = new Prng(5);
    const fa = a.fork();
    const fb = b.fork();
    expect(take(fa, 10)).toEqual(take(fb, 10));
    expect(take(a, 10)).toEqual(take(b, 10));
    expect(take(new Prng(5).fork(), 10)).not.toEqual(take(new Prng(5), 10));
  });

  it('rejects bad arguments by name', () => {
    expect(() => new Prng(-1)).toThrow(/seed/);
    expect(() => new Prng(1.5)).toThrow(/seed/);
    expect(() => new Prng(1).int(0)).toThrow(/n/);
  });
});
