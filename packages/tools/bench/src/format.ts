/**
 * The text report. Each run opens with what tools/testing/selftests/dma/dma_map_benchmark.c prints
 * — from `struct map_benchmark`, so with the kernel's 100 ns integer arithmetic — then the baseline
 * and the ratios; a table of the exact figures of every run closes it.
 */
import type { BenchResult, BenchRun } from './bench-result.js';

/** `printf("%.1f", x_100ns / 10.0)`. */
function us100ns(units: number): string {
  return (units / 10).toFixed(1);
}

function us(ns: number, digits = 3): string {
  return (ns / 1000).toFixed(digits);
}

/** The user tool's lines for one run (the 2025 tool's mode line and "granule/sg_nents" in SG mode). */
export function formatKernelLines(result: BenchResult, run: BenchRun): string[] {
  const o = result.options;
  const k = run.mapBenchmark;
  const lines: string[] = [];
  if (o.mode === 'sg') {
    lines.push('dma mapping mode: DMA_MAP_BENCH_SG_MODE');
    lines.push(`dma mapping benchmark: threads:${k.threads} seconds:${k.seconds} node:${k.node} dir:${o.dir} granule/sg_nents: ${k.granule}`);
  } else {
    lines.push(`dma mapping benchmark: threads:${k.threads} seconds:${k.seconds} node:${k.node} dir:${o.dir} granule: ${k.granule}`);
  }
  lines.push(`average map latency(us):${us100ns(k.avgMap100ns)} standard deviation:${us100ns(k.mapStddev)}`);
  lines.push(`average unmap latency(us):${us100ns(k.avgUnmap100ns)} standard deviation:${us100ns(k.unmapStddev)}`);
  return lines;
}

function formatRun(result: BenchResult, run: BenchRun): string[] {
  const machines = run.machines === 1 ? '1 machine' : `${run.machines} machines`;
  const lines = [`== ${run.arch}, path ${run.path} (${run.ops}): ${run.loops} loops on ${machines}`];
  lines.push(...formatKernelLines(result, run));
  lines.push(
    `TypedArray.set of ${run.bytes} bytes (us):${us(run.baseline.avgNs)} standard deviation:${us(run.baseline.stddevNs)} median ${us(run.baseline.medianNs)}`,
  );
  lines.push(
    `exact (us): map ${us(run.map.avgNs)} sd ${us(run.map.stddevNs)} median ${us(run.map.medianNs)}, ` +
      `unmap ${us(run.unmap.avgNs)} sd ${us(run.unmap.stddevNs)} median ${us(run.unmap.medianNs)}; ` +
      `map ${run.mapRatio.toFixed(2)}× and unmap ${run.unmapRatio.toFixed(2)}× the baseline (medians: ${run.mapMedianRatio.toFixed(2)}×, ${run.unmapMedianRatio.toFixed(2)}×)`,
  );
  const extra: string[] = [];
  if (result.options.mode === 'sg') extra.push(`${run.dmaSegmentsPerMap.toFixed(1)} DMA segments per map`);
  if (run.swiotlbAreas !== null) extra.push(`swiotlb areas used ${run.swiotlbAreasUsed} of ${run.swiotlbAreas}`);
  if (run.swiotlb !== null) extra.push(`bounced ${run.swiotlb.bouncedToDevice} B to and ${run.swiotlb.bouncedFromDevice} B from the device`);
  if (run.iommu !== null) extra.push(`IOTLB flushes ${run.iommu.flushes}`);
  const distinct = run.perCpu.map((cpu) => cpu.distinctDmaAddresses).join('/');
  const same = run.perCpu.map((cpu) => cpu.sameDmaAddressAsLast).join('/');
  extra.push(`per CPU: distinct DMA addresses ${distinct}, same address as last time ${same}`);
  if (result.options.transNs > 0) extra.push(`simulated time ${run.simulatedNs} ns`);
  lines.push(extra.join('; '));
  return lines;
}

/** Aligned columns: the first left-aligned, the rest right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The whole report: every run, then a table of the exact averages and medians (µs) and their ratios. */
export function formatBenchText(result: BenchResult): string {
  const o = result.options;
  const workers = o.workers === 0 ? 'on the calling thread' : `in ${o.workers} worker threads`;
  const amount = o.iterations === null ? `${o.seconds} s per path` : `${o.iterations} rounds per thread`;
  const out = [
    `dma_map_benchmark on kdma: ${o.mode} mode, granule ${o.granule}, dir ${o.dir}, dma bits ${o.dmaBits}, trans ${o.transNs} ns, ` +
      `${o.threads} thread${o.threads === 1 ? '' : 's'}, ${amount}, ${workers} (node ${result.node})`,
  ];
  for (const run of result.runs) out.push('', ...formatRun(result, run));
  out.push('');
  out.push(
    ...table(
      ['arch', 'path', 'ops', 'map µs', 'median', 'unmap µs', 'median', 'set µs', 'median', 'map×set', 'median', 'unmap×set', 'median', 'loops'],
      result.runs.map((r) => [
        r.arch,
        r.path,
        r.ops,
        us(r.map.avgNs),
        us(r.map.medianNs),
        us(r.unmap.avgNs),
        us(r.unmap.medianNs),
        us(r.baseline.avgNs),
        us(r.baseline.medianNs),
        r.mapRatio.toFixed(2),
        r.mapMedianRatio.toFixed(2),
        r.unmapRatio.toFixed(2),
        r.unmapMedianRatio.toFixed(2),
        String(r.loops),
      ]),
    ),
  );
  return out.join('\n');
}
