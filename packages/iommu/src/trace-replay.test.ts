import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IOMMU_READ, IOMMU_WRITE } from './io-pgtable.js';
import { parseIommuTrace } from './iommu-trace.js';
import { iommuDomainAlloc, iommuIovaToPhys, iommuMap, iommuUnmap } from './iommu.js';
import { createPc, PGSIZES_4K_2M_1G, vtdLike } from './test-machine.js';

/*
 * Replays the iommu:map / iommu:unmap events Linux 6.1 emitted behind VT-d (src/__fixtures__,
 * see its README) through iommuMap/iommuUnmap on a VT-d-style domain (4K|2M|1G): every traced
 * unmap must give back the traced unmapped_size, and iommuIovaToPhys must agree with the traced
 * paddr on every page of every map.
 */

/** Replays a trace; returns the fractions of maps and unmaps the model reproduced. */
function replayTrace(text: string): { maps: number; mapsOk: number; unmaps: number; unmapsOk: number } {
  const m = createPc({ memory: 64 * 2 ** 20 });
  const domain = iommuDomainAlloc(m);
  if (domain === null) throw new Error('iommuDomainAlloc');
  const result = { maps: 0, mapsOk: 0, unmaps: 0, unmapsOk: 0 };
  for (const event of parseIommuTrace(text)) {
    if (event.kind === 'map') {
      result.maps++;
      if (iommuMap(domain, event.iova, event.paddr, event.size, IOMMU_READ | IOMMU_WRITE) !== 0) continue;
      let agrees = true;
      for (let off = 0; off < event.size && agrees; off += 4096) agrees = iommuIovaToPhys(domain, event.iova + off) === event.paddr + off;
      if (agrees) result.mapsOk++;
    } else {
      result.unmaps++;
      if (iommuUnmap(domain, event.iova, event.size) === event.unmappedSize) result.unmapsOk++;
    }
  }
  return result;
}

describe('replaying Linux 6.1 VT-d traces through iommuMap / iommuUnmap', () => {
  it('uses a VT-d-style domain', () => {
    expect(vtdLike.pgsizeBitmap).toBe(PGSIZES_4K_2M_1G);
    expect(vtdLike.format).toBe('INTEL_VTD_SL');
  });

  it.each([
    ['nvme-strict-b.trace', 596, 218],
    ['nvme-lazy.trace', 3264, 438],
    ['e1000-strict.trace', 584, 327],
  ])('%s: every unmap returns the traced unmapped_size and every mapped page translates to the traced paddr', (file, maps, unmaps) => {
    const text = readFileSync(join(__dirname, '__fixtures__', file), 'utf8');
    const result = replayTrace(text);
    expect(result).toEqual({ maps, mapsOk: maps, unmaps, unmapsOk: unmaps });
  });
});
