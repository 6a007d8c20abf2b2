/**
 * The DMA_MAP_BENCHMARK ioctl as a function: check the options (map_benchmark_ioctl's -EINVAL
 * checks, as TypeError/RangeError), run every requested arch × path, and return the result.
 */
import { buildBenchResult, type BenchResult } from './bench-result.js';
import { runMapBenchmarks } from './map-benchmark-run.js';
import { resolveBenchOptions, type BenchOptions } from './options.js';
import { runInWorkers } from './run-workers.js';

/**
 * Runs the benchmark. Bad options throw at once (TypeError/RangeError naming the option); the
 * promise rejects with a `MapBenchmarkError` where the kernel's ioctl would fail (a DMA mask it
 * cannot set, a mapping that fails). With `workers: 0` (the default) it runs on the calling
 * thread — synchronously, so `onProgress` is called from inside it — and the promise is already
 * settled when returned; with `workers: N` it runs in N worker threads.
 */
export function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const resolved = resolveBenchOptions(options);
  const start = performance.now();
  const onProgress = options.onProgress;
  if (resolved.workers === 0) {
    try {
      return Promise.resolve(buildBenchResult(resolved, [runMapBenchmarks(resolved, resolved.seed, onProgress)], performance.now() - start));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
  return runInWorkers(resolved, onProgress).then((sets) => buildBenchResult(resolved, sets, performance.now() - start));
}

/** `runBench` on the calling thread, returning the result itself; `workers` must be 0. */
export function runBenchSync(options: BenchOptions = {}): BenchResult {
  const resolved = resolveBenchOptions(options);
  if (resolved.workers !== 0) throw new RangeError(`workers must be 0 for runBenchSync (worker threads are asynchronous), got ${resolved.workers}`);
  const start = performance.now();
  return buildBenchResult(resolved, [runMapBenchmarks(resolved, resolved.seed, options.onProgress)], performance.now() - start);
}
