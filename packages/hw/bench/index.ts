/**
 * @kdma/hw micro-benchmarks. Goals are ratios to the copy a path inherently makes (DESIGN.md):
 * a DMA transfer of 1 MiB against one `TypedArray.set` of 1 MiB, and a CPU write plus cache clean
 * (which copy twice) against the same baseline.
 *
 *   pnpm exec tsx --conditions=@kdma/source bench/index.ts
 */

import { Hardware } from '../src/index.js';
import { formatTable, measure } from '@kdma/measure';
import type { Measurement } from '@kdma/measure';

const MiB = 2 ** 20;
const SIZE = MiB;

const src = new Uint8Array(SIZE).map((_, i) => i * 7);
const dst = new Uint8Array(SIZE);

// Buffers sit above 4 GiB so that the whole-52-bit address arithmetic is exercised.
const regions = [
  { base: 0, size: 2 * 2 ** 30 },
  { base: 4 * 2 ** 30, size: 2 * 2 ** 30 },
];
const paddr = 4 * 2 ** 30 + 16 * MiB;

const coherentHw = new Hardware({ memoryRegions: regions, cacheModel: false });
const coherentDev = coherentHw.createBusMaster({ name: 'bench-coherent', addressBits: 64, coherent: true });
coherentDev.dmaWrite(paddr, src); // allocate the RAM chunks up front

const noncoherentHw = new Hardware({ memoryRegions: regions, cacheModel: true });
noncoherentHw.cpuWrite(paddr, src, 'normal');
noncoherentHw.cacheClean(paddr, SIZE);

// Further paths, for information (no goal): what the other layers will lean on.
const snoopHw = new Hardware({ memoryRegions: regions, cacheModel: true });
const snoopDev = snoopHw.createBusMaster({ name: 'bench-snoop', addressBits: 64, coherent: true });
snoopHw.cpuWrite(paddr, src, 'normal');
snoopHw.cacheClean(paddr, SIZE);
snoopHw.cpuWrite(paddr + 4096, src.subarray(0, 256), 'normal'); // a few dirty lines to overlay

const iommuDev = coherentHw.createBusMaster({ name: 'bench-iommu', addressBits: 64, coherent: true });
iommuDev.translation = {
  // 4 KiB pages mapped in reverse order: 256 physically scattered runs per MiB.
  translate(busAddr, length, _write, out) {
    const page = Math.floor(busAddr / 4096);
    const inPage = busAddr - page * 4096;
    out.paddr = paddr + (255 - page) * 4096 + inPage;
    out.length = Math.min(length, 4096 - inPage);
    return null;
  },
};

interface Row {
  readonly m: Measurement;
  readonly goal: number | null;
}

const baseline = measure('TypedArray.set 1 MiB (baseline)', () => dst.set(src));
const rows: Row[] = [
  { m: baseline, goal: null },
  { m: measure('coherent dmaReadInto 1 MiB (no cache model)', () => coherentDev.dmaReadInto(paddr, dst)), goal: 0.7 },
  { m: measure('coherent dmaWrite 1 MiB (no cache model)', () => coherentDev.dmaWrite(paddr, src)), goal: 0.7 },
  {
    m: measure('non-coherent cpuWrite normal 1 MiB + cacheClean', () => {
      noncoherentHw.cpuWrite(paddr, src, 'normal');
      noncoherentHw.cacheClean(paddr, SIZE);
    }),
    goal: 0.25,
  },
  { m: measure('non-coherent cpuRead normal 1 MiB (all lines cached)', () => noncoherentHw.cpuReadInto(paddr, dst, 'normal')), goal: null },
  { m: measure('non-coherent cpuWrite normal 1 MiB (lines dirty already)', () => noncoherentHw.cpuWrite(paddr, src, 'normal')), goal: null },
  { m: measure('snooping dmaReadInto 1 MiB (cache model, 4 dirty lines)', () => snoopDev.dmaReadInto(paddr, dst)), goal: null },
  { m: measure('snooping dmaWrite 1 MiB (cache model)', () => snoopDev.dmaWrite(paddr, src)), goal: null },
  {
    m: measure('cpuWrite wc 1 MiB + wmb', () => {
      coherentHw.cpuWrite(paddr, src, 'wc');
      coherentHw.wmb();
    }),
    goal: null,
  },
  { m: measure('dmaReadInto 1 MiB through a 4 KiB-page translation', () => iommuDev.dmaReadInto(0, dst)), goal: null },
];

const us = (ns: number): string => (ns / 1000).toFixed(1);
console.log(`@kdma/hw bench: medians of ${baseline.samples} batches, node ${process.version}\n`);
console.log(
  formatTable(
    ['path', 'median µs', 'min µs', 'max µs', 'ratio', 'goal', ''],
    rows.map(({ m, goal }) => {
      const ratio = baseline.medianNs / m.medianNs;
      return [
        m.name,
        us(m.medianNs),
        us(m.minNs),
        us(m.maxNs),
        m === baseline ? '1.00' : ratio.toFixed(2),
        goal === null ? '' : `≥ ${goal}`,
        goal === null ? '' : ratio >= goal ? 'ok' : 'MISSED',
      ];
    }),
  ),
);
