/**
 * The machine's seeded pseudo-random generator: the only source of randomness in kdma (random cache
 * eviction, speculative prefetch, fault injection), so that the same seed gives the same run.
 *
 * xoshiro128** (Blackman and Vigna) on 32-bit words, seeded through splitmix32: fast, small state,
 * good statistical quality, and exact in JavaScript's 32-bit integer arithmetic.
 */

import { checkInteger } from './address.js';

export class Prng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed`: any integer in [0, 2^53). */
  constructor(seed: number) {
    checkInteger(seed, 'seed');
    let x = (seed % 2 ** 32) >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    // splitmix32 over both halves of the seed fills the four state words.
    const mix = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x ^ Math.imul(hi, 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 16), 0x21f0a7ad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniformly distributed number in [0, 1) with 32 random bits. */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /** A uniformly distributed integer in [0, n), without modulo bias; `n` in [1, 2^32]. */
  int(n: number): number {
    checkInteger(n, 'n', 1, 2 ** 32);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let r = this.next();
    while (r >= limit) r = this.next();
    return r % n;
  }

  /** A new generator seeded from this one (advancing it): an independent stream for a sub-system. */
  fork(): Prng {
    return new Prng(this.next() * 2 ** 21 + (this.next() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
