/**
 * SVG pictures of the address spaces, one per kind, with a row per snapshot on a shared axis so
 * that "before", "during" and "after" line up. Plain strings: the page must be self-contained.
 */
import { formatSize, hexAddr } from '../sizes.js';
import type { MemorySnapshot, PhysBin } from './snapshot.js';

const WIDTH = 1100;
const LEFT = 190;
const PLOT = WIDTH - LEFT - 20;
const ROW = 26;
const GAP = 6;

export const COLORS = {
  allocated: '#d9534f',
  reserved: '#8a8a8a',
  cmaUsed: '#7b3fa0',
  cmaFree: '#dcc8ec',
  free: '#cfe8cf',
  zone: '#5b8fd6',
  cma: '#9b6bc0',
  kernel: '#444444',
  swiotlb: '#e6a23c',
  normal: '#3b7dd8',
  wc: '#f0883e',
  uncached: '#c0392b',
  guard: '#bbbbbb',
  iova: '#2a9d8f',
  iovaCached: '#9fd8cf',
  slotUsed: '#e6a23c',
  slotFree: '#f3efe6',
  axis: '#333333',
} as const;

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function rect(x: number, y: number, w: number, h: number, fill: string, title?: string, extra = ''): string {
  const body = `<rect x="${x.toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(0, w).toFixed(2)}" height="${h.toFixed(2)}" fill="${fill}"${extra}`;
  return title === undefined ? `${body}/>` : `${body}><title>${esc(title)}</title></rect>`;
}

function text(x: number, y: number, content: string, opts: { anchor?: 'start' | 'middle' | 'end'; size?: number; weight?: string; fill?: string } = {}): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${opts.size ?? 12}" text-anchor="${opts.anchor ?? 'start'}"${opts.weight === undefined ? '' : ` font-weight="${opts.weight}"`} fill="${opts.fill ?? COLORS.axis}">${esc(content)}</text>`;
}

function svg(height: number, body: string[], title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif">${body.join('')}</svg>`;
}

function legend(y: number, items: readonly (readonly [string, string])[]): string {
  let x = LEFT;
  const out: string[] = [];
  for (const [label, color] of items) {
    out.push(rect(x, y - 10, 12, 12, color, undefined, ' stroke="#666" stroke-width="0.5"'));
    out.push(text(x + 16, y, label, { size: 11 }));
    x += 28 + label.length * 6.4;
  }
  return out.join('');
}

/** Axis ticks under a plot from `lo` to `hi` (addresses). */
function axis(y: number, lo: number, hi: number, ticks = 4): string {
  const out = [`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT}" y2="${y}" stroke="${COLORS.axis}" stroke-width="0.5"/>`];
  for (let i = 0; i <= ticks; i++) {
    const x = LEFT + (PLOT * i) / ticks;
    out.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" stroke="${COLORS.axis}" stroke-width="0.5"/>`);
    out.push(text(x, y + 15, hexAddr(Math.round(lo + ((hi - lo) * i) / ticks)), { anchor: i === 0 ? 'start' : i === ticks ? 'end' : 'middle', size: 10 }));
  }
  return out.join('');
}

function sameBin(a: PhysBin, b: PhysBin): boolean {
  return a.allocated === b.allocated && a.reserved === b.reserved && a.cmaUsed === b.cmaUsed && a.cmaFree === b.cmaFree && a.free === b.free;
}

