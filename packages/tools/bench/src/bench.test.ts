import { describe, expect, it } from '@jest/globals';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import {
  BENCH_ARCHES,
  BENCH_PATHS,
  formatBenchText,
  MapBenchmarkError,
  runBench,
  runBenchSync,
  type BenchOptions,
  type BenchResult,
  type BenchRun,
} from './index.js';

/** A small, exact amount of work: no warm-up, a fixed number of rounds. */
const quick = (options: BenchOptions = {}): BenchResult => runBenchSync({ iterations: 20, warmup: 0, ...options });

function run(result: BenchResult, arch: string, path: string): BenchRun {
  const found = result.runs.find((r) => r.arch === arch && r.path === path);
  if (found === undefined) throw new Error(`no run ${arch}/${path}`);
  return found;
}

describe('runBench: the result', () => {
  it('has every path on every arch, with finite, non-negative averages and ratios, and survives JSON', async () => {
    const result = await runBench({ iterations: 30, warmup: 0, arch: 'all', threads: 2 });
    expect(result.runs.map((r) => `${r.arch}/${r.path}`)).toEqual(BENCH_ARCHES.flatMap((a) => BENCH_PATHS.map((p) => `${a}/${p}`)));
    for (const r of result.runs) {
      for (const figure of [r.map, r.unmap, r.baseline]) {
        expect(figure.samples).toBe(60);
        for (const value of [figure.avgNs, figure.stddevNs, figure.medianNs, figure.minNs, figure.maxNs]) {
          expect(Number.isFinite(value)).toBe(true);
          expect(value).toBeGreaterThanOrEqual(0);
        }
      }
      for (const value of [r.mapRatio, r.unmapRatio, r.mapMedianRatio, r.unmapMedianRatio]) {
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThanOrEqual(0);
      }
      const k = r.mapBenchmark;
      for (const value of [k.avgMap100ns, k.mapStddev, k.avgUnmap100ns, k.unmapStddev]) expect(Number.isInteger(value) && value >= 0).toBe(true);
      expect(k).toMatchObject({ threads: 2, node: -1, dmaBits: 32, dmaDir: 0, dmaTransNs: 0, granule: 1, mapMode: 0 });
      expect(r.loops).toBe(60);
      expect(r.bytes).toBe(4096);
      expect(r.ops).toBe(r.path.startsWith('iommu') ? 'iommu_dma_ops' : 'dma-direct');
    }
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(result.options).toMatchObject({ threads: 2, seconds: 1, granule: 1, dir: 'BIDIRECTIONAL', dmaDir: 0, dmaBits: 32, transNs: 0, mode: 'single', workers: 0 });
  });

  it('defaults to one thread, 1 s, granule 1, BIDIRECTIONAL, 32 bits, no delay, single mode, every path on arm', () => {
    const result = quick();
    expect(result.options).toMatchObject({ threads: 1, seconds: 1, granule: 1, dir: 'BIDIRECTIONAL', dmaBits: 32, transNs: 0, mode: 'single', arches: ['arm'], paths: [...BENCH_PATHS], seed: 1 });
    expect(result.runs).toHaveLength(4);
  });

  it('runs for `seconds` of wall clock when no iteration count is given', () => {
    const result = runBenchSync({ seconds: 0.05, warmup: 0, path: 'direct', arch: 'x86' });
    expect(result.runs[0]?.loops).toBeGreaterThan(0);
    expect(result.options.iterations).toBeNull();
  });

  it('bounces through swiotlb by direction: back from the device only for BIDIRECTIONAL and FROM_DEVICE', () => {
    const bounced = (dir: NonNullable<BenchOptions['dir']>) => run(quick({ path: 'swiotlb', arch: 'x86', granule: 2, dir }), 'x86', 'swiotlb').swiotlb;
    expect(bounced('bidi')).toMatchObject({ bouncedToDevice: 20 * 8192, bouncedFromDevice: 20 * 8192, usedSlots: 0 });
    expect(bounced(DMA_TO_DEVICE)).toMatchObject({ bouncedToDevice: 20 * 8192, bouncedFromDevice: 0 });
    // Since the CVE-2022-0854 fix the map copies the buffer into the slot whatever the direction.
    expect(bounced(DMA_FROM_DEVICE)).toMatchObject({ bouncedToDevice: 20 * 8192, bouncedFromDevice: 20 * 8192 });
    expect(quick({ path: 'swiotlb', dir: 'from' }).options.dir).toBe('FROM_DEVICE');
    // The warm-up bounces too, but the counters report the measured rounds only.
    expect(run(quick({ path: 'swiotlb', warmup: 7 }), 'arm', 'swiotlb').swiotlb).toMatchObject({ bouncedToDevice: 20 * 4096 });
  });

  it('fails as the ioctl fails: a DMA mask the device cannot have is -EINVAL', () => {
    expect.assertions(2);
    return runBench({ iterations: 1, warmup: 0, path: 'direct', dmaBits: 20 }).catch((error: unknown) => {
      expect(error).toBeInstanceOf(MapBenchmarkError);
      expect(error).toMatchObject({ errno: 'EINVAL', message: expect.stringMatching(/failed to set dma_mask on device dma_map_benchmark/) });
    });
  });

  it('fails as the kthread fails: a mapping swiotlb cannot hold is -ENOMEM, with the reason', () => {
    // 256 pages = 1 MiB; a swiotlb mapping holds at most IO_TLB_SEGSIZE slots (256 KiB).
    expect(() => runBenchSync({ iterations: 1, warmup: 0, path: 'swiotlb', granule: 256 })).toThrow(MapBenchmarkError);
    expect(() => runBenchSync({ iterations: 1, warmup: 0, path: 'swiotlb', granule: 256 })).toThrow(
      /^dma_map_single failed on dma_map_benchmark \(dmesg: .*swiotlb buffer is full/,
    );
    expect(runBenchSync({ iterations: 1, warmup: 0, path: 'swiotlb', granule: 64 }).runs[0]?.loops).toBe(1);
  });

  it('reports progress from 0 to 1 without going back', () => {
    const seen: number[] = [];
    runBenchSync({ iterations: 5, warmup: 0, arch: 'all', path: ['direct', 'iommu-lazy'], onProgress: (f) => seen.push(f) });
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.at(-1)).toBe(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
  });
});

describe('runBench: threads are simulated CPUs in lockstep rounds', () => {
  it('gives each CPU its own swiotlb area, and the same seed gives the same usage', () => {
    const a = quick({ threads: 3, path: 'swiotlb', seed: 7 });
    const b = quick({ threads: 3, path: 'swiotlb', seed: 7 });
    const r = run(a, 'arm', 'swiotlb');
    expect(r.perCpu).toEqual(run(b, 'arm', 'swiotlb').perCpu);
    // 3 CPUs round up to 4 areas; CPU i's search starts in area i, which is free.
    expect(r.swiotlbAreas).toBe(4);
    expect(r.swiotlbAreasUsed).toBe(3);
    expect(r.perCpu.map((cpu) => cpu.swiotlbAreas)).toEqual([
      [20, 0, 0, 0],
      [0, 20, 0, 0],
      [0, 0, 20, 0],
    ]);
    expect(r.perCpu.map((cpu) => cpu.loops)).toEqual([20, 20, 20]);
    // The three mappings of a round are live at once: the pool's high-water mark holds them all.
    expect(r.swiotlb?.highWaterSlots).toBe(3 * 2);
  });

  it('strict IOMMU: each CPU gets back the IOVA it just freed from its own rcache magazine', () => {
    const r = run(quick({ threads: 4, path: 'iommu-strict', arch: 'x86' }), 'x86', 'iommu-strict');
    for (const cpu of r.perCpu) expect(cpu).toMatchObject({ loops: 20, distinctDmaAddresses: 1, sameDmaAddressAsLast: 19 });
    expect(r.iommu?.flushes).toBeGreaterThanOrEqual(80);
  });

  it('lazy IOMMU: freed IOVAs wait in the flush queue, so each map gets a fresh one', () => {
    const r = run(quick({ threads: 2, path: 'iommu-lazy' }), 'arm', 'iommu-lazy');
    for (const cpu of r.perCpu) expect(cpu).toMatchObject({ loops: 20, distinctDmaAddresses: 20, sameDmaAddressAsLast: 0 });
    expect(r.iommu?.pendingFlushes).toBeGreaterThan(0);
  });

  it('--trans-ns advances the machine clock once per round, and the flush queue timer fires on it', () => {
    const idle = quick({ threads: 2, path: ['direct', 'iommu-lazy'] });
    const busy = quick({ threads: 2, path: ['direct', 'iommu-lazy'], transNs: 10_000_000 });
    for (const r of idle.runs) expect(r.simulatedNs).toBe(0);
    for (const r of busy.runs) expect(r.simulatedNs).toBe(20 * 10_000_000);
    expect(busy.runs[0]?.mapBenchmark.dmaTransNs).toBe(10_000_000);
    // IOVA_DEFAULT_FQ_TIMEOUT is 10 ms: every round's delay lets the timer flush the queue.
    const flushes = (result: BenchResult) => run(result, 'arm', 'iommu-lazy').iommu?.flushes ?? 0;
    expect(flushes(busy)).toBeGreaterThan(flushes(idle));
  });
});

describe('runBench: SG mode', () => {
  it('maps `granule` single pages with dma_map_sg: one DMA segment behind an IOMMU, one per page elsewhere', () => {
    const result = quick({ mode: 'sg', granule: 4, threads: 2, arch: 'all' });
    for (const r of result.runs) {
      expect(r.mapBenchmark.mapMode).toBe(1);
      expect(r.dmaSegmentsPerMap).toBe(r.path.startsWith('iommu') ? 1 : 4);
    }
    expect(run(result, 'x86', 'swiotlb').swiotlb).toMatchObject({ bouncedToDevice: 40 * 4 * 4096, bouncedFromDevice: 40 * 4 * 4096 });
    // Every page bounces on its own, in the CPU's own area.
    expect(run(result, 'arm', 'swiotlb').perCpu.map((cpu) => cpu.swiotlbAreas)).toEqual([
      [80, 0],
      [0, 80],
    ]);
  });

  it('maps one buffer of `granule` pages in single mode', () => {
    const r = run(quick({ granule: 4, path: 'swiotlb' }), 'arm', 'swiotlb');
    expect(r.dmaSegmentsPerMap).toBe(1);
    expect(r.bytes).toBe(16384);
    expect(r.swiotlb?.bouncedToDevice).toBe(20 * 16384);
  });
});

describe('runBench: workers', () => {
  it('runs independent machines in worker threads and merges their statistics', async () => {
    const progress: number[] = [];
    const result = await runBench({ workers: 2, iterations: 25, warmup: 0, threads: 2, arch: 'x86', path: ['direct', 'iommu-strict'], onProgress: (f) => progress.push(f) });
    expect(result.options.workers).toBe(2);
    for (const r of result.runs) {
      expect(r.machines).toBe(2);
      expect(r.loops).toBe(2 * 2 * 25);
      expect(r.map.samples).toBe(100);
      expect(r.unmap.samples).toBe(100);
      expect(r.baseline.samples).toBe(100);
      expect(r.perCpu.map((cpu) => cpu.loops)).toEqual([50, 50]);
      expect(Number.isFinite(r.mapRatio)).toBe(true);
    }
    // Each machine's CPU kept one IOVA: two machines, two distinct addresses per CPU index.
    expect(run(result, 'x86', 'iommu-strict').perCpu.map((cpu) => cpu.distinctDmaAddresses)).toEqual([2, 2]);
    expect(progress.at(-1)).toBe(1);
  }, 60_000);

  it('passes a worker failure on as the same error', async () => {
    await expect(runBench({ workers: 1, iterations: 1, warmup: 0, path: 'swiotlb', arch: 'x86', dmaBits: 20 })).rejects.toMatchObject({
      name: 'MapBenchmarkError',
      errno: 'EINVAL',
    });
  }, 60_000);
});

describe('runBench: bad options', () => {
  const cases: [BenchOptions, ErrorConstructor, RegExp][] = [
    [{ threads: 0 }, RangeError, /^threads /],
    [{ threads: 1.5 }, RangeError, /^threads /],
    [{ threads: 257 }, RangeError, /^threads /],
    [{ threads: '2' as unknown as number }, TypeError, /^threads /],
    [{ seconds: 0 }, RangeError, /^seconds /],
    [{ seconds: 301 }, RangeError, /^seconds /],
    [{ seconds: Number.NaN }, RangeError, /^seconds /],
    [{ iterations: 0 }, RangeError, /^iterations /],
    [{ warmup: -1 }, RangeError, /^warmup /],
    [{ granule: 0 }, RangeError, /^granule /],
    [{ granule: 1025 }, RangeError, /^granule /],
    [{ dir: 3 as never }, RangeError, /^dir /],
    [{ dir: 'sideways' as never }, RangeError, /^dir /],
    [{ dmaBits: 19 }, RangeError, /^dmaBits /],
    [{ dmaBits: 65 }, RangeError, /^dmaBits /],
    [{ transNs: 10_000_001 }, RangeError, /^transNs /],
    [{ transNs: -1 }, RangeError, /^transNs /],
    [{ mode: 'scatter' as never }, RangeError, /^mode /],
    [{ path: 'iommu' as never }, RangeError, /^path /],
    [{ path: [] }, RangeError, /^path /],
    [{ path: ['direct', 'direct'] }, RangeError, /^path /],
    [{ path: 4 as never }, TypeError, /^path /],
    [{ arch: 'mips' as never }, RangeError, /^arch /],
    [{ workers: -1 }, RangeError, /^workers /],
    [{ seed: 2 ** 32 }, RangeError, /^seed /],
    [{ onProgress: 5 as never }, TypeError, /^onProgress /],
    [{ thread: 2 } as BenchOptions, TypeError, /^thread is not a bench option/],
  ];

  it.each(cases)('%p throws at once, naming the option', (options, type, message) => {
    expect(() => runBench(options)).toThrow(type);
    expect(() => runBench(options)).toThrow(message);
    expect(() => runBenchSync(options)).toThrow(type);
  });

  it('runBenchSync refuses workers', () => {
    expect(() => runBenchSync({ workers: 2 })).toThrow(/^workers must be 0/);
  });
});

describe('formatBenchText', () => {
  it("prints the kernel tool's lines from struct map_benchmark, then the baseline, the ratios and a table", () => {
    const result = quick({ threads: 2, granule: 2, dir: 'to', arch: 'x86' });
    const text = formatBenchText(result);
    for (const r of result.runs) {
      const k = r.mapBenchmark;
      expect(text).toContain(`== x86, path ${r.path} (${r.ops}): 40 loops on 1 machine`);
      expect(text).toContain(`average map latency(us):${(k.avgMap100ns / 10).toFixed(1)} standard deviation:${(k.mapStddev / 10).toFixed(1)}`);
      expect(text).toContain(`average unmap latency(us):${(k.avgUnmap100ns / 10).toFixed(1)} standard deviation:${(k.unmapStddev / 10).toFixed(1)}`);
    }
    expect(text.match(/^dma mapping benchmark: threads:2 seconds:1 node:-1 dir:TO_DEVICE granule: 2$/gm)).toHaveLength(4);
    expect(text.match(/^TypedArray\.set of 8192 bytes \(us\):\d+\.\d{3} standard deviation:\d+\.\d{3} median \d+\.\d{3}$/gm)).toHaveLength(4);
    expect(text).toMatch(/^arch +path +ops +map µs +median +unmap µs/m);
    expect(text).toMatch(/^x86 +iommu-lazy +iommu_dma_ops( +\d+\.\d+){10} +40$/m);
    expect(text).toContain('swiotlb areas used 2 of 2');
    expect(text).not.toContain('DMA_MAP_BENCH_SG_MODE');
  });

  it("prints the 2025 tool's mode line and granule/sg_nents in SG mode", () => {
    const text = formatBenchText(quick({ mode: 'sg', granule: 3, path: 'iommu-strict', dir: 'from' }));
    expect(text).toContain('dma mapping mode: DMA_MAP_BENCH_SG_MODE\ndma mapping benchmark: threads:1 seconds:1 node:-1 dir:FROM_DEVICE granule/sg_nents: 3');
    expect(text).toContain('1.0 DMA segments per map');
  });
});

describe('workerLaunch', () => {
  it('runs built JavaScript as it is, and TypeScript sources through tsx with the @kdma/source condition', async () => {
    const { workerLaunch } = await import('./run-workers.js');
    expect(workerLaunch('file:///pkg/dist/run-workers.js')).toEqual({ entry: 'file:///pkg/dist/bench-worker.js', tsx: null, execArgv: [] });
    const fromSources = workerLaunch(new URL('./run-workers.ts', `file://${__dirname}/`).href);
    expect(fromSources.entry).toMatch(/\/src\/bench-worker\.ts$/);
    expect(fromSources.tsx).toMatch(/^file:\/\/.*\/tsx\/.*\.mjs$/);
    expect(fromSources.execArgv).toEqual(['--conditions=@kdma/source']);
  });
});
