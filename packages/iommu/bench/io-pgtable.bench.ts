/**
 * io-pgtable figures: a 4 KiB map + unmap pair per format (the tables stay allocated after the
 * unmap, as the kernel's do, so this is the steady state of a busy DMA domain), a 2 MiB block pair,
 * and the cost of the hardware walk (`translate`) the IOMMU's translation hook makes on an IOTLB
 * miss.
 */

import { formatTable, measure } from '@kdma/measure';
import type { Measurement } from '@kdma/measure';
import { allocIoPgtableOps, IOMMU_READ, IOMMU_WRITE, type IoPgtableCfg, type IoPgtableFmt, type IoPgtableOps } from '../src/io-pgtable.js';

const K = 1024;
const M = K * K;
const G = K * M;
const RW = IOMMU_READ | IOMMU_WRITE;

function ops(fmt: IoPgtableFmt, cfg: IoPgtableCfg): IoPgtableOps {
  const pt = allocIoPgtableOps(fmt, cfg);
  if (pt === null) throw new Error(`bench: ${fmt} not allocated`);
  return pt;
}

/** Runs the io-pgtable benchmarks, prints them and returns the measurements. */
export function runIoPgtableBench(): Measurement[] {
  const results: Measurement[] = [];
  const formats: [string, IoPgtableFmt, IoPgtableCfg][] = [
    ['ARM_64_LPAE_S1 4K, 48-bit', 'ARM_64_LPAE_S1', { pgsizeBitmap: 4 * K + 2 * M + G, ias: 48, oas: 48 }],
    ['ARM_64_LPAE_S2 4K, 40-bit', 'ARM_64_LPAE_S2', { pgsizeBitmap: 4 * K + 2 * M + G, ias: 40, oas: 40 }],
    ['ARM_V7S, 32-bit', 'ARM_V7S', { pgsizeBitmap: 4 * K + 64 * K + M + 16 * M, ias: 32, oas: 32 }],
    ['INTEL_VTD_SL, 48-bit', 'INTEL_VTD_SL', { pgsizeBitmap: 4 * K + 2 * M + G, ias: 48, oas: 46 }],
  ];
  for (const [name, fmt, cfg] of formats) {
    const pt = ops(fmt, cfg);
    const iova = 0xfff0_0000;
    results.push(
      measure(`${name}: map+unmap 4 KiB`, () => {
        pt.map(iova, 0x1234_5000, 4 * K, RW);
        pt.unmap(iova, 4 * K);
      }),
    );
  }
  const lpae = ops('ARM_64_LPAE_S1', formats[0]?.[2] as IoPgtableCfg);
  results.push(
    measure('ARM_64_LPAE_S1 4K: map+unmap 2 MiB block', () => {
      lpae.map(0x4000_0000, 0x8000_0000, 2 * M, RW);
      lpae.unmap(0x4000_0000, 2 * M);
    }),
  );
  // translate over 1 MiB of 4 KiB pages (256 leaves, 4 levels) and through a 2 MiB block.
  for (let i = 0; i < 256; i++) lpae.map(0x1_0000_0000 + i * 4 * K, 0x2000_0000 + ((i * 37) % 256) * 4 * K, 4 * K, RW);
  lpae.map(0x2_0000_0000, 0x4000_0000, 2 * M, RW);
  const out = { paddr: 0, length: 0, prot: 0 };
  let n = 0;
  results.push(
    measure('ARM_64_LPAE_S1 4K: translate, 4-level walk to a page', () => {
      lpae.translate(0x1_0000_0000 + (n++ & 255) * 4 * K, out);
    }),
  );
  results.push(
    measure('ARM_64_LPAE_S1 4K: translate, 3-level walk to a block', () => {
      lpae.translate(0x2_0000_0000 + (n++ & 511) * 4 * K, out);
    }),
  );
  const vtd = ops('INTEL_VTD_SL', formats[3]?.[2] as IoPgtableCfg);
  for (let i = 0; i < 256; i++) vtd.map(0xfff0_0000 + i * 4 * K, 0x2000_0000 + i * 4 * K, 4 * K, RW);
  results.push(
    measure('INTEL_VTD_SL: translate, 4-level walk to a page', () => {
      vtd.translate(0xfff0_0000 + (n++ & 255) * 4 * K, out);
    }),
  );
  console.log('\nio-pgtable: page-table operations (tables are typed arrays, not simulated RAM)');
  console.log(formatTable(['operation', 'median ns'], results.map((m) => [m.name, m.medianNs.toFixed(0)])));
  return results;
}
