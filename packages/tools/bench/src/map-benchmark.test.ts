import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { addLatency, createLatencyAccumulator, intSqrt64, kernelAverage, mergeLatency, summarizeLatency } from './map-benchmark.js';

describe('the statistics of map_benchmark.c', () => {
  it('truncates each sample to 100 ns units and averages with integer division, as do_map_benchmark', () => {
    const acc = createLatencyAccumulator();
    for (const ns of [150, 250, 1050]) addLatency(acc, ns);
    // units 1, 2, 10: sum 13, loops 3 → avg 4; sumsq 105 → 35 - 16 = 19 → int_sqrt 4.
    expect(kernelAverage(acc)).toEqual({ avg100ns: 4, stddev100ns: 4 });
    expect(summarizeLatency(acc)).toMatchObject({ samples: 3, avgNs: 483.3, minNs: 150, maxNs: 1050, medianNs: 255 });
    expect(kernelAverage(createLatencyAccumulator())).toEqual({ avg100ns: 0, stddev100ns: 0 });
  });

  it('int_sqrt64 rounds down', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), (x) => {
        const r = intSqrt64(x);
        expect(r * r).toBeLessThanOrEqual(x);
        expect((r + 1) * (r + 1)).toBeGreaterThan(x);
      }),
    );
  });

  it('merging accumulators is the same as accumulating every sample in one', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 })), fc.array(fc.integer({ min: 0, max: 1_000_000 })), (xs, ys) => {
        const a = createLatencyAccumulator();
        const b = createLatencyAccumulator();
        const all = createLatencyAccumulator();
        for (const x of xs) addLatency(a, x);
        for (const y of ys) addLatency(b, y);
        for (const v of [...xs, ...ys]) addLatency(all, v);
        mergeLatency(a, b);
        expect(kernelAverage(a)).toEqual(kernelAverage(all));
        expect(summarizeLatency(a)).toEqual(summarizeLatency(all));
      }),
      { numRuns: 50 },
    );
  });
});
