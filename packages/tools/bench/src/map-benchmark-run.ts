/**
 * `do_map_benchmark` and `map_benchmark_thread` on one machine: `threads` benchmark threads, each
 * on its own simulated CPU, run in lockstep rounds. In a round every CPU in turn (inside
 * `machine.runOn(cpu, …)`) stains its buffer and maps it, timing the map; then the machine's clock
 * advances `transNs` once — the threads' transfers are in flight together, as the kernel's
 * threads' `ndelay`s overlap — and every CPU in turn unmaps, timing the unmap. So `threads`
 * mappings are live at once, each CPU allocates from and frees into its own IOVA rcache magazines
 * and swiotlb area, and the same seed and round count give the same allocations every run.
 *
 * Each round also times one `TypedArray.set` of the mapping's size per thread: the baseline,
 * measured with the same timer, in the same run, under the same JIT and GC weather.
 */
import { IO_TLB_SIZE } from '@kdma/swiotlb';
import type { Device } from '@kdma/dma-mapping';
import { dmaToPhys, getDmaOps, MachineSwiotlb, type IommuStats, type Machine, type SwiotlbStats } from '@kdma/dma-mapping/ops';
import { createBenchMachine } from './bench-machine.js';
import { addLatency, createLatencyAccumulator, type LatencyAccumulator } from './map-benchmark.js';
import { prepareMapBenchmark, type MapBenchmarkOps } from './map-benchmark-ops.js';
import type { BenchArch, BenchPath, ResolvedBenchOptions } from './options.js';

/** What one simulated CPU's thread saw: how its per-CPU allocator state was used. */
export interface BenchCpuUsage {
  readonly cpu: number;
  /** Map/unmap iterations this CPU did. */
  readonly loops: number;
  /** Distinct DMA addresses (IOVAs, bounce slots) its mappings got. */
  readonly distinctDmaAddresses: number;
  /**
   * Mappings that got the same DMA address as this CPU's previous one: on an IOMMU in strict mode,
   * the IOVA this CPU just freed coming back from its own rcache magazine.
   */
  readonly sameDmaAddressAsLast: number;
  /** Bounce-buffer segments per swiotlb area (index = area); empty when the path has no swiotlb. */
  readonly swiotlbAreas: readonly number[];
}

/** The raw, mergeable outcome of one path on one machine (or several, merged). */
export interface BenchRunRaw {
  readonly arch: BenchArch;
  readonly path: BenchPath;
  /** The kernel's name of the ops the device used. */
  readonly ops: string;
  readonly pageSize: number;
  /** Bytes per mapping: `granule` pages. */
  readonly bytes: number;
  machines: number;
  readonly map: LatencyAccumulator;
  readonly unmap: LatencyAccumulator;
  readonly baseline: LatencyAccumulator;
  /** The kernel's `loops`: iterations over all threads. */
  loops: number;
  /** DMA segments over all mappings (sg mode: what `dma_map_sg` returned). */
  dmaSegments: number;
  /** Machine-clock ns that passed while measuring (the `transNs` delays). */
  simulatedNs: number;
  readonly perCpu: BenchCpuUsage[];
  /** Areas of the swiotlb pool, or null without swiotlb. */
  readonly swiotlbAreas: number | null;
  swiotlb: SwiotlbStats | null;
  iommu: IommuStats | null;
}

/** How a raw run reports progress: the fraction of this run done. */
export type RunProgress = (fraction: number) => void;

/** Maps a DMA address to its swiotlb area, or -1. Built once per machine. */
function swiotlbAreaLookup(machine: Machine, dev: Device): { nareas: number; areaOf: (addr: number) => number } | null {
  const backend = machine.swiotlb;
  if (!(backend instanceof MachineSwiotlb) || backend.defaultMem === null) return null;
  const pool = backend.defaultMem.defpool;
  if (pool === null) return null;
  const { start, end, areaNslabs, nareas } = pool;
  return {
    nareas,
    areaOf: (addr: number) => {
      const phys = dmaToPhys(dev, addr);
      if (phys < start || phys >= end) return -1;
      return Math.floor((phys - start) / IO_TLB_SIZE / areaNslabs);
    },
  };
}

