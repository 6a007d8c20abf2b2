/**
 * `@kdma/bench`: kernel/dma/map_benchmark.c and tools/testing/selftests/dma/dma_map_benchmark.c on
 * the simulated machine — map/unmap latency per DMA path, against a `TypedArray.set` baseline.
 */
export { runBench, runBenchSync } from './run-bench.js';
export { formatBenchText, formatKernelLines } from './format.js';
export type { BenchCpuUsage, BenchResult, BenchRun, LatencySummary, MapBenchmark } from './bench-result.js';
export {
  BENCH_ARCHES,
  BENCH_DEFAULTS,
  BENCH_MAX_THREADS,
  BENCH_MAX_WORKERS,
  BENCH_MODES,
  BENCH_PATHS,
  DIRECTION_NAMES,
  DMA_MAP_MAX_GRANULE,
  DMA_MAP_MAX_SECONDS,
  DMA_MAP_MAX_THREADS,
  DMA_MAP_MAX_TRANS_DELAY,
  DMA_MAP_MAX_BITS,
  DMA_MAP_MIN_BITS,
  parseDirection,
  resolveBenchOptions,
  type BenchArch,
  type BenchDirection,
  type BenchMode,
  type BenchOptions,
  type BenchPath,
  type ResolvedBenchOptions,
} from './options.js';
export { DMA_MAP_BENCH_SG_MODE, DMA_MAP_BENCH_SINGLE_MODE } from './map-benchmark.js';
export { MapBenchmarkError } from './errors.js';
export { BENCH_DEVICE_NAME, pathMachineOptions } from './bench-machine.js';
