/**
 * The benchmark's result: per arch and path, what the DMA_MAP_BENCHMARK ioctl returns in `struct
 * map_benchmark`, the exact figures behind it, the `TypedArray.set` baseline and each figure's
 * ratio to it, and how the per-CPU allocator state was used. Plain data: `JSON.stringify(result)`
 * is the `--json` output.
 */
import type { IommuStats, SwiotlbStats } from '@kdma/dma-mapping/ops';
import {
  DMA_MAP_BENCH_SG_MODE,
  DMA_MAP_BENCH_SINGLE_MODE,
  kernelAverage,
  mergeLatency,
  summarizeLatency,
  type LatencySummary,
  type MapBenchmark,
} from './map-benchmark.js';
import type { BenchCpuUsage, BenchRunRaw } from './map-benchmark-run.js';
import { DIRECTION_NAMES, type BenchArch, type BenchMode, type BenchPath, type ResolvedBenchOptions } from './options.js';

export type { BenchCpuUsage } from './map-benchmark-run.js';
export type { LatencySummary, MapBenchmark } from './map-benchmark.js';

/** One path on one arch. */
export interface BenchRun {
  readonly arch: BenchArch;
  readonly path: BenchPath;
  /** The kernel's name of the ops the device used ('dma-direct', 'iommu_dma_ops'). */
  readonly ops: string;
  readonly pageSize: number;
  /** Bytes per mapping (`granule` pages). */
  readonly bytes: number;
  /** Machines the figures come from (one per worker). */
  readonly machines: number;
  /** The kernel's `loops`: map/unmap iterations over all threads and machines. */
  readonly loops: number;
  /** `struct map_benchmark` as the ioctl fills it in, from the integer 100 ns arithmetic. */
  readonly mapBenchmark: MapBenchmark;
  /** Exact figures, ns. */
  readonly map: LatencySummary;
  readonly unmap: LatencySummary;
  /** One `TypedArray.set` of `bytes`, timed the same way in the same rounds. */
  readonly baseline: LatencySummary;
  /** Average map latency / average baseline: the ratio of the figures the kernel tool prints. */
  readonly mapRatio: number;
  /** Average unmap latency / average baseline. */
  readonly unmapRatio: number;
  /**
   * The same with medians, which a GC pause or a preempted thread cannot move (it lands in
   * whichever call it interrupts and swells that average): the ratios to compare paths by.
   */
  readonly mapMedianRatio: number;
  readonly unmapMedianRatio: number;
  /** DMA segments per mapping, on average (SG mode: what `dma_map_sg` returned). */
  readonly dmaSegmentsPerMap: number;
  /** Machine-clock ns that passed while measuring (the `transNs` delays), per machine. */
  readonly simulatedNs: number;
  /** Per simulated CPU, summed over machines. */
  readonly perCpu: readonly BenchCpuUsage[];
  /** Areas of the swiotlb pool (null without swiotlb) and how many of them the mappings used. */
  readonly swiotlbAreas: number | null;
  readonly swiotlbAreasUsed: number | null;
  /**
   * `machine.swiotlb.stats()` / `machine.iommu.stats()` at the end, summed over machines; the
   * event counters (bounced bytes, failures, IOTLB hits, misses, faults, flushes) count the
   * measured rounds only, without the warm-up.
   */
  readonly swiotlb: SwiotlbStats | null;
  readonly iommu: IommuStats | null;
}

export interface BenchResult {
  readonly tool: 'dma_map_benchmark';
  /** The options as run, defaults filled in. */
  readonly options: {
    readonly threads: number;
    readonly seconds: number;
    readonly iterations: number | null;
    readonly warmup: number;
    readonly granule: number;
    /** The user tool's `directions[dma_dir]`. */
    readonly dir: (typeof DIRECTION_NAMES)[number];
    readonly dmaDir: number;
    readonly dmaBits: number;
    readonly transNs: number;
    readonly mode: BenchMode;
    readonly node: number;
    readonly paths: readonly BenchPath[];
    readonly arches: readonly BenchArch[];
    readonly workers: number;
    readonly seed: number;
  };
  readonly runs: readonly BenchRun[];
  /** Wall-clock ms for the whole benchmark, machine set-up included. */
  readonly elapsedMs: number;
  /** `process.version`. */
  readonly node: string;
}

function sumStats<T extends object>(a: T | null, b: T | null, maxKeys: readonly string[] = []): T | null {
  if (a === null || b === null) return a ?? b;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(a)) {
    const other = (b as Record<string, unknown>)[key];
    if (typeof value !== 'number' || typeof other !== 'number') continue;
    out[key] = maxKeys.includes(key) ? Math.max(value, other) : value + other;
  }
  return out as T;
}

