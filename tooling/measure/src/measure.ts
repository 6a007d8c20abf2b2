/**
 * A tiny median timer for benchmarks: runs `fn` in batches, times each batch with
 * `performance.now()`, and reports the median time per call, so that one slow batch (a GC pause,
 * a JIT tier-up) does not skew the figure.
 */

export interface MeasureOptions {
  /** Timed batches (samples); default 41. */
  readonly samples?: number;
  /** Calls per batch; default chosen so that a batch takes about `batchMs`. */
  readonly batch?: number;
  /** Target duration of one batch when `batch` is not given; default 5 ms. */
  readonly batchMs?: number;
  /** Untimed calls before measuring; default 20. */
  readonly warmup?: number;
}

export interface Measurement {
  readonly name: string;
  /** Median nanoseconds per call. */
  readonly medianNs: number;
  /** Fastest and slowest batch, per call. */
  readonly minNs: number;
  readonly maxNs: number;
  readonly samples: number;
  readonly batch: number;
}

/** Times `fn` and returns the median per call. */
export function measure(name: string, fn: () => void, options: MeasureOptions = {}): Measurement {
  const samples = options.samples ?? 41;
  const warmup = options.warmup ?? 20;
  // A loop compiled for this measurement alone: one shared loop would see every benchmark's
  // closure, turn megamorphic and stop inlining, charging the harness's cost to the path measured.
  const loop = new Function('fn', 'n', 'for (let i = 0; i < n; i++) fn();') as (fn: () => void, n: number) => void;
  loop(fn, warmup);
  let batch = options.batch ?? 0;
  if (batch === 0) {
    // Calibrate: grow the batch until it takes about batchMs.
    const target = options.batchMs ?? 5;
    batch = 1;
    for (;;) {
      const t0 = performance.now();
      loop(fn, batch);
      const ms = performance.now() - t0;
      if (ms >= target || batch >= 1 << 20) break;
      batch = ms <= 0 ? batch * 8 : Math.max(batch + 1, Math.ceil((batch * target) / ms));
    }
  }
  const perCall: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    loop(fn, batch);
    perCall.push(((performance.now() - t0) * 1e6) / batch);
  }
  perCall.sort((a, b) => a - b);
  return {
    name,
    medianNs: perCall[perCall.length >> 1]!,
    minNs: perCall[0]!,
    maxNs: perCall[perCall.length - 1]!,
    samples,
    batch,
  };
}

/** Formats rows as an aligned text table (first column left-aligned, the rest right-aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export { printBench, type BenchRow } from './report.js';
