/** The plain-text report: one block per scenario, and optionally its memory snapshots. */
import type { ScenarioResult, WorkloadReport } from '../scenario/run.js';
import { formatSize, hexAddr } from '../sizes.js';
import type { MemorySnapshot } from './snapshot.js';

const pad = (label: string): string => `  ${label.padEnd(10)}`;
const cont = ' '.repeat(12);

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function describeDetails(w: WorkloadReport): string {
  const d = w.details;
  const parts: string[] = [];
  if (typeof d['dmaSegmentsPerBuffer'] === 'number') {
    let text = `${plural(d['dmaSegmentsPerBuffer'], 'DMA segment')} per buffer`;
    if (typeof d['physicalRunsPerBuffer'] === 'number') text += ` over ${plural(d['physicalRunsPerBuffer'], 'physically contiguous run')}`;
    else if (typeof d['sgEntriesPerBuffer'] === 'number') text += ` from ${d['sgEntriesPerBuffer']} sg entr${d['sgEntriesPerBuffer'] === 1 ? 'y' : 'ies'}`;
    parts.push(text);
  }
  if (typeof d['userMapping'] === 'string') parts.push(`user mapping ${d['userMapping']}`);
  if (typeof d['rxCopybreak'] === 'number') parts.push(`${d['rxCopybreak']} received by copybreak`);
  if (typeof d['dmaFaults'] === 'number' && d['dmaFaults'] > 0) parts.push(`${plural(d['dmaFaults'], 'DMA fault')}`);
  if (typeof d['rxMissed'] === 'number' && d['rxMissed'] > 0) parts.push(`${d['rxMissed']} missed`);
  if (typeof d['firstBadByte'] === 'number') parts.push(`first bad byte at ${d['firstBadByte']}`);
  for (const [key, value] of Object.entries(d)) if (key.startsWith('failure')) parts.push(String(value));
  return parts.join('; ');
}