/** One `dma-map-benchmark/%d` kthread, bound to simulated CPU `cpu`. */
class BenchThread {
  recording = false;
  loops = 0;
  same = 0;
  segments = 0;
  private lastAddr = -1;
  private readonly addrs = new Set<number>();
  readonly areas: number[];
  /** Prebuilt so a round allocates no closures. */
  readonly mapStep: () => void;
  readonly unmapStep: () => void;

  constructor(
    readonly cpu: number,
    readonly ops: MapBenchmarkOps,
    map: LatencyAccumulator,
    unmap: LatencyAccumulator,
    lookup: { nareas: number; areaOf: (addr: number) => number } | null,
  ) {
    this.areas = lookup === null ? [] : new Array<number>(lookup.nareas).fill(0);
    const areaOf = lookup?.areaOf ?? null;
    this.mapStep = () => {
      ops.initializeData();
      const t0 = performance.now();
      ops.doMap();
      const t1 = performance.now();
      if (!this.recording) return;
      addLatency(map, (t1 - t0) * 1e6);
      this.observe(areaOf);
    };
    this.unmapStep = () => {
      const t0 = performance.now();
      ops.doUnmap();
      const t1 = performance.now();
      if (!this.recording) return;
      addLatency(unmap, (t1 - t0) * 1e6);
      this.loops++;
    };
  }

  /** Untimed: which DMA address and swiotlb areas this mapping got. */
  private observe(areaOf: ((addr: number) => number) | null): void {
    const ops = this.ops;
    const addr = ops.dmaAddress;
    if (addr === this.lastAddr) this.same++;
    this.lastAddr = addr;
    this.addrs.add(addr);
    const n = ops.dmaSegments;
    this.segments += n;
    if (areaOf === null) return;
    for (let i = 0; i < n; i++) {
      const area = areaOf(ops.segmentAddress(i));
      if (area >= 0) this.areas[area] = (this.areas[area] as number) + 1;
    }
  }

  usage(): BenchCpuUsage {
    return { cpu: this.cpu, loops: this.loops, distinctDmaAddresses: this.addrs.size, sameDmaAddressAsLast: this.same, swiotlbAreas: [...this.areas] };
  }
}

/** The stats that count events (the rest are state: slots in use, flushes pending). */
const SWIOTLB_COUNTERS: readonly string[] = ['bouncedToDevice', 'bouncedFromDevice', 'failures'];
const IOMMU_COUNTERS: readonly string[] = ['iotlbHits', 'iotlbMisses', 'faults', 'flushes'];

/** `after` with its event counters made relative to `before`: what the measured rounds did. */
function countersSince<T extends object>(before: T | null, after: T | null, counters: readonly string[]): T | null {
  if (before === null || after === null) return after;
  const out = { ...after } as Record<string, unknown>;
  for (const key of counters) {
    const a = (after as Record<string, unknown>)[key];
    const b = (before as Record<string, unknown>)[key];
    if (typeof a === 'number' && typeof b === 'number') out[key] = a - b;
  }
  return out as T;
}

/** The least time between two progress reports. */
const PROGRESS_MS = 100;

/**
 * Measures `path` on `arch` with a fresh machine seeded `seed`: warm-up rounds, then rounds until
 * `iterations` are done or `seconds` of wall clock have passed (looked at after every round).
 */