/** The physical memory map: per RAM region, the zones, CMA, kernel image and swiotlb lanes, then one row of page states per snapshot. */
export function physicalSvg(snapshots: readonly MemorySnapshot[]): string {
  const first = snapshots[0];
  if (first === undefined) return '';
  const p = first.physical;
  const out: string[] = [];
  let y = 18;
  out.push(legend(y, [
    ['allocated', COLORS.allocated],
    ['reserved', COLORS.reserved],
    ['CMA used', COLORS.cmaUsed],
    ['CMA free', COLORS.cmaFree],
    ['free', COLORS.free],
  ]));
  y += 14;
  p.regions.forEach((region, r) => {
    const lo = region.base;
    const hi = region.base + region.size;
    const xOf = (addr: number): number => LEFT + (PLOT * (Math.min(Math.max(addr, lo), hi) - lo)) / (hi - lo);
    y += 10;
    out.push(text(8, y + 4, `${region.name}: ${formatSize(region.size)}`, { weight: '600' }));
    y += 10;
    const lanes: [string, readonly { name: string; base: number; size: number }[], string][] = [
      ['zones', p.zones, COLORS.zone],
      ['CMA', p.cma === null ? [] : [{ name: `CMA ${formatSize(p.cma.size)}`, base: p.cma.base, size: p.cma.size }], COLORS.cma],
      ['kernel image', p.kernelImage, COLORS.kernel],
      ['swiotlb pool', p.swiotlbPools, COLORS.swiotlb],
    ];
    for (const [label, ranges, color] of lanes) {
      const inside = ranges.filter((x) => x.base < hi && x.base + x.size > lo);
      if (inside.length === 0) continue;
      out.push(text(LEFT - 8, y + 12, label, { anchor: 'end', size: 11 }));
      for (const range of inside) {
        const x0 = xOf(range.base);
        const x1 = Math.max(xOf(range.base + range.size), x0 + 2);
        out.push(rect(x0, y + 2, x1 - x0, 14, color, `${range.name}: ${hexAddr(range.base)}-${hexAddr(range.base + range.size)} (${formatSize(range.size)})`, ' stroke="#fff" stroke-width="1"'));
        if (x1 - x0 > 40) out.push(text((x0 + x1) / 2, y + 13, range.name, { anchor: 'middle', size: 10, fill: '#fff' }));
      }
      y += 18;
    }
    for (const snap of snapshots) {
      const bins = snap.physical.bins[r] ?? [];
      out.push(text(LEFT - 8, y + ROW / 2 + 4, snap.short, { anchor: 'end', size: 11 }));
      for (let i = 0; i < bins.length; ) {
        const bin = bins[i] as PhysBin;
        let j = i + 1;
        while (j < bins.length && sameBin(bins[j] as PhysBin, bin)) j++;
        const last = bins[j - 1] as PhysBin;
        const x0 = xOf(bin.base);
        const w = Math.max(xOf(last.base + last.size) - x0, bin.free < 1 ? 2 : 0.5);
        let yy = y;
        const parts: [number, string, string][] = [
          [bin.allocated, COLORS.allocated, 'allocated'],
          [bin.reserved, COLORS.reserved, 'reserved'],
          [bin.cmaUsed, COLORS.cmaUsed, 'CMA used'],
          [bin.cmaFree, COLORS.cmaFree, 'CMA free'],
          [bin.free, COLORS.free, 'free'],
        ];
        const title = `${hexAddr(bin.base)}-${hexAddr(last.base + last.size)}: ${parts.filter(([f]) => f > 0).map(([f, , n]) => `${Math.round(f * 100)}% ${n}`).join(', ')}`;
        // A few pages in a wide column would be invisible: every state present gets 4 px at least.
        for (const [fraction, color, name] of parts) {
          if (fraction <= 0) continue;
          const h = name === 'free' ? y + ROW - yy : Math.min(Math.max(ROW * fraction, 4), y + ROW - yy);
          if (h <= 0) continue;
          out.push(rect(x0, yy, w, h, color, title));
          yy += h;
        }
        i = j;
      }
      y += ROW + GAP;
    }
    out.push(axis(y, lo, hi));
    y += 24;
  });
  if (p.sampled) {
    out.push(text(LEFT, y + 4, `page states sampled (${p.pageSize}-byte pages, up to 128 per column); a state present in a column is drawn 4 px tall at least`, { size: 10, fill: '#777' }));
    y += 12;
  }
  return svg(y + 6, out, 'physical memory map');
}

