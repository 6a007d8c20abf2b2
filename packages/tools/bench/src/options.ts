/**
 * The benchmark's options: the flags of tools/testing/selftests/dma/dma_map_benchmark.c (`-t`,
 * `-s`, `-g`, `-d`, `-b`, `-x`, `-m`) checked as map_benchmark_ioctl and the user tool check them,
 * plus kdma's own: which paths and arches to measure, worker threads, the seed, a fixed round
 * count for tests, and a progress callback.
 */
import { checkInteger, describe } from '@kdma/hw';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';

/** The mapping paths a device can take, as the machine options select them. */
export const BENCH_PATHS = ['direct', 'swiotlb', 'iommu-strict', 'iommu-lazy'] as const;
export type BenchPath = (typeof BENCH_PATHS)[number];

/** The arches the benchmark builds machines for: both have dma-direct, swiotlb and an IOMMU. */
export const BENCH_ARCHES = ['arm', 'x86'] as const;
export type BenchArch = (typeof BENCH_ARCHES)[number];

/** `enum { DMA_MAP_BENCH_SINGLE_MODE, DMA_MAP_BENCH_SG_MODE }` (2025), as flag values. */
export const BENCH_MODES = ['single', 'sg'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

/** `DMA_MAP_MAX_THREADS`: the kernel's limit; kdma's machine has at most 256 CPUs. */
export const DMA_MAP_MAX_THREADS = 1024;
export const BENCH_MAX_THREADS = 256;
/** `DMA_MAP_MAX_SECONDS`. */
export const DMA_MAP_MAX_SECONDS = 300;
/** `DMA_MAP_MAX_TRANS_DELAY`: 10 ms. */
export const DMA_MAP_MAX_TRANS_DELAY = 10_000_000;
/** The granule limit of map_benchmark_ioctl (pages, or sg entries in SG mode). */
export const DMA_MAP_MAX_GRANULE = 1024;
/** The user tool's `-b` range: "suppose the minimum DMA zone is 1MB in the world". */
export const DMA_MAP_MIN_BITS = 20;
export const DMA_MAP_MAX_BITS = 64;
/** Worker threads kdma allows (each builds its own machines). */
export const BENCH_MAX_WORKERS = 256;

/** A direction as a flag value, a `DMA_*` value (0, 1, 2) or the name the tool prints. */
export type BenchDirection = 'bidi' | 'to' | 'from' | 'BIDIRECTIONAL' | 'TO_DEVICE' | 'FROM_DEVICE' | DmaDataDirection;

export interface BenchOptions {
  /** `-t`: simulated CPUs, each running one benchmark thread (default 1). */
  readonly threads?: number;
  /**
   * `-s`: wall-clock seconds per path (default 1; the kernel tool's 20 is long for a simulated
   * run). Fractions are allowed. Ignored when `iterations` is given.
   */
  readonly seconds?: number;
  /** Rounds per thread instead of a time limit: a reproducible amount of work (tests, scripts). */
  readonly iterations?: number;
  /**
   * Untimed map/unmap iterations (over all threads, in whole rounds) before measuring, so the JIT
   * has settled (default 20000; kdma's own). With `seconds`, warming up also stops after a fifth
   * of them; with `iterations` it is exact, so runs repeat exactly.
   */
  readonly warmup?: number;
  /** `-g`: pages per mapping; in SG mode, sg entries of one page each (default 1). */
  readonly granule?: number;
  /** `-d`: default `DMA_BIDIRECTIONAL`. */
  readonly dir?: BenchDirection;
  /** `-b`: the device's DMA mask in bits, 20..64 (default 32). */
  readonly dmaBits?: number;
  /** `-x`: ns the "DMA is in flight" between map and unmap, on the machine's clock (default 0). */
  readonly transNs?: number;
  /** `-m`: `dma_map_single` of one buffer, or `dma_map_sg` of `granule` pages (default single). */
  readonly mode?: BenchMode;
  /** Which path(s) to measure (default 'all'). */
  readonly path?: BenchPath | 'all' | readonly BenchPath[];
  /** Which arch(es) to build machines for (default 'arm'). */
  readonly arch?: BenchArch | 'all' | readonly BenchArch[];
  /** Worker threads, each with machines of its own; 0 runs on the calling thread (default 0). */
  readonly workers?: number;
  /** The machines' seed (worker i uses seed + i) (default 1). */
  readonly seed?: number;
  /** Called with the fraction done, 0..1, a few times a second at most. */
  readonly onProgress?: (fraction: number) => void;
}

/** Options with every default filled in and every value checked. */
export interface ResolvedBenchOptions {
  readonly threads: number;
  readonly seconds: number;
  readonly iterations: number | null;
  readonly warmup: number;
  readonly granule: number;
  readonly dir: DmaDataDirection;
  readonly dmaBits: number;
  readonly transNs: number;
  readonly mode: BenchMode;
  readonly paths: readonly BenchPath[];
  readonly arches: readonly BenchArch[];
  readonly workers: number;
  readonly seed: number;
}

export const BENCH_DEFAULTS = {
  threads: 1,
  seconds: 1,
  warmup: 20000,
  granule: 1,
  dir: DMA_BIDIRECTIONAL,
  dmaBits: 32,
  transNs: 0,
  mode: 'single',
  path: 'all',
  arch: 'arm',
  workers: 0,
  seed: 1,
} as const;

const OPTION_NAMES = new Set([
  'threads',
  'seconds',
  'iterations',
  'warmup',
  'granule',
  'dir',
  'dmaBits',
  'transNs',
  'mode',
  'path',
  'arch',
  'workers',
  'seed',
  'onProgress',
]);

/** `directions[]` of the user tool, indexed by `dma_dir`. */
export const DIRECTION_NAMES = ['BIDIRECTIONAL', 'TO_DEVICE', 'FROM_DEVICE'] as const;

const DIRECTIONS: ReadonlyMap<unknown, DmaDataDirection> = new Map<unknown, DmaDataDirection>([
  ['bidi', DMA_BIDIRECTIONAL],
  ['to', DMA_TO_DEVICE],
  ['from', DMA_FROM_DEVICE],
  ['BIDIRECTIONAL', DMA_BIDIRECTIONAL],
  ['TO_DEVICE', DMA_TO_DEVICE],
  ['FROM_DEVICE', DMA_FROM_DEVICE],
  [DMA_BIDIRECTIONAL, DMA_BIDIRECTIONAL],
  [DMA_TO_DEVICE, DMA_TO_DEVICE],
  [DMA_FROM_DEVICE, DMA_FROM_DEVICE],
]);

/** The `dma_dir` value of a direction option; RangeError naming `dir` otherwise. */
export function parseDirection(value: unknown): DmaDataDirection {
  const dir = DIRECTIONS.get(value);
  if (dir === undefined) {
    throw new RangeError(`dir must be 'bidi', 'to', 'from' or DMA_BIDIRECTIONAL (0), DMA_TO_DEVICE (1), DMA_FROM_DEVICE (2), got ${describe(value)}`);
  }
  return dir;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, one of ${allowed.join(', ')}, got ${describe(value)}`);
  if (!(allowed as readonly string[]).includes(value)) throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  return value as T;
}

/** A single name, 'all', or a non-empty array of names without repeats. */
function listOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): readonly T[] {
  if (value === 'all') return allowed;
  if (!Array.isArray(value)) return [oneOf(value, name, [...allowed, 'all'] as readonly string[]) as T];
  if (value.length === 0) throw new RangeError(`${name} must not be an empty list`);
  const list = value.map((item: unknown, i) => oneOf(item, `${name}[${i}]`, allowed));
  if (new Set(list).size !== list.length) throw new RangeError(`${name} must not name a ${name} twice, got ${list.join(', ')}`);
  return list;
}

/**
 * Checks the options and fills in the defaults, as map_benchmark_ioctl checks `struct
 * map_benchmark` (-EINVAL there; TypeError/RangeError naming the option here).
 */
export function resolveBenchOptions(options: BenchOptions = {}): ResolvedBenchOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new TypeError(`${key} is not a bench option (${[...OPTION_NAMES].join(', ')})`);
  }
  const threads = options.threads ?? BENCH_DEFAULTS.threads;
  checkInteger(threads, 'threads', 1, BENCH_MAX_THREADS);
  const seconds = options.seconds ?? BENCH_DEFAULTS.seconds;
  if (typeof seconds !== 'number') throw new TypeError(`seconds must be a number, got ${describe(seconds)}`);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > DMA_MAP_MAX_SECONDS) {
    throw new RangeError(`seconds must be in (0, ${DMA_MAP_MAX_SECONDS}], got ${seconds}`);
  }
  let iterations: number | null = null;
  if (options.iterations !== undefined) {
    checkInteger(options.iterations, 'iterations', 1, 2 ** 32 - 1);
    iterations = options.iterations;
  }
  const warmup = options.warmup ?? BENCH_DEFAULTS.warmup;
  checkInteger(warmup, 'warmup', 0, 2 ** 32 - 1);
  const granule = options.granule ?? BENCH_DEFAULTS.granule;
  checkInteger(granule, 'granule', 1, DMA_MAP_MAX_GRANULE);
  const dir = options.dir === undefined ? BENCH_DEFAULTS.dir : parseDirection(options.dir);
  const dmaBits = options.dmaBits ?? BENCH_DEFAULTS.dmaBits;
  checkInteger(dmaBits, 'dmaBits', DMA_MAP_MIN_BITS, DMA_MAP_MAX_BITS);
  const transNs = options.transNs ?? BENCH_DEFAULTS.transNs;
  checkInteger(transNs, 'transNs', 0, DMA_MAP_MAX_TRANS_DELAY);
  const mode = options.mode === undefined ? BENCH_DEFAULTS.mode : oneOf(options.mode, 'mode', BENCH_MODES);
  const paths = listOf(options.path ?? BENCH_DEFAULTS.path, 'path', BENCH_PATHS);
  const arches = listOf(options.arch ?? BENCH_DEFAULTS.arch, 'arch', BENCH_ARCHES);
  const workers = options.workers ?? BENCH_DEFAULTS.workers;
  checkInteger(workers, 'workers', 0, BENCH_MAX_WORKERS);
  const seed = options.seed ?? BENCH_DEFAULTS.seed;
  checkInteger(seed, 'seed', 0, 2 ** 32 - 1);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError(`onProgress must be a function, got ${describe(options.onProgress)}`);
  }
  return { threads, seconds, iterations, warmup, granule, dir, dmaBits, transNs, mode, paths, arches, workers, seed };
}
