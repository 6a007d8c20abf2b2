import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_WRITE_BARRIER,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocAttrs,
  dmaBitMask,
  dmaFreeAttrs,
  dmaMapPageAttrs,
  dmaMapSgAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapPageAttrs,
  dmaUnmapSgAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, IOPGSIZE, PCI32_DIRECT_BASE, PCI32_MAPPED_BASE, pcibrOf, SN2_NODE0_MEMORY, sn2DmaMapping, type PcibrBus } from './index.js';

function bridge(m: Machine): PcibrBus {
  const bus = pcibrOf(m);
  if (bus === null) throw new Error('no bridge');
  return bus;
}

function page(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  return pfn;
}

describe('ia64 sn2: sn_dma_ops and the PCI bridge', () => {
  it('has node memory at 0x3000000000, no ZONE_DMA, and WRITE_BARRIER among the honoured attributes', () => {
    const m = createMachine({ platform: 'sn2' });
    expect(m.hw.ram.regions).toEqual([{ base: SN2_NODE0_MEMORY, size: 2 ** 31 }]);
    expect(m.arch.zones.map((z) => z.name)).toEqual(['NORMAL']);
    expect(m.directHooks.honouredAttrs).toBe(DMA_ATTR_WRITE_BARRIER);
    expect(m.iommu?.name).toBe('sn-pcibr');
    const dev = m.createDevice({ name: 'qla1280' });
    expect(getDmaOps(dev).name).toBe('sn_dma_ops');
    // sn_dma_supported: 31 bits at least.
    expect(dmaSetMask(dev, dmaBitMask(30))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(31))).toBe(0);
  });

  it('gives a 32-bit device the direct32 window, and an ATE with the barrier bit when asked for DMA_ATTR_WRITE_BARRIER', () => {
    const m = createMachine({ platform: 'sn2' });
    const dev = m.createDevice({ name: 'tg3' });
    const pfn = page(m);
    const paddr = pfn * m.pageSize;
    const plain = dmaMapPageAttrs(dev, pfn, 0, 4096, DMA_BIDIRECTIONAL);
    expect(plain).toBe(PCI32_DIRECT_BASE + (paddr - SN2_NODE0_MEMORY));
    expect(sn2DmaMapping(dev, plain)).toEqual({ kind: 'direct32', barrier: false, prefetch: false });
    const barrier = dmaMapPageAttrs(dev, pfn, 100, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_WRITE_BARRIER);
    expect(barrier).toBe(PCI32_MAPPED_BASE + 100);
    expect(sn2DmaMapping(dev, barrier)).toEqual({ kind: 'ate', barrier: true, prefetch: false });
    // Both reach the same memory.
    const data = pattern(4096, 3);
    dev.hw.dmaWrite(barrier, data);
    expect(firstDifference(dev.hw.dmaRead(plain + 100, 4096), data)).toBe(-1);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn) + 100, 4096), data)).toBe(-1);
    dmaUnmapPageAttrs(dev, barrier, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_WRITE_BARRIER);
    dmaUnmapPageAttrs(dev, plain, 4096, DMA_BIDIRECTIONAL);
    // The freed ATE no longer translates.
    expect(() => dev.hw.dmaRead(barrier, 4)).toThrow(DmaFault);
    expect(bridge(m).pcibrStats()).toMatchObject({ atesUsed: 0, direct32Maps: 1, ateMaps: 1, barrierMaps: 1 });
  });

  it('gives a 64-bit device direct64 addresses, PCI64_ATTR_PREF without the barrier and PCI64_ATTR_BAR with it', () => {
    const m = createMachine({ platform: 'sn2' });
    const dev = m.createDevice({ name: 'ioc4', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const pfn = page(m);
    const plain = dmaMapPageAttrs(dev, pfn, 0, 512, DMA_TO_DEVICE);
    expect(plain).toBe(pfn * m.pageSize);
    expect(sn2DmaMapping(dev, plain)).toEqual({ kind: 'direct64', barrier: false, prefetch: true });
    dmaUnmapPageAttrs(dev, plain, 512, DMA_TO_DEVICE);
    const other = page(m);
    const barrier = dmaMapPageAttrs(dev, other, 0, 512, DMA_FROM_DEVICE, DMA_ATTR_WRITE_BARRIER);
    expect(sn2DmaMapping(dev, barrier)).toEqual({ kind: 'direct64', barrier: true, prefetch: false });
    dmaUnmapPageAttrs(dev, barrier, 512, DMA_FROM_DEVICE, DMA_ATTR_WRITE_BARRIER);
    expect(sn2DmaMapping(dev, barrier)).toBeNull();
  });

  it('maps sg lists entry by entry, the barrier on every entry', () => {
    const m = createMachine({ platform: 'sn2' });
    const dev = m.createDevice({ name: 'mpt' });
    const sgl: Scatterlist[] = [page(m), page(m)].map((pfn) => ({ pfn, offset: 0, length: 4096, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSgAttrs(dev, sgl, 2, DMA_TO_DEVICE, DMA_ATTR_WRITE_BARRIER)).toBe(2);
    expect(sgl.map((s) => sn2DmaMapping(dev, s.dmaAddress)?.barrier)).toEqual([true, true]);
    dmaUnmapSgAttrs(dev, sgl, 2, DMA_TO_DEVICE, DMA_ATTR_WRITE_BARRIER);
    expect(bridge(m).pcibrStats().atesUsed).toBe(0);
  });

  it('allocates coherent memory with the barrier: an ATE for a 32-bit coherent mask', () => {
    const m = createMachine({ platform: 'sn2' });
    const dev = m.createDevice({ name: 'ehci' });
    const buf = dmaAllocAttrs(dev, 3 * IOPGSIZE);
    if (buf === null) throw new Error('alloc');
    expect(buf.dmaHandle).toBe(PCI32_MAPPED_BASE);
    expect(sn2DmaMapping(dev, buf.dmaHandle)).toMatchObject({ kind: 'ate', barrier: true });
    expect(bridge(m).pcibrStats().atesUsed).toBe(3);
    dmaFreeAttrs(dev, 3 * IOPGSIZE, buf.cpuAddr, buf.dmaHandle);
    expect(bridge(m).pcibrStats().atesUsed).toBe(0);
  });

  it('says "out of ATEs" and returns DMA_MAPPING_ERROR when the bridge has none left', () => {
    const m = createMachine({ platform: 'sn2' });
    const dev = m.createDevice({ name: 'hog' });
    const pfn = page(m, 10);
    // 1024 ATEs of 16 KiB: 16 MiB, which one 16 MiB order-10 block takes whole.
    const first = dmaMapPageAttrs(dev, pfn, 0, 1024 * IOPGSIZE, DMA_TO_DEVICE, DMA_ATTR_WRITE_BARRIER);
    expect(dmaMappingError(dev, first)).toBe(0);
    expect(dmaMapPageAttrs(dev, pfn, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_WRITE_BARRIER)).toBe(DMA_MAPPING_ERROR);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('sn_dma_map_page: out of ATEs');
  });
});
