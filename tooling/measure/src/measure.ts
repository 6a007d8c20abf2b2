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

type Loop = (fn: () => void, n: number) => void;

/** A batch loop compiled for one measurement alone: one shared loop would see every benchmark's
 * closure, turn megamorphic and stop inlining, charging the harness's cost to the path measured. */
function newLoop(): Loop {
  return new Function('fn', 'n', 'for (let i = 0; i < n; i++) fn();') as Loop;
}

/** Warms `fn` up and picks its batch size (calls per sample). */
function prepare(loop: Loop, fn: () => void, options: MeasureOptions): number {
  loop(fn, options.warmup ?? 20);
  if (options.batch !== undefined) return options.batch;
  // Calibrate: grow the batch until it takes about batchMs.
  const target = options.batchMs ?? 5;
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    loop(fn, batch);
    const ms = performance.now() - t0;
    if (ms >= target || batch >= 1 << 20) return batch;
    batch = ms <= 0 ? batch * 8 : Math.max(batch + 1, Math.ceil((batch * target) / ms));
  }
}

function timeBatch(loop: Loop, fn: () => void, batch: number): number {
  const t0 = performance.now();
  loop(fn, batch);
  return ((performance.now() - t0) * 1e6) / batch;
}

function summarize(name: string, perCall: number[], batch: number): Measurement {
  perCall.sort((a, b) => a - b);
  return {
    name,
    medianNs: perCall[perCall.length >> 1]!,
    minNs: perCall[0]!,
    maxNs: perCall[perCall.length - 1]!,
    samples: perCall.length,
    batch,
  };
}

/** Times `fn` and returns the median per call. */
export function measure(name: string, fn: () => void, options: MeasureOptions = {}): Measurement {
  const loop = newLoop();
  const batch = prepare(loop, fn, options);
  const perCall: number[] = [];
  for (let s = 0, samples = options.samples ?? 41; s < samples; s++) perCall.push(timeBatch(loop, fn, batch));
  return summarize(name, perCall, batch);
}

/**
 * Times several functions with their samples interleaved (one batch of each in turn), so a path
 * and the baseline it is judged against see the same host: on a shared VM the speed drifts by
 * tens of percent over seconds, which separate runs charge to whichever ran in the slow stretch.
 */
export function measureEach(entries: readonly { readonly name: string; readonly fn: () => void }[], options: MeasureOptions = {}): Measurement[] {
  const loops = entries.map(() => newLoop());
  const batches = entries.map(({ fn }, i) => prepare(loops[i]!, fn, options));
  const perCall = entries.map((): number[] => []);
  for (let s = 0, samples = options.samples ?? 41; s < samples; s++) {
    entries.forEach(({ fn }, i) => perCall[i]!.push(timeBatch(loops[i]!, fn, batches[i]!)));
  }
  return entries.map(({ name }, i) => summarize(name, perCall[i]!, batches[i]!));
}

/** Formats rows as an aligned text table (first column left-aligned, the rest right-aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export { copyPair } from './copy-pair.js';
export { printBench, type BenchRow } from './report.js';

export { ScatteredPages } from './scattered-pages.js';
