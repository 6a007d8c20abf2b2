import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_WRITE_BARRIER,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapPageAttrs,
  dmaMapSgAttrs,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapPageAttrs,
  dmaUnmapSgAttrs,
  dmaUnmapSingle,
  type Device,
} from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { GFP_DMA } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, DELAYED_RESOURCE_CNT, ia64IcacheState, iocOf, pageIcacheClean, ZX1_IOVA_BASE, ZX1_IOVA_SIZE, type Ioc } from './index.js';

const KIB = 1024;
const GIB = 2 ** 30;

function ioc(m: Machine): Ioc {
  const found = iocOf(m);
  if (found === null) throw new Error('no IOC');
  return found;
}

/** A page block above 4 GiB (ZONE_NORMAL is what the allocator tries first). */
function highPages(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * m.pageSize).toBeGreaterThanOrEqual(4 * GIB);
  return pfn;
}

function isIova(addr: number): boolean {
  return addr >= ZX1_IOVA_BASE && addr < ZX1_IOVA_BASE + ZX1_IOVA_SIZE;
}

function sgOf(m: Machine, pieces: readonly { pfn: number; offset?: number; length?: number }[]): Scatterlist[] {
  return pieces.map(({ pfn, offset = 0, length = m.pageSize }) => ({ pfn, offset, length, dmaAddress: 0, dmaLength: 0 }));
}

