import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIommuTrace, reconstructAllocations, replayIovaTrace, type IommuTraceEvent } from './iommu-trace.js';

function fixture(name: string): IommuTraceEvent[] {
  return parseIommuTrace(readFileSync(join(__dirname, '__fixtures__', `${name}.trace`), 'utf8'));
}

const MAP_LINE = '    kworker/u2:1-24      [000] .....     2.744285: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000006778000 size=4096';
const UNMAP_LINE = '          <idle>-0       [000] d.h1.     2.755053: unmap: IOMMU: iova=0x00000000ffffd000 - 0x00000000ffffe000 size=4096 unmapped_size=4096';

describe('parseIommuTrace', () => {
  it('reads map and unmap events with their ftrace prefix', () => {
    expect(parseIommuTrace(`# tracer: nop\n${MAP_LINE}\n\n${UNMAP_LINE}\n`)).toEqual([
      { kind: 'map', iova: 0xfffff000, end: 0x100000000, paddr: 0x6778000, size: 4096, time: 2.744285, task: 'kworker/u2:1', pid: 24, cpu: 0 },
      { kind: 'unmap', iova: 0xffffd000, end: 0xffffe000, size: 4096, unmappedSize: 4096, time: 2.755053, task: '<idle>', pid: 0, cpu: 0 },
    ]);
  });

  it('skips other events and throws on lines that are not ftrace events', () => {
    expect(parseIommuTrace('  bash-1 [001] ..... 1.000000: io_page_fault: whatever\n')).toEqual([]);
    expect(() => parseIommuTrace('garbage\n')).toThrow(/line 1/);
    expect(() => parseIommuTrace(`${MAP_LINE}\n  bash-1 [001] ..... 1.0: map: IOMMU: iova=0x1000\n`)).toThrow(/line 2: malformed map/);
    expect(() => parseIommuTrace(42 as unknown as string)).toThrow(TypeError);
  });

  it('parses the three fixtures with the README counts', () => {
    const count = (events: IommuTraceEvent[], kind: string): number => events.filter((e) => e.kind === kind).length;
    const nvme = fixture('nvme-strict-b');
    const lazy = fixture('nvme-lazy');
    const e1000 = fixture('e1000-strict');
    expect([count(nvme, 'map'), count(nvme, 'unmap')]).toEqual([596, 218]);
    expect([count(lazy, 'map'), count(lazy, 'unmap')]).toEqual([3264, 438]);
    expect([count(e1000, 'map'), count(e1000, 'unmap')]).toEqual([584, 327]);
  });
});

describe('reconstructAllocations', () => {
  const ev = (kind: 'map' | 'unmap', iova: number, pages: number): IommuTraceEvent =>
    kind === 'map'
      ? { kind, iova, end: iova + pages * 4096, paddr: 0, size: pages * 4096, time: 0, task: 't', pid: 1, cpu: 0 }
      : { kind, iova, end: iova + pages * 4096, size: pages * 4096, unmappedSize: pages * 4096, time: 0, task: 't', pid: 1, cpu: 0 };

  it('groups the maps of one sg call by the unmap that covers them', () => {
    const events = [ev('map', 0x10000, 1), ev('map', 0x11000, 2), ev('map', 0x13000, 1), ev('map', 0x8000, 1), ev('unmap', 0x10000, 4), ev('unmap', 0x8000, 1)];
    expect(reconstructAllocations(events)).toEqual([
      { iova: 0x10000, end: 0x14000, mapIndex: 0, unmapIndex: 4, maps: 3 },
      { iova: 0x8000, end: 0x9000, mapIndex: 3, unmapIndex: 5, maps: 1 },
    ]);
  });

  it('tells adjacent calls apart by their unmaps', () => {
    // Two single-page calls that got ascending adjacent IOVAs (rcache reuse), unmapped separately.
    const events = [ev('map', 0x1000, 1), ev('map', 0x2000, 1), ev('unmap', 0x1000, 1), ev('unmap', 0x2000, 1)];
    expect(reconstructAllocations(events).map((a) => [a.iova, a.maps])).toEqual([
      [0x1000, 1],
      [0x2000, 1],
    ]);
  });

  it('merges never-unmapped continuations only when the trace shows sg lists, and only if aligned', () => {
    const sg = [ev('map', 0x20000, 1), ev('map', 0x21000, 1), ev('unmap', 0x20000, 2)];
    const live = [ev('map', 0x6000, 1), ev('map', 0x7000, 1), ev('map', 0x8000, 1)];
    // With sg evidence: 0x6000 + 0x7000 can be one 2-page allocation; adding 0x8000 would make a
    // 3-page one at page 6, which alloc_iova_fast would have aligned to 4 pages.
    expect(reconstructAllocations([...sg, ...live]).slice(1).map((a) => [a.iova, a.end, a.unmapIndex])).toEqual([
      [0x6000, 0x8000, -1],
      [0x8000, 0x9000, -1],
    ]);
    // Without: each map is a call.
    expect(reconstructAllocations(live)).toHaveLength(3);
    expect(reconstructAllocations(live, { liveMaps: 'merge' })).toHaveLength(2);
    expect(() => reconstructAllocations(live, { liveMaps: 'x' as 'merge' })).toThrow(/liveMaps/);
  });
});

describe('replayIovaTrace: the model chooses the kernel IOVAs', () => {
  // nvme: a 64-bit PCI device (SAC first, then the 48-bit aperture); e1000 (PCI, not PCI-X): a
  // 32-bit DMA mask, so alloc_iova_fast below 4 GiB with flush_rcache from the start.
  const cases = [
    { name: 'nvme-strict-b', options: { dmaLimit: 2 ** 48 - 1 } },
    { name: 'e1000-strict', options: { dmaLimit: 2 ** 32 - 1 } },
  ];
  for (const { name, options } of cases) {
    it(`${name}: every allocation lands where Linux 6.1 put it`, () => {
      const r = replayIovaTrace(fixture(name), options);
      const pct = ((100 * r.reproduced) / r.allocations).toFixed(1);
      console.log(`${name}: ${r.reproduced}/${r.allocations} IOVA allocations reproduced (${pct}%)`);
      expect(r.allocations).toBeGreaterThan(200);
      expect(r.mismatches).toEqual([]);
      expect(r.reproduced).toBe(r.allocations);
      r.domain.verify();
    });
  }
});