/** `into += from`: the same arch and path on another machine (another worker). */
export function mergeRunRaw(into: BenchRunRaw, from: BenchRunRaw): void {
  if (into.arch !== from.arch || into.path !== from.path) throw new Error(`cannot merge ${from.arch}/${from.path} into ${into.arch}/${into.path}`);
  into.machines += from.machines;
  mergeLatency(into.map, from.map);
  mergeLatency(into.unmap, from.unmap);
  mergeLatency(into.baseline, from.baseline);
  into.loops += from.loops;
  into.dmaSegments += from.dmaSegments;
  into.simulatedNs = Math.max(into.simulatedNs, from.simulatedNs);
  from.perCpu.forEach((cpu, i) => {
    const mine = into.perCpu[i];
    if (mine === undefined) {
      into.perCpu[i] = cpu;
      return;
    }
    into.perCpu[i] = {
      cpu: mine.cpu,
      loops: mine.loops + cpu.loops,
      distinctDmaAddresses: mine.distinctDmaAddresses + cpu.distinctDmaAddresses,
      sameDmaAddressAsLast: mine.sameDmaAddressAsLast + cpu.sameDmaAddressAsLast,
      swiotlbAreas: mine.swiotlbAreas.map((n, a) => n + (cpu.swiotlbAreas[a] ?? 0)),
    };
  });
  into.swiotlb = sumStats(into.swiotlb, from.swiotlb, ['totalSlots', 'highWaterSlots']);
  into.iommu = sumStats(into.iommu, from.iommu);
}

/** A ratio to the baseline, to 4 decimals; the baseline is floored at 1 ns, below the timer's resolution. */
function ratio(ns: number, baselineNs: number): number {
  return Math.round((ns / Math.max(1, baselineNs)) * 1e4) / 1e4;
}

function finishRun(raw: BenchRunRaw, options: ResolvedBenchOptions): BenchRun {
  const map = summarizeLatency(raw.map);
  const unmap = summarizeLatency(raw.unmap);
  const baseline = summarizeLatency(raw.baseline);
  const kMap = kernelAverage(raw.map);
  const kUnmap = kernelAverage(raw.unmap);
  const areasUsed = raw.swiotlbAreas === null ? null : new Array(raw.swiotlbAreas).fill(0).filter((_, a) => raw.perCpu.some((cpu) => (cpu.swiotlbAreas[a] ?? 0) > 0)).length;
  return {
    arch: raw.arch,
    path: raw.path,
    ops: raw.ops,
    pageSize: raw.pageSize,
    bytes: raw.bytes,
    machines: raw.machines,
    loops: raw.loops,
    mapBenchmark: {
      avgMap100ns: kMap.avg100ns,
      mapStddev: kMap.stddev100ns,
      avgUnmap100ns: kUnmap.avg100ns,
      unmapStddev: kUnmap.stddev100ns,
      threads: options.threads,
      seconds: options.seconds,
      node: -1,
      dmaBits: options.dmaBits,
      dmaDir: options.dir,
      dmaTransNs: options.transNs,
      granule: options.granule,
      mapMode: options.mode === 'sg' ? DMA_MAP_BENCH_SG_MODE : DMA_MAP_BENCH_SINGLE_MODE,
    },
    map,
    unmap,
    baseline,
    mapRatio: ratio(map.avgNs, baseline.avgNs),
    unmapRatio: ratio(unmap.avgNs, baseline.avgNs),
    mapMedianRatio: ratio(map.medianNs, baseline.medianNs),
    unmapMedianRatio: ratio(unmap.medianNs, baseline.medianNs),
    dmaSegmentsPerMap: raw.loops === 0 ? 0 : raw.dmaSegments / raw.loops,
    simulatedNs: raw.simulatedNs,
    perCpu: raw.perCpu,
    swiotlbAreas: raw.swiotlbAreas,
    swiotlbAreasUsed: areasUsed,
    swiotlb: raw.swiotlb,
    iommu: raw.iommu,
  };
}

/** The result of one set of runs per machine set (one per worker), merged run by run. */
export function buildBenchResult(options: ResolvedBenchOptions, perMachineSet: readonly BenchRunRaw[][], elapsedMs: number): BenchResult {
  const [first, ...rest] = perMachineSet;
  if (first === undefined) throw new Error('buildBenchResult: no runs');
  for (const set of rest) set.forEach((raw, i) => mergeRunRaw(first[i] as BenchRunRaw, raw));
  return {
    tool: 'dma_map_benchmark',
    options: {
      threads: options.threads,
      seconds: options.seconds,
      iterations: options.iterations,
      warmup: options.warmup,
      granule: options.granule,
      dir: DIRECTION_NAMES[options.dir as 0 | 1 | 2],
      dmaDir: options.dir,
      dmaBits: options.dmaBits,
      transNs: options.transNs,
      mode: options.mode,
      node: -1,
      paths: options.paths,
      arches: options.arches,
      workers: options.workers,
      seed: options.seed,
    },
    runs: first.map((raw) => finishRun(raw, options)),
    elapsedMs,
    node: process.version,
  };
}