export function formatScenarioText(r: ScenarioResult): string {
  const lines: string[] = [];
  lines.push(`== ${r.name}${r.description === '' ? '' : `: ${r.description}`}`);
  lines.push(`${pad('machine')}${r.arch}/${r.platform}, ${formatSize(r.memoryBytes)} RAM, ${r.iommuName === null ? 'no IOMMU' : `IOMMU ${r.iommuName}`}, ${r.swiotlb === null ? 'no swiotlb' : `swiotlb ${formatSize(r.swiotlb.totalSlots * 2048)}`}, dma-debug ${r.dmaDebugEnabled ? 'on' : 'off'}`);
  for (const dev of r.devices) {
    lines.push(`${pad('device')}${dev.name}: ${dev.ops} (${dev.dmaBits}-bit, ${dev.coherent ? 'coherent' : 'non-coherent'}${dev.iommu ? ', behind the IOMMU' : ''})`);
  }
  for (const w of r.workloads) {
    lines.push(`${pad('workload')}${w.label}`);
    const details = describeDetails(w);
    lines.push(`${cont}${w.good}/${w.done} ${w.unit} intact${details === '' ? '' : `; ${details}`}`);
    if (w.error !== null) lines.push(`${cont}error: ${w.error}`);
  }
  const b = r.bytesMoved;
  lines.push(`${pad('bytes')}devices read ${formatSize(b.deviceRead)} and wrote ${formatSize(b.deviceWritten)}; CPUs read ${formatSize(b.cpuRead)} and wrote ${formatSize(b.cpuWritten)}`);
  lines.push(`${pad('cache')}${r.cache.cleans} cleans, ${r.cache.invalidates} invalidates, ${r.cache.flushes} flushes; ${r.cache.wcDrains} write-combine drains`);
  const s = r.swiotlb;
  lines.push(
    `${pad('bounces')}${
      s === null
        ? 'none (no swiotlb)'
        : `${formatSize(s.bouncedToDevice)} bounced to the device, ${formatSize(s.bouncedFromDevice)} from it; high water ${s.highWaterSlots} of ${s.totalSlots} slots; ${s.usedSlots} in use; ${plural(s.failures, 'failure')}`
    }`,
  );
  const m = r.iommu;
  lines.push(`${pad('iotlb')}${m === null ? 'none (no IOMMU)' : `${m.iotlbHits} hits, ${m.iotlbMisses} misses; ${m.flushes} flush${m.flushes === 1 ? '' : 'es'}; ${plural(m.faults, 'fault')}; ${formatSize(m.mappedBytes)} still mapped`}`);
  const v4l2 = r.workloads.find((w) => typeof w.details['vmallocSaved'] === 'number');
  if (r.vmallocSaved !== null && v4l2 !== undefined) {
    lines.push(
      `${pad('vmalloc')}${formatSize(r.vmallocSaved)} saved by DMA_ATTR_NO_KERNEL_MAPPING (${formatSize(v4l2.details['kernelVirtualBytes'] as number)} used, ${formatSize(v4l2.details['kernelVirtualBytesWithoutAttr'] as number)} without it)`,
    );
  } else lines.push(`${pad('vmalloc')}not compared (no workload with DMA_ATTR_NO_KERNEL_MAPPING)`);
  if (!r.dmaDebugEnabled) lines.push(`${pad('dma-debug')}off (machine.dmaDebug: false)`);
  else if (r.dmaDebug.length === 0) lines.push(`${pad('dma-debug')}no findings`);
  else {
    const kinds = new Map<string, number>();
    for (const e of r.dmaDebug) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
    lines.push(`${pad('dma-debug')}${plural(r.dmaDebug.length, 'finding')}: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    for (const e of r.dmaDebug.slice(0, 3)) lines.push(`${cont}${e.device}: ${e.message.split('\n')[0] ?? ''}`);
    if (r.dmaDebug.length > 3) lines.push(`${cont}… and ${r.dmaDebug.length - 3} more (--json lists them all)`);
  }
  if (r.faults > 0) lines.push(`${pad('faults')}${plural(r.faults, 'DMA fault')} on the bus`);
  const data = r.intact ? 'every byte arrived intact' : 'data NOT intact';
  const expected = r.expect.intact ? '' : ' (as expected: the scenario shows a bug)';
  lines.push(`${pad('result')}${r.passed ? 'PASS' : 'FAIL'}: ${data}${expected}`);
  for (const f of r.failures) lines.push(`${cont}${f}`);
  return lines.join('\n') + '\n';
}

export function formatSummary(results: readonly ScenarioResult[]): string {
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed;
  return `${plural(results.length, 'scenario')}: ${passed} passed, ${failed} failed\n`;
}

/** A 64-character bar of a physical region: `#` in use, `+` reserved, `c`/`C` CMA free/used, `.` free. */
function physBar(bins: MemorySnapshot['physical']['bins'][number], width = 64): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    const from = Math.floor((i * bins.length) / width);
    const to = Math.max(from + 1, Math.floor(((i + 1) * bins.length) / width));
    let a = 0;
    let r = 0;
    let cu = 0;
    let cf = 0;
    let f = 0;
    for (let k = from; k < to; k++) {
      const bin = bins[k];
      if (bin === undefined) continue;
      a += bin.allocated;
      r += bin.reserved;
      cu += bin.cmaUsed;
      cf += bin.cmaFree;
      f += bin.free;
    }
    const max = Math.max(a, r, cu, cf, f);
    out += max === 0 ? ' ' : a === max ? '#' : r === max ? '+' : cu === max ? 'C' : cf === max ? 'c' : a > 0 ? ':' : '.';
  }
  return out;
}

export function formatSnapshotText(s: MemorySnapshot): string {
  const lines: string[] = [];
  const p = s.physical;
  lines.push(`  -- ${s.label} (machine time ${(s.simulatedNs / 1e6).toFixed(3)} ms)`);
  p.regions.forEach((region, i) => {
    lines.push(`${pad(i === 0 ? 'physical' : '')}${hexAddr(region.base)}-${hexAddr(region.base + region.size)} ${formatSize(region.size)} [${physBar(p.bins[i] ?? [])}]`);
  });
  lines.push(`${cont}(# allocated, + reserved, C/c CMA used/free, . free${p.sampled ? '; sampled' : ''})`);
  lines.push(`${cont}zones ${p.zones.map((z) => `${z.name} ${hexAddr(z.base)}-${hexAddr(z.base + z.size)}`).join(', ')}`);
  if (p.cma !== null) lines.push(`${cont}CMA ${formatSize(p.cma.size)} at ${hexAddr(p.cma.base)}, ${formatSize(p.cma.used)} used`);
  const image = p.kernelImage;
  if (image.length > 0) lines.push(`${cont}kernel image ${image.map((r) => `${r.name} ${formatSize(r.size)}`).join(', ')} at ${hexAddr(image[0]?.base ?? 0)}`);
  for (const pool of p.swiotlbPools) lines.push(`${cont}${pool.name} ${formatSize(pool.size)} at ${hexAddr(pool.base)}`);
  lines.push(`${cont}${s.mm.freePages} of ${s.mm.totalPages} pages free`);
  for (const b of s.buddyinfo) lines.push(`${pad('buddyinfo')}${b.zone.padEnd(7)}${b.freeAreas.map((n) => String(n).padStart(6)).join('')}`);
  for (const area of [s.vmalloc, ...(s.consistent === null ? [] : [s.consistent])]) {
    const types = new Map<string, number>();
    for (const a of area.areas) types.set(a.memoryType, (types.get(a.memoryType) ?? 0) + 1);
    lines.push(
      `${pad(area.name)}${formatSize(area.used)} used of ${formatSize(area.end - area.start)} in ${plural(area.areas.length, 'area')}${types.size === 0 ? '' : ` (${[...types].map(([t, n]) => `${n} ${t}`).join(', ')})`}`,
    );
  }
  if (s.iova.length === 0) lines.push(`${pad('iova')}no IOMMU DMA domains`);
  for (const d of s.iova) {
    lines.push(
      `${pad('iova')}domain ${d.domain} (${d.type}${d.devices.length === 0 ? '' : `, ${d.devices.join(', ')}`}): ${plural(d.rangeCount, 'range')}, ${d.granulesInUse} granules of ${formatSize(d.granule)}, ${d.cached} cached, ${formatSize(d.mappedBytes)} mapped`,
    );
  }
  if (s.swiotlb.length === 0) lines.push(`${pad('swiotlb')}no pool`);
  for (const pool of s.swiotlb) {
    lines.push(`${pad('swiotlb')}pool at ${hexAddr(pool.start)}: ${pool.usedSlots} of ${pool.nslabs} slots used in ${plural(pool.used.length, 'run')}, ${plural(pool.nareas, 'area')}`);
  }
  return lines.join('\n') + '\n';
}
