import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaMapPageAttrs,
  dmaMapSgAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSyncSgForCpu,
  dmaSyncSingleForCpu,
  dmaUnmapPageAttrs,
  dmaUnmapSgAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, IO_PAGE_SIZE, SUN4U_DVMA_BASE, sun4uIommuOf, type Sun4uIommu } from './index.js';

function iommu(m: Machine): Sun4uIommu {
  const found = sun4uIommuOf(m);
  if (found === null) throw new Error('no IOMMU');
  return found;
}

function page(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  return pfn;
}

function lastMessage(m: Machine): string | undefined {
  return m.hw.dmesg.entries().at(-1)?.message;
}

describe('sparc sun4u: the IOMMU and its streaming buffer', () => {
  it('maps every device through the DVMA window at 0xc0000000 with sun4u_dma_ops', () => {
    const m = createMachine();
    expect(m.platform).toBe('sun4u');
    expect(m.pageSize).toBe(8192);
    expect(m.iommu?.name).toBe('sun4u-iommu');
    const dev = m.createDevice({ name: 'hme' });
    expect(getDmaOps(dev).name).toBe('sun4u_dma_ops');
    const pfn = page(m);
    const addr = dmaMapPageAttrs(dev, pfn, 100, 300, DMA_TO_DEVICE);
    expect(addr).toBe(SUN4U_DVMA_BASE + 100);
    const data = pattern(300, 1);
    m.cpu.write(m.mm.pageAddress(pfn) + 100, data);
    expect(firstDifference(dev.hw.dmaRead(addr, 300), data)).toBe(-1);
    dmaUnmapPageAttrs(dev, addr, 300, DMA_TO_DEVICE);
  });

  it('holds a device\'s writes in the streaming buffer: without a sync for the CPU, the CPU reads stale bytes', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'qlogicpti' });
    const pfn = page(m);
    const kva = m.mm.pageAddress(pfn);
    const old = pattern(IO_PAGE_SIZE, 2);
    m.cpu.write(kva, old);
    const addr = dmaMapPageAttrs(dev, pfn, 0, IO_PAGE_SIZE, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    const frame = pattern(IO_PAGE_SIZE, 3);
    dev.hw.dmaWrite(addr, frame);
    // sparc64's caches are coherent; the bytes are in the STC, not in memory.
    expect(firstDifference(m.hw.ram.read(m.mm.virtToPhys(kva), IO_PAGE_SIZE), old)).toBe(-1);
    // The device reads its own writes back from the STC.
    expect(firstDifference(dev.hw.dmaRead(addr, IO_PAGE_SIZE), frame)).toBe(-1);
    expect(iommu(m).strbuf.stats().dirtyLines).toBe(IO_PAGE_SIZE / 64);
    dmaSyncSingleForCpu(dev, addr, IO_PAGE_SIZE, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, IO_PAGE_SIZE), frame)).toBe(-1);
    // Flushed by context, with the flush-flag handshake a FROM_DEVICE flush needs.
    expect(iommu(m).strbuf.stats()).toMatchObject({ ctxflushes: 1, flushSyncs: 1, linesWrittenBack: IO_PAGE_SIZE / 64, dirtyLines: 0 });
    dmaUnmapPageAttrs(dev, addr, IO_PAGE_SIZE, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('flushes the streaming buffer on unmap, keeping the bytes around a partial write', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'esp' });
    const pfn = page(m);
    const kva = m.mm.pageAddress(pfn);
    const before = pattern(IO_PAGE_SIZE, 4);
    m.cpu.write(kva, before);
    const addr = dmaMapPageAttrs(dev, pfn, 0, IO_PAGE_SIZE, DMA_BIDIRECTIONAL);
    const patch = pattern(10, 5);
    dev.hw.dmaWrite(addr + 100, patch);
    expect(firstDifference(m.cpu.read(kva, IO_PAGE_SIZE), before)).toBe(-1);
    dmaUnmapPageAttrs(dev, addr, IO_PAGE_SIZE, DMA_BIDIRECTIONAL);
    const expected = before.slice();
    expected.set(patch, 100);
    expect(firstDifference(m.cpu.read(kva, IO_PAGE_SIZE), expected)).toBe(-1);
    expect(iommu(m).strbuf.stats().linesWrittenBack).toBe(1);
  });

  it('lets coherent buffers bypass the streaming buffer (IOPTE_CONSISTENT)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'cassini' });
    const ring = dmaAllocCoherent(dev, 2 * IO_PAGE_SIZE);
    if (ring === null) throw new Error('alloc');
    expect(ring.dmaHandle).toBeGreaterThanOrEqual(SUN4U_DVMA_BASE);
    const data = pattern(2 * IO_PAGE_SIZE, 6);
    dev.hw.dmaWrite(ring.dmaHandle, data);
    expect(firstDifference(m.cpu.read(ring.cpuAddr, data.length), data)).toBe(-1);
    expect(iommu(m).strbuf.stats().bufferedWrites).toBe(0);
  });

  it('tags each mapping with a context and flushes by context; sg lists share one', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sym' });
    const a = dmaMapPageAttrs(dev, page(m), 0, 512, DMA_FROM_DEVICE);
    const b = dmaMapPageAttrs(dev, page(m), 0, 512, DMA_FROM_DEVICE);
    const io = iommu(m);
    expect([io.pteCtx[io.entryOf(a)], io.pteCtx[io.entryOf(b)]]).toEqual([1, 2]);
    expect(io.sun4uStats().contextsInUse).toBe(2);
    dmaUnmapPageAttrs(dev, a, 512, DMA_FROM_DEVICE);
    const c = dmaMapPageAttrs(dev, page(m), 0, 512, DMA_TO_DEVICE);
    // ctx_lowest_free came back down to 1.
    expect(io.pteCtx[io.entryOf(c)]).toBe(1);
    dmaUnmapPageAttrs(dev, c, 512, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(dev, b, 512, DMA_FROM_DEVICE);
    // TO_DEVICE flushes skip the flush-flag handshake.
    expect(io.strbuf.stats()).toMatchObject({ ctxflushes: 3, flushSyncs: 2 });
    expect(io.sun4uStats().contextsInUse).toBe(0);
  });

  it('merges an sg list whose DVMA ranges follow each other into one segment, flushed as one on sync', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'mpt', maxSegmentSize: 2 ** 20 });
    const pfns = [0, 1, 2].map(() => {
      const pfn = page(m);
      page(m);
      return pfn;
    });
    const sgl: Scatterlist[] = pfns.map((pfn) => ({ pfn, offset: 0, length: IO_PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSgAttrs(dev, sgl, 3, DMA_FROM_DEVICE)).toBe(1);
    expect(sgl.map((s) => s.dmaLength)).toEqual([3 * IO_PAGE_SIZE, 0, 0]);
    expect((sgl[1] as Scatterlist).dmaAddress).toBe(DMA_MAPPING_ERROR);
    const data = pattern(3 * IO_PAGE_SIZE, 7);
    dev.hw.dmaWrite((sgl[0] as Scatterlist).dmaAddress, data);
    // Still in the STC: memory has none of it.
    expect(m.hw.ram.read((pfns[1] as number) * m.pageSize, IO_PAGE_SIZE).every((b) => b === 0)).toBe(true);
    dmaSyncSgForCpu(dev, sgl, 3, DMA_FROM_DEVICE);
    pfns.forEach((pfn, i) => expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), IO_PAGE_SIZE), data.subarray(i * IO_PAGE_SIZE, (i + 1) * IO_PAGE_SIZE))).toBe(-1));
    dmaUnmapSgAttrs(dev, sgl, 3, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);
    // With a one-page segment limit, three segments.
    const small = m.createDevice({ name: 'small', maxSegmentSize: IO_PAGE_SIZE });
    const again: Scatterlist[] = pfns.map((pfn) => ({ pfn, offset: 0, length: IO_PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSgAttrs(small, again, 3, DMA_TO_DEVICE)).toBe(3);
    // With a two-page segment boundary, the third entry does not merge: three IO pages would cross
    // it wherever they lie (iommu_is_span_boundary of a run longer than the boundary is true).
    const bounded = m.createDevice({ name: 'bounded', maxSegmentSize: 2 ** 20, segmentBoundaryMask: 2 * IO_PAGE_SIZE - 1 });
    const third: Scatterlist[] = pfns.map((pfn) => ({ pfn, offset: 0, length: IO_PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    const segments = dmaMapSgAttrs(bounded, third, 3, DMA_TO_DEVICE);
    expect(segments).toBeGreaterThanOrEqual(2);
    for (const s of third.slice(0, segments)) expect(s.dmaLength).toBeLessThanOrEqual(2 * IO_PAGE_SIZE);
  });

  it('faults on an IOPTE never used and on a write through a read-only one, and prints the Schizo error', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'hme' });
    expect(() => dev.hw.dmaRead(SUN4U_DVMA_BASE + 0x100000, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(lastMessage(m)).toBe('/pci@1e,600000: IOMMU Error, type[Invalid Error]');
    const addr = dmaMapPageAttrs(dev, page(m), 0, 64, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(lastMessage(m)).toBe('/pci@1e,600000: IOMMU Error, type[Protection Error]');
    expect(() => dev.hw.dmaRead(0x1000, 4)).toThrow(DmaFault);
    expect(m.iommu?.stats().faults).toBe(3);
  });

  it('points unmapped IOPTEs at the dummy page, so a late access lands there instead of faulting', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'hme' });
    const pfn = page(m);
    m.cpu.write(m.mm.pageAddress(pfn), pattern(64, 9));
    const addr = dmaMapPageAttrs(dev, pfn, 0, 64, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(dev, addr, 64, DMA_TO_DEVICE);
    expect(dev.hw.dmaRead(addr, 64).every((b) => b === 0)).toBe(true);
    expect(iommu(m).sun4uStats().dummyHits).toBe(1);
  });

  it('allocates TSB entries from a moving hint and flushes the IOMMU when the arena wraps', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'hog' });
    const pfn = page(m, 10);
    const chunk = 1024 * IO_PAGE_SIZE;
    const addrs: number[] = [];
    // 127 chunks of 1024 entries and one of 1023 fill the 128K-entry TSB: iommu_area_alloc never
    // hands out the last entry ("We don't want the last of the limit").
    for (let i = 0; i < 128; i++) {
      const addr = dmaMapPageAttrs(dev, pfn, 0, i === 127 ? chunk - IO_PAGE_SIZE : chunk, DMA_TO_DEVICE);
      expect(dmaMappingError(dev, addr)).toBe(0);
      addrs.push(addr);
    }
    expect(addrs[1]).toBe(SUN4U_DVMA_BASE + chunk);
    expect(iommu(m).sun4uStats().flushAlls).toBe(0);
    expect(dmaMapPageAttrs(dev, pfn, 0, IO_PAGE_SIZE, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(lastMessage(m)).toBe('WARNING: at arch/sparc/kernel/iommu.c dma_4u_map_page()');
    dmaUnmapPageAttrs(dev, addrs[5] as number, chunk, DMA_TO_DEVICE);
    expect(dmaMapPageAttrs(dev, pfn, 0, IO_PAGE_SIZE, DMA_TO_DEVICE)).toBe(addrs[5]);
    expect(iommu(m).sun4uStats().flushAlls).toBeGreaterThan(0);
  });

  it('accepts masks that cover the DVMA window, 64-bit ones too (dma_4u_supported)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'ali' });
    expect(dmaSetMask(dev, dmaBitMask(31))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(64))).toBe(0);
    expect(() => createMachine({ iommu: 'sun4v-iommu' })).toThrow(RangeError);
    expect(() => m.createDevice({ name: 'outside', iommu: false })).toThrow(RangeError);
  });
});
