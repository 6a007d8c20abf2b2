/**
 * The statistics of kernel/dma/map_benchmark.c: per sample, the latency in 100 ns units
 * (`div64_ul(delta, 100)`) added to a sum and a sum of squares (`atomic64_add`); at the end
 * `avg = sum / loops` and `stddev = int_sqrt64(sumsq / loops − avg²)`, all in integers, into
 * `struct map_benchmark` (include/linux/map_benchmark.h). Beside them kdma keeps what integer
 * arithmetic throws away — exact nanoseconds, min, max, and a 10 ns histogram for the median —
 * so figures well under 100 ns still compare. Accumulators merge by addition, which is how worker
 * threads' results combine (the kernel's threads share one set of atomic counters).
 */

/** Histogram buckets of 10 ns (Node's `performance.now()` resolves about that); the last is "≥ 655 µs". */
const BUCKET_NS = 10;
const BUCKETS = 65536;

/** One latency series: what the kernel sums, and what kdma adds. */
export interface LatencyAccumulator {
  count: number;
  /** `sum_*_100ns` and `sum_sq_*`: integer 100 ns units, as the kernel sums them. */
  sum100ns: number;
  sumSq100ns: number;
  /** Exact sums in ns. */
  sumNs: number;
  sumSqNs: number;
  minNs: number;
  maxNs: number;
  readonly histogram: Uint32Array;
}

export function createLatencyAccumulator(): LatencyAccumulator {
  return { count: 0, sum100ns: 0, sumSq100ns: 0, sumNs: 0, sumSqNs: 0, minNs: Number.POSITIVE_INFINITY, maxNs: 0, histogram: new Uint32Array(BUCKETS) };
}

/** Adds one sample (ns). Allocates nothing: it runs between timed calls. */
export function addLatency(acc: LatencyAccumulator, ns: number): void {
  const units = Math.floor(ns / 100);
  acc.count++;
  acc.sum100ns += units;
  acc.sumSq100ns += units * units;
  acc.sumNs += ns;
  acc.sumSqNs += ns * ns;
  if (ns < acc.minNs) acc.minNs = ns;
  if (ns > acc.maxNs) acc.maxNs = ns;
  const bucket = Math.min(BUCKETS - 1, Math.floor(ns / BUCKET_NS));
  acc.histogram[bucket] = (acc.histogram[bucket] as number) + 1;
}

/** `into += from` (worker threads, several machines). */
export function mergeLatency(into: LatencyAccumulator, from: LatencyAccumulator): void {
  into.count += from.count;
  into.sum100ns += from.sum100ns;
  into.sumSq100ns += from.sumSq100ns;
  into.sumNs += from.sumNs;
  into.sumSqNs += from.sumSqNs;
  into.minNs = Math.min(into.minNs, from.minNs);
  into.maxNs = Math.max(into.maxNs, from.maxNs);
  const h = into.histogram;
  const g = from.histogram;
  for (let i = 0; i < BUCKETS; i++) if (g[i] !== 0) h[i] = (h[i] as number) + (g[i] as number);
}

/** `int_sqrt64`: the integer square root, rounded down. */
export function intSqrt64(x: number): number {
  if (x <= 0) return 0;
  let r = Math.floor(Math.sqrt(x));
  while (r * r > x) r--;
  while ((r + 1) * (r + 1) <= x) r++;
  return r;
}

/** do_map_benchmark's average and standard deviation, in 100 ns units, with its integer arithmetic. */
export function kernelAverage(acc: LatencyAccumulator): { avg100ns: number; stddev100ns: number } {
  if (acc.count === 0) return { avg100ns: 0, stddev100ns: 0 };
  const avg = Math.floor(acc.sum100ns / acc.count);
  // u64 arithmetic: E[x²] ≥ E[x]² always holds after the truncations, so there is no wrap-around.
  const variance = Math.floor(acc.sumSq100ns / acc.count) - avg * avg;
  return { avg100ns: avg, stddev100ns: intSqrt64(variance) };
}

/** A latency series as the result reports it: exact figures in ns, to 0.1 ns. */
export interface LatencySummary {
  readonly samples: number;
  readonly avgNs: number;
  /** Population standard deviation, as the kernel's. */
  readonly stddevNs: number;
  /** To the histogram's 10 ns. */
  readonly medianNs: number;
  readonly minNs: number;
  readonly maxNs: number;
}

/** To 0.1 ns: the timer resolves about 10 ns, and the float noise of its differences goes. */
function tenthNs(ns: number): number {
  return Math.round(ns * 10) / 10;
}

export function summarizeLatency(acc: LatencyAccumulator): LatencySummary {
  if (acc.count === 0) return { samples: 0, avgNs: 0, stddevNs: 0, medianNs: 0, minNs: 0, maxNs: 0 };
  const avg = acc.sumNs / acc.count;
  const variance = Math.max(0, acc.sumSqNs / acc.count - avg * avg);
  return {
    samples: acc.count,
    avgNs: tenthNs(avg),
    stddevNs: tenthNs(Math.sqrt(variance)),
    medianNs: tenthNs(medianOf(acc)),
    minNs: tenthNs(acc.minNs),
    maxNs: tenthNs(acc.maxNs),
  };
}

/** The lower median from the histogram: the middle of its 10 ns bucket, within [min, max]. */
function medianOf(acc: LatencyAccumulator): number {
  const rank = Math.floor((acc.count - 1) / 2);
  let seen = 0;
  const h = acc.histogram;
  for (let i = 0; i < BUCKETS; i++) {
    seen += h[i] as number;
    if (seen > rank) return Math.min(acc.maxNs, Math.max(acc.minNs, i * BUCKET_NS + BUCKET_NS / 2));
  }
  return acc.maxNs;
}

/** The `dma_map_benchmark` map modes, `map_mode` in the 2025 struct. */
export const DMA_MAP_BENCH_SINGLE_MODE = 0;
export const DMA_MAP_BENCH_SG_MODE = 1;

/**
 * `struct map_benchmark` after the DMA_MAP_BENCHMARK ioctl, fields in camelCase: the four
 * outputs in 100 ns units (`avg_map_100ns`, `map_stddev`, `avg_unmap_100ns`, `unmap_stddev`) and
 * the inputs as the tool filled them in (`node` is always NUMA_NO_NODE, -1: kdma has no NUMA).
 * `expansion[]` is left out.
 */
export interface MapBenchmark {
  readonly avgMap100ns: number;
  readonly mapStddev: number;
  readonly avgUnmap100ns: number;
  readonly unmapStddev: number;
  readonly threads: number;
  readonly seconds: number;
  readonly node: number;
  readonly dmaBits: number;
  readonly dmaDir: number;
  readonly dmaTransNs: number;
  readonly granule: number;
  readonly mapMode: number;
}