/** The vmalloc area (and ARM's consistent area): mapped areas by memory type, guard pages, on an axis zoomed to the used part. */
export function virtualSvg(snapshots: readonly MemorySnapshot[], which: 'vmalloc' | 'consistent'): string {
  const areas = snapshots.map((s) => (which === 'vmalloc' ? s.vmalloc : s.consistent));
  const first = areas[0];
  if (first === null || first === undefined) return '';
  const page = snapshots[0]?.physical.pageSize ?? 4096;
  const lo = first.start;
  let top = lo + 4 * 2 ** 20;
  for (const a of areas) for (const v of a?.areas ?? []) top = Math.max(top, v.start + v.size + a!.guardPages * page);
  const hi = Math.min(first.end, lo + Math.ceil(((top - lo) * 1.15) / 2 ** 20) * 2 ** 20);
  const xOf = (addr: number): number => LEFT + (PLOT * (Math.min(Math.max(addr, lo), hi) - lo)) / (hi - lo);
  const out: string[] = [];
  let y = 18;
  out.push(legend(y, [
    ['normal (cached)', COLORS.normal],
    ['write-combine', COLORS.wc],
    ['uncached', COLORS.uncached],
    ['guard page', COLORS.guard],
  ]));
  y += 10;
  out.push(text(LEFT, y + 14, `${which}: ${formatSize(first.end - first.start)} at ${hexAddr(first.start)}; the first ${formatSize(hi - lo)} shown`, { size: 11, fill: '#555' }));
  y += 24;
  snapshots.forEach((snap, i) => {
    const area = areas[i];
    out.push(text(LEFT - 8, y + ROW / 2 + 4, `${snap.short}: ${formatSize(area?.used ?? 0)}`, { anchor: 'end', size: 11 }));
    out.push(rect(LEFT, y, PLOT, ROW, '#f4f4f4', undefined, ' stroke="#ddd" stroke-width="0.5"'));
    for (const v of area?.areas ?? []) {
      const x0 = xOf(v.start);
      const color = v.memoryType === 'wc' ? COLORS.wc : v.memoryType === 'uncached' ? COLORS.uncached : COLORS.normal;
      const w = Math.max(xOf(v.start + v.size) - x0, 1);
      out.push(rect(x0, y, w, ROW, color, `${v.kind} ${hexAddr(v.start)} ${formatSize(v.size)} (${v.memoryType})`, ' stroke="#fff" stroke-width="0.3"'));
      if (area!.guardPages > 0) out.push(rect(x0 + w, y, Math.max(xOf(v.start + v.size + area!.guardPages * page) - (x0 + w), 0.6), ROW, COLORS.guard));
    }
    y += ROW + GAP;
  });
  out.push(axis(y, lo, hi));
  return svg(y + 24, out, `${which} area`);
}

/** The IOVA space of each IOMMU DMA domain: allocated and reserved ranges, on a window around them. */
export function iovaSvg(snapshots: readonly MemorySnapshot[]): string {
  const ids = [...new Set(snapshots.flatMap((s) => s.iova.map((d) => d.domain)))].sort((a, b) => a - b);
  if (ids.length === 0) return '';
  const out: string[] = [];
  let y = 18;
  out.push(legend(y, [
    ['in the tree: allocated, reserved, or waiting in a flush queue', COLORS.iova],
    ['freed, parked in a per-CPU rcache', COLORS.iovaCached],
  ]));
  y += 8;
  for (const id of ids) {
    const views = snapshots.map((s) => s.iova.find((d) => d.domain === id) ?? null);
    const known = views.find((v) => v !== null);
    if (known === undefined || known === null) continue;
    const g = known.granule;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of views) for (const r of v?.ranges ?? []) {
      lo = Math.min(lo, r.lo * g);
      hi = Math.max(hi, (r.hi + 1) * g);
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 2 ** 32;
    }
    const span = Math.max(hi - lo, 16 * g);
    const wlo = Math.max(0, Math.floor((lo - span * 0.08) / g) * g);
    // Pad the window, but not past the DMA limit the ranges sit under (2^32 for a 32-bit device).
    const whi = Math.min(Math.ceil((hi + span * 0.08) / g) * g, 2 ** Math.ceil(Math.log2(hi)));
    const xOf = (addr: number): number => LEFT + (PLOT * (Math.min(Math.max(addr, wlo), whi) - wlo)) / (whi - wlo);
    y += 16;
    out.push(text(8, y, `domain ${id} (${known.type}${known.devices.length === 0 ? '' : `: ${known.devices.join(', ')}`}), granule ${formatSize(g)}`, { weight: '600' }));
    y += 8;
    snapshots.forEach((snap, i) => {
      const v = views[i];
      const label = `${snap.short}: ${v === null || v === undefined ? 'gone' : `${v.rangeCount} ranges`}`;
      out.push(text(LEFT - 8, y + ROW / 2 + 4, label, { anchor: 'end', size: 11 }));
      out.push(rect(LEFT, y, PLOT, ROW, '#f4f4f4', undefined, ' stroke="#ddd" stroke-width="0.5"'));
      for (const r of v?.ranges ?? []) {
        const x0 = xOf(r.lo * g);
        const what = r.cached ? 'in an rcache' : 'in use';
        out.push(rect(x0, y + 2, Math.max(xOf((r.hi + 1) * g) - x0, 1), ROW - 4, r.cached ? COLORS.iovaCached : COLORS.iova, `IOVA ${hexAddr(r.lo * g)}-${hexAddr((r.hi + 1) * g)} (${formatSize((r.hi - r.lo + 1) * g)}, ${what})`));
      }
      y += ROW + GAP;
    });
    out.push(axis(y, wlo, whi));
    y += 24;
  }
  return svg(y + 4, out, 'IOVA space per domain');
}

