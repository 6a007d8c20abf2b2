/**
 * IOVA allocator figures (drivers/iommu/iova.c): an allocIovaFast + freeIovaFast pair (the
 * per-CPU rcache path dma-iommu takes for every mapping) and an allocIova + freeIova pair (the
 * rbtree path), each with 1 000 and with 1 000 000 live ranges in the domain. Goal: the fast pair
 * stays flat (ratio ≤ 2 between the two populations), which is what the rcache is for.
 */

import { formatTable, measure } from '@kdma/measure';
import type { Measurement } from '@kdma/measure';
import { IovaDomain } from '../src/iova.js';

const LIMIT = 2 ** 36 - 1; // a 48-bit aperture in 4 KiB pfns

/** A domain holding `live` ranges of 1–8 granules, as a busy device would. */
function populated(live: number): IovaDomain {
  const d = new IovaDomain(4096, 1);
  for (let i = 0; i < live; i++) {
    if (d.allocIovaFast(1 + (i % 8), LIMIT) === 0) throw new Error('bench: IOVA space exhausted');
  }
  return d;
}

/** Runs the IOVA benchmarks, prints them and returns the measurements. */
export function runIovaBench(): Measurement[] {
  const results: Measurement[] = [];
  const rows: string[][] = [];
  for (const live of [1_000, 1_000_000]) {
    const d = populated(live);
    const fast = measure(`allocIovaFast+freeIovaFast, ${live.toLocaleString('en-US')} live`, () => {
      const pfn = d.allocIovaFast(2, LIMIT);
      d.freeIovaFast(pfn, 2);
    });
    const tree = measure(`allocIova+freeIova, ${live.toLocaleString('en-US')} live`, () => {
      const r = d.allocIova(2, LIMIT, true);
      if (r === null) throw new Error('bench: allocIova failed');
      d.freeIova(r.pfnLo);
    });
    results.push(fast, tree);
  }
  const [fast1k, tree1k, fast1m, tree1m] = results as [Measurement, Measurement, Measurement, Measurement];
  for (const m of results) rows.push([m.name, m.medianNs.toFixed(0)]);
  console.log('\nIOVA allocator (iova.c): one alloc + free pair, 2 granules, 48-bit limit');
  console.log(formatTable(['pair', 'median ns'], rows));
  console.log(
    `ratio 1 000 000 / 1 000 live: rcache path ${(fast1m.medianNs / fast1k.medianNs).toFixed(2)} (goal ≤ 2), ` +
      `rbtree path ${(tree1m.medianNs / tree1k.medianNs).toFixed(2)}`,
  );
  return results;
}