export function runMapBenchmark(options: ResolvedBenchOptions, arch: BenchArch, path: BenchPath, seed: number, progress?: RunProgress): BenchRunRaw {
  const { threads: nthreads, granule, dir, mode, transNs, iterations, warmup } = options;
  const { machine, dev } = createBenchMachine(arch, path, nthreads, seed, options.dmaBits);
  const map = createLatencyAccumulator();
  const unmap = createLatencyAccumulator();
  const baseline = createLatencyAccumulator();
  const lookup = swiotlbAreaLookup(machine, dev);
  const threads: BenchThread[] = [];
  for (let cpu = 0; cpu < nthreads; cpu++) {
    // alloc_pages_exact in the kthread, on its CPU.
    const ops = machine.runOn(cpu, () => prepareMapBenchmark(mode, machine, dev, granule, dir));
    threads.push(new BenchThread(cpu, ops, map, unmap, lookup));
  }
  const bytes = granule * machine.pageSize;
  // Both windows of one buffer, whole pages apart: two arrays allocated apart may sit 16–48 bytes
  // apart within a cache line, which doubles a 4 KiB copy and would make the baseline a lottery.
  const copyBuffer = new Uint8Array(2 * bytes);
  const src = copyBuffer.subarray(0, bytes).fill(0x66);
  const dst = copyBuffer.subarray(bytes);

  const round = (record: boolean): void => {
    for (let c = 0; c < nthreads; c++) machine.runOn(c, (threads[c] as BenchThread).mapStep);
    // "Pretend DMA is transmitting": ndelay(dma_trans_ns), the threads' delays overlapping.
    if (transNs > 0) machine.clock.advance(transNs);
    for (let c = 0; c < nthreads; c++) machine.runOn(c, (threads[c] as BenchThread).unmapStep);
    for (let c = 0; c < nthreads; c++) {
      const t0 = performance.now();
      dst.set(src);
      const t1 = performance.now();
      if (record) addLatency(baseline, (t1 - t0) * 1e6);
    }
  };

  try {
    // Warm-up: whole rounds; with a time limit, at most a fifth of it.
    const warmupRounds = Math.ceil(warmup / nthreads);
    const warmupEnd = performance.now() + options.seconds * 200;
    for (let i = 0; i < warmupRounds; i++) {
      round(false);
      if (iterations === null && performance.now() >= warmupEnd) break;
    }
    for (const t of threads) t.recording = true;
    const swiotlb0 = machine.swiotlb?.stats() ?? null;
    const iommu0 = machine.iommu?.stats() ?? null;
    const clock0 = machine.clock.now();
    const start = performance.now();
    const deadline = start + options.seconds * 1000;
    let lastProgress = start;
    // The clock is read once a round, outside the timed calls; a round is at least `threads`
    // maps and unmaps, so this costs little, and a slow round (1024 pages through swiotlb on
    // many CPUs) cannot overrun the deadline by more than itself.
    for (let r = 1; ; r++) {
      round(true);
      if (iterations !== null && r >= iterations) break;
      const now = performance.now();
      if (iterations === null && now >= deadline) break;
      if (progress !== undefined && now - lastProgress >= PROGRESS_MS) {
        lastProgress = now;
        progress(iterations === null ? (now - start) / (deadline - start) : r / iterations);
      }
    }
    const simulatedNs = machine.clock.now() - clock0;
    progress?.(1);
    return {
      arch,
      path,
      ops: getDmaOps(dev).name,
      pageSize: machine.pageSize,
      bytes,
      machines: 1,
      map,
      unmap,
      baseline,
      loops: threads.reduce((n, t) => n + t.loops, 0),
      dmaSegments: threads.reduce((n, t) => n + t.segments, 0),
      simulatedNs,
      perCpu: threads.map((t) => t.usage()),
      swiotlbAreas: lookup?.nareas ?? null,
      swiotlb: countersSince(swiotlb0, machine.swiotlb?.stats() ?? null, SWIOTLB_COUNTERS),
      iommu: countersSince(iommu0, machine.iommu?.stats() ?? null, IOMMU_COUNTERS),
    };
  } finally {
    for (const t of threads) machine.runOn(t.cpu, () => t.ops.unprepare());
  }
}

/** Every arch × path of the options on this thread, in order, with `seed`. */
export function runMapBenchmarks(options: ResolvedBenchOptions, seed: number, progress?: RunProgress): BenchRunRaw[] {
  const jobs: [BenchArch, BenchPath][] = [];
  for (const arch of options.arches) for (const path of options.paths) jobs.push([arch, path]);
  return jobs.map(([arch, path], i) =>
    runMapBenchmark(options, arch, path, seed, progress === undefined ? undefined : (f) => progress((i + f) / jobs.length)),
  );
}