/** The swiotlb slots of each pool: one column per group of slots, shaded by how many are in use; area boundaries marked. */
export function swiotlbSvg(snapshots: readonly MemorySnapshot[]): string {
  const pools = snapshots[0]?.swiotlb ?? [];
  if (pools.length === 0) return '';
  const out: string[] = [];
  let y = 18;
  out.push(legend(y, [
    ['slots in use (shade: share of the column)', COLORS.slotUsed],
    ['free', COLORS.slotFree],
  ]));
  y += 8;
  pools.forEach((pool, p) => {
    const columns = Math.min(pool.nslabs, PLOT);
    const per = pool.nslabs / columns;
    const cw = PLOT / columns;
    y += 16;
    out.push(text(8, y, `pool at ${hexAddr(pool.start)}: ${pool.nslabs} slots of 2 KiB, ${pool.nareas} area${pool.nareas === 1 ? '' : 's'}`, { weight: '600' }));
    y += 8;
    for (const snap of snapshots) {
      const view = snap.swiotlb[p];
      out.push(text(LEFT - 8, y + ROW / 2 + 4, `${snap.short}: ${view?.usedSlots ?? 0} used`, { anchor: 'end', size: 11 }));
      out.push(rect(LEFT, y, PLOT, ROW, COLORS.slotFree, undefined, ' stroke="#ddd" stroke-width="0.5"'));
      const usedPerColumn = new Float64Array(columns);
      for (const [start, count] of view?.used ?? []) {
        for (let s = start; s < start + count; ) {
          const c = Math.min(columns - 1, Math.floor(s / per));
          const end = Math.min(start + count, Math.ceil((c + 1) * per));
          usedPerColumn[c] = (usedPerColumn[c] as number) + Math.max(1, end - s);
          s = Math.max(end, s + 1);
        }
      }
      for (let c = 0; c < columns; c++) {
        const used = usedPerColumn[c] as number;
        if (used <= 0) continue;
        const share = Math.min(1, used / per);
        out.push(rect(LEFT + c * cw, y, cw, ROW, COLORS.slotUsed, `slots ${Math.floor(c * per)}-${Math.floor((c + 1) * per) - 1}: ${Math.round(share * 100)}% in use`, ` fill-opacity="${(0.35 + 0.65 * share).toFixed(2)}"`));
      }
      for (let a = 1; a < pool.nareas; a++) {
        const x = LEFT + (PLOT * a) / pool.nareas;
        out.push(`<line x1="${x}" y1="${y - 2}" x2="${x}" y2="${y + ROW + 2}" stroke="#555" stroke-width="1" stroke-dasharray="3,2"/>`);
      }
      y += ROW + GAP;
    }
    out.push(axis(y, pool.start, pool.start + pool.nslabs * 2048));
    y += 24;
  });
  return svg(y + 4, out, 'swiotlb slots');
}