describe('ia64 hpzx1: the SBA IOMMU', () => {
  it('comes up as the zx1 IOC with an IOVA space of 1 GiB at 1 GiB and page-sized IOVP pages', () => {
    const m = createMachine();
    expect(m.platform).toBe('hpzx1');
    expect(m.pageSize).toBe(16384);
    expect(m.iommu?.name).toBe('sba');
    expect(m.hw.dmesg.entries().map((e) => e.message)).toContain('IOC: zx1 2.2 HPA 0xfed01000 IOVA space 1024Mb at 0x40000000');
    expect(ioc(m).iovpSize).toBe(16384);
    expect(ioc(m).sbaStats().pdirEntries).toBe(65536);
    // iovp_shift = min(PAGE_SHIFT, 16); sbapagesize= overrides it.
    expect(ioc(createMachine({ pageSize: 4096 })).iovpSize).toBe(4096);
    expect(ioc(createMachine({ pageSize: 65536 })).iovpSize).toBe(65536);
    expect(ioc(createMachine({ sbaPageSize: 8192 })).iovpSize).toBe(8192);
    expect(() => createMachine({ sbaPageSize: 32768 })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'dig', sbaPageSize: 4096 })).toThrow(RangeError);
    expect(() => createMachine({ iommu: false })).toThrow(RangeError);
  });

  it('lets a device bypass the pdir for a buffer its mask covers, and maps the rest through it', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'tg3', dmaBits: 32 });
    // Low memory (GFP_DMA: below 4 GiB, here the zx1's low 1 GiB): the bus address is physical.
    const low = m.mm.kmalloc(4 * KIB, GFP_DMA);
    if (low === null) throw new Error('kmalloc');
    const lowAddr = dmaMapSingle(dev, low, 4 * KIB, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, lowAddr)).toBe(0);
    expect(lowAddr).toBe(m.mm.virtToPhys(low));
    // Above 4 GiB: an IOVA in the IOC's space, and the device reads the page through the pdir.
    const pfn = highPages(m);
    const data = pattern(m.pageSize, 5);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const highAddr = dmaMapPageAttrs(dev, pfn, 0, m.pageSize, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, highAddr)).toBe(0);
    expect(isIova(highAddr)).toBe(true);
    expect(firstDifference(dev.hw.dmaRead(highAddr, m.pageSize), data)).toBe(-1);
    expect(ioc(m).sbaStats()).toMatchObject({ bypassMaps: 1, pdirMaps: 1, pdirUsed: 1 });
    // A 64-bit device bypasses even there.
    const wide = m.createDevice({ name: 'qla', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    const wideAddr = dmaMapPageAttrs(wide, pfn, 0, m.pageSize, DMA_TO_DEVICE);
    expect(dmaMappingError(wide, wideAddr)).toBe(0);
    expect(wideAddr).toBe(pfn * m.pageSize);
    dmaUnmapSingle(dev, lowAddr, 4 * KIB, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(dev, highAddr, m.pageSize, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(wide, wideAddr, m.pageSize, DMA_TO_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('keeps the offset in the IOVP page and rounds the range to a power of two (AR2305)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'mptspi' });
    const pfn = highPages(m, 2);
    const addr = dmaMapPageAttrs(dev, pfn, 100, 3 * m.pageSize - 200, DMA_FROM_DEVICE);
    expect(addr % m.pageSize).toBe(100);
    // Three IOVP pages, four bits: the purge that frees them must be a power of two.
    expect(ioc(m).sbaStats().pdirUsed).toBe(4);
    const frame = pattern(3 * m.pageSize - 200, 8);
    dev.hw.dmaWrite(addr, frame);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn) + 100, frame.length), frame)).toBe(-1);
  });

  it('faults on an IOVA it never mapped, and retires unmaps only 64 at a time (DELAYED_RESOURCE_CNT)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'e1000' });
    expect(() => dev.hw.dmaRead(ZX1_IOVA_BASE + 0x100000, 4)).toThrow(DmaFault);
    expect(m.iommu?.stats().faults).toBe(1);
    const pfn = highPages(m);
    const first = dmaMapPageAttrs(dev, pfn, 0, 512, DMA_BIDIRECTIONAL);
    dmaUnmapPageAttrs(dev, first, 512, DMA_BIDIRECTIONAL);
    // Queued in saved[]: the pdir entry is still valid, so a late device access still lands.
    expect(m.iommu?.stats().pendingFlushes).toBe(1);
    expect(() => dev.hw.dmaRead(first, 4)).not.toThrow();
    for (let i = 1; i < DELAYED_RESOURCE_CNT; i++) {
      const addr = dmaMapPageAttrs(dev, pfn, 0, 512, DMA_BIDIRECTIONAL);
      dmaUnmapPageAttrs(dev, addr, 512, DMA_BIDIRECTIONAL);
    }
    // The 64th unmap retired them all: invalid entries, purged IOTLB, freed bits.
    expect(m.iommu?.stats()).toMatchObject({ pendingFlushes: 0, flushes: DELAYED_RESOURCE_CNT, mappedBytes: 0 });
    expect(ioc(m).sbaStats().pdirUsed).toBe(0);
    expect(() => dev.hw.dmaRead(first, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
  });

  it('coalesces an sg list into one DMA stream when its pieces meet on IOVP boundaries', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'sym53c8xx', maxSegmentSize: 2 ** 20 });
    const pfns = [0, 1, 2, 3].map(() => {
      const pfn = highPages(m);
      highPages(m);
      return pfn;
    });
    const sgl = sgOf(
      m,
      pfns.map((pfn) => ({ pfn })),
    );
    expect(dmaMapSgAttrs(dev, sgl, 4, DMA_FROM_DEVICE)).toBe(1);
    const seg = sgl[0] as Scatterlist;
    expect(seg.dmaLength).toBe(4 * m.pageSize);
    expect(isIova(seg.dmaAddress)).toBe(true);
    expect(sgl.slice(1).every((s) => s.dmaLength === 0)).toBe(true);
    const data = pattern(4 * m.pageSize, 3);
    dev.hw.dmaWrite(seg.dmaAddress, data);
    dmaUnmapSgAttrs(dev, sgl, 4, DMA_FROM_DEVICE);
    pfns.forEach((pfn, i) => expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), m.pageSize), data.subarray(i * m.pageSize, (i + 1) * m.pageSize))).toBe(-1));
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('starts a new stream where a piece does not start or end on an IOVP boundary, or the segment would be too long', () => {
    const m = createMachine();
    const page = m.pageSize;
    const dev = m.createDevice({ name: 'aic79xx', maxSegmentSize: 2 * page });
    const [a, b, c, d] = [0, 1, 2, 3].map(() => {
      const pfn = highPages(m);
      highPages(m);
      return pfn;
    }) as [number, number, number, number];
    // a and b meet on a page boundary: one stream; b ends mid-page, so c starts another, which d
    // joins (2 pages: exactly the segment limit).
    const sgl = sgOf(m, [{ pfn: a }, { pfn: b, length: page / 2 }, { pfn: c }, { pfn: d }]);
    expect(dmaMapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE)).toBe(2);
    expect((sgl[0] as Scatterlist).dmaLength).toBe(page + page / 2);
    expect((sgl[1] as Scatterlist).dmaLength).toBe(2 * page);
    expect((sgl[2] as Scatterlist).dmaLength).toBe(0);
    dmaUnmapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE);
    // Three whole pages with a 2-page segment limit: two streams, 2 + 1.
    const three = sgOf(m, [{ pfn: a }, { pfn: b }, { pfn: c }]);
    expect(dmaMapSgAttrs(dev, three, 3, DMA_TO_DEVICE)).toBe(2);
    expect(three.map((s) => s.dmaLength)).toEqual([2 * page, page, 0]);
    dmaUnmapSgAttrs(dev, three, 3, DMA_TO_DEVICE);
  });

  it('maps a single-entry list on the fast path, bypass included (ALLOW_IOV_BYPASS_SG is off only for lists)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaSetMask(dev, dmaBitMask(64))).toBe(0);
    const [a, b] = [highPages(m), highPages(m)] as [number, number];
    const one = sgOf(m, [{ pfn: a }]);
    expect(dmaMapSgAttrs(dev, one, 1, DMA_TO_DEVICE)).toBe(1);
    expect((one[0] as Scatterlist).dmaAddress).toBe(a * m.pageSize);
    const two = sgOf(m, [{ pfn: a }, { pfn: b }]);
    expect(dmaMapSgAttrs(dev, two, 2, DMA_TO_DEVICE)).toBe(1);
    expect(isIova((two[0] as Scatterlist).dmaAddress)).toBe(true);
  });

  it('serves coherent memory by bypass where the coherent mask allows, else through the pdir for the 32-bit sac_only_dev', () => {
    const m = createMachine();
    const dev32 = m.createDevice({ name: 'dev32' });
    const dev64 = m.createDevice({ name: 'dev64', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev64, dmaBitMask(64))).toBe(0);
    const ring = dmaAllocCoherent(dev32, 2 * m.pageSize);
    const wide = dmaAllocCoherent(dev64, 2 * m.pageSize);
    if (ring === null || wide === null) throw new Error('alloc');
    expect(isIova(ring.dmaHandle)).toBe(true);
    expect(wide.dmaHandle).toBe(m.mm.virtToPhys(wide.cpuAddr));
    const data = pattern(2 * m.pageSize, 4);
    dev32.hw.dmaWrite(ring.dmaHandle, data);
    expect(firstDifference(m.cpu.read(ring.cpuAddr, data.length), data)).toBe(-1);
    dmaFreeCoherent(dev32, 2 * m.pageSize, ring.cpuAddr, ring.dmaHandle);
    dmaFreeCoherent(dev64, 2 * m.pageSize, wide.cpuAddr, wide.dmaHandle);
  });

  it('wants at least 32 address bits (sba_dma_supported)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'isa-ish' });
    expect(dmaSetMask(dev, dmaBitMask(24))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(40))).toBe(0);
  });

  it('ignores DMA_ATTR_WRITE_BARRIER: the same mapping with and without it', () => {
    const m = createMachine();
    expect(m.directHooks.honouredAttrs & DMA_ATTR_WRITE_BARRIER).toBe(0);
    const dev = m.createDevice({ name: 'nic' });
    const pfn = highPages(m);
    const plain = dmaMapPageAttrs(dev, pfn, 0, 4096, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(dev, plain, 4096, DMA_TO_DEVICE);
    const barrier = dmaMapPageAttrs(dev, pfn, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_WRITE_BARRIER);
    expect(isIova(barrier)).toBe(true);
    expect(barrier % m.pageSize).toBe(plain % m.pageSize);
    expect(ioc(m).sbaStats().pdirMaps).toBe(2);
  });

  it('marks whole pages a device wrote i-cache clean (PG_arch_1) when a FROM_DEVICE mapping ends', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'ide' });
    const pfn = highPages(m, 1);
    const addr = dmaMapPageAttrs(dev, pfn, 0, 2 * m.pageSize, DMA_FROM_DEVICE);
    dmaUnmapPageAttrs(dev, addr, 2 * m.pageSize, DMA_FROM_DEVICE);
    expect(pageIcacheClean(m, pfn)).toBe(true);
    expect(pageIcacheClean(m, pfn + 1)).toBe(true);
    // The other direction marks nothing.
    const other = highPages(m);
    const tx = dmaMapPageAttrs(dev, other, 0, m.pageSize, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(dev, tx, m.pageSize, DMA_TO_DEVICE);
    expect(pageIcacheClean(m, other)).toBe(false);
    // The bypass path passes the true size: part of a page is not marked, a whole one is.
    const low = m.mm.kmalloc(2 * m.pageSize, GFP_DMA);
    if (low === null) throw new Error('kmalloc');
    const part = dmaMapSingleAttrs(dev, low, 1000, DMA_FROM_DEVICE);
    expect(isIova(part)).toBe(false);
    dmaUnmapSingle(dev, part, 1000, DMA_FROM_DEVICE);
    expect(pageIcacheClean(m, m.mm.virtToPfn(low))).toBe(false);
    const whole = dmaMapSingleAttrs(dev, low, m.pageSize, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, whole, m.pageSize, DMA_FROM_DEVICE);
    expect(pageIcacheClean(m, m.mm.virtToPfn(low))).toBe(true);
    // The pdir path rounds the range out to IOVP pages first (sba_unmap_page), so a partly
    // written page is marked too — as the kernel did.
    const third = highPages(m);
    const partIova = dmaMapPageAttrs(dev, third, 64, 1000, DMA_FROM_DEVICE);
    dmaUnmapPageAttrs(dev, partIova, 1000, DMA_FROM_DEVICE);
    expect(pageIcacheClean(m, third)).toBe(true);
    expect(ia64IcacheState(m)).toMatchObject({ calls: 5, pagesMarked: 4 });
  });

  it('says "out of mapping resources" and returns DMA_MAPPING_ERROR when the pdir is full', () => {
    const m = createMachine({ sbaPageSize: 65536 });
    const dev: Device = m.createDevice({ name: 'hog' });
    const pfn = highPages(m, 10);
    const block = 1024 * m.pageSize;
    // 16 MiB blocks of IOVA (four bitmap words each): the 1 GiB space has room for 64, but the
    // multi-word search stops one block short of the end (`res_ptr < res_end - qwords`).
    for (let i = 0; i < 63; i++) expect(dmaMappingError(dev, dmaMapPageAttrs(dev, pfn, 0, block, DMA_TO_DEVICE))).toBe(0);
    expect(dmaMapPageAttrs(dev, pfn, 0, block, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('sba_alloc_range: I/O MMU @ 0xfed01000 isout of mapping resources, 2048 256 1fffffffffffff');
  });
});
