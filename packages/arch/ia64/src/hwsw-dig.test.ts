import { describe, expect, it } from '@jest/globals';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaMapPageAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapPageAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, hwswDmaGetOps, ia64SwiotlbDmaOps, pageIcacheClean, sbaDmaOps, ZX1_IOVA_BASE } from './index.js';

const GIB = 2 ** 30;

function highPage(m: Machine): number {
  const pfn = m.mm.allocPages(0);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * m.pageSize).toBeGreaterThanOrEqual(4 * GIB);
  return pfn;
}

describe('ia64 hpzx1_swiotlb: hwsw_dma_get_ops', () => {
  it('puts a device on the SBA or on a 2 MiB swiotlb by its mask, asked afresh on every call', () => {
    const m = createMachine({ platform: 'hpzx1_swiotlb' });
    expect(m.swiotlb?.stats().totalSlots).toBe(1024);
    const sac = m.createDevice({ name: 'sac' });
    const narrow = m.createDevice({ name: 'narrow', dmaBits: 30 });
    expect(getDmaOps(sac).name).toBe('hwsw_dma_ops');
    expect(hwswDmaGetOps(sac)).toBe(sbaDmaOps);
    expect(hwswDmaGetOps(narrow)).toBe(ia64SwiotlbDmaOps);

    // The narrow device's buffer above 4 GiB bounces below 1 GiB; the SBA device's goes through the pdir.
    const pfn = highPage(m);
    const data = pattern(4096, 6);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const bounced = dmaMapPageAttrs(narrow, pfn, 0, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(narrow, bounced)).toBe(0);
    expect(bounced + 4096).toBeLessThanOrEqual(GIB);
    expect(firstDifference(narrow.hw.dmaRead(bounced, 4096), data)).toBe(-1);
    const viaPdir = dmaMapPageAttrs(sac, pfn, 0, 4096, DMA_TO_DEVICE);
    expect(viaPdir).toBeGreaterThanOrEqual(ZX1_IOVA_BASE);
    expect(viaPdir).toBeLessThan(2 * ZX1_IOVA_BASE);
    dmaUnmapPageAttrs(narrow, bounced, 4096, DMA_TO_DEVICE);
    dmaUnmapPageAttrs(sac, viaPdir, 4096, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats()).toMatchObject({ usedSlots: 0, bouncedToDevice: 4096 });

    // Widening the narrow device's mask moves it to the SBA from its next call on.
    expect(dmaSetMask(narrow, dmaBitMask(32))).toBe(0);
    expect(hwswDmaGetOps(narrow)).toBe(sbaDmaOps);
    // ... but a device on the SBA cannot narrow its mask: sba_dma_supported answers for it.
    expect(dmaSetMask(sac, dmaBitMask(30))).toBe(-EIO);
  });
});

describe('ia64 dig: swiotlb_dma_ops', () => {
  it('maps what a device reaches in place, bounces the rest, and allocates coherent memory from ZONE_DMA', () => {
    const m = createMachine({ platform: 'dig', memory: 4 * GIB });
    expect(m.iommu).toBeNull();
    expect(m.swiotlb?.stats().totalSlots).toBe(32768);
    const dev = m.createDevice({ name: 'e100' });
    expect(getDmaOps(dev)).toBe(ia64SwiotlbDmaOps);
    const pfn = highPage(m);
    const rx = dmaMapPageAttrs(dev, pfn, 0, 2048, DMA_FROM_DEVICE);
    expect(rx).toBeLessThan(4 * GIB);
    const frame = pattern(2048, 2);
    dev.hw.dmaWrite(rx, frame);
    dmaUnmapPageAttrs(dev, rx, 2048, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), 2048), frame)).toBe(-1);
    // ia64_swiotlb_alloc_coherent: GFP_DMA unless the coherent mask is 64-bit.
    const ring = dmaAllocCoherent(dev, 65536);
    expect(ring?.dmaHandle).toBeLessThan(4 * GIB);
    const wide = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    expect(dmaAllocCoherent(wide, 65536)?.dmaHandle).toBeGreaterThanOrEqual(4 * GIB);
  });

  it('marks pages clean for a FROM_DEVICE buffer the device wrote in place, not for a bounced one', () => {
    const m = createMachine({ platform: 'dig', memory: 4 * GIB });
    const wide = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    const narrow = m.createDevice({ name: 'narrow' });
    const a = highPage(m);
    const b = highPage(m);
    const inPlace = dmaMapPageAttrs(wide, a, 0, m.pageSize, DMA_FROM_DEVICE);
    expect(inPlace).toBe(a * m.pageSize);
    dmaUnmapPageAttrs(wide, inPlace, m.pageSize, DMA_FROM_DEVICE);
    const bounced = dmaMapPageAttrs(narrow, b, 0, m.pageSize, DMA_FROM_DEVICE);
    dmaUnmapPageAttrs(narrow, bounced, m.pageSize, DMA_FROM_DEVICE);
    expect(pageIcacheClean(m, a)).toBe(true);
    expect(pageIcacheClean(m, b)).toBe(false);
  });
});

describe('ia64 dig_vtd: intel_dma_ops', () => {
  it('puts every PCI device behind VT-d with scattered pages made contiguous, and prints DMAR faults', () => {
    const m = createMachine({ platform: 'dig', iommu: 'intel-iommu' });
    expect(m.iommu?.name).toBe('intel-iommu');
    const dev = m.createDevice({ name: 'igb' });
    expect(getDmaOps(dev).name).toBe('intel_dma_ops');
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const addr = dmaMapPageAttrs(dev, pfn, 0, m.pageSize, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).not.toBe(pfn * m.pageSize);
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(8))).toThrow(DmaFault);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe(
      `DMAR:[DMA Write] Request device [00:01.0] fault addr ${addr.toString(16)} \nDMAR:[fault reason 05] PTE Write access is not set`,
    );
    // A device left out of the DMAR unit gets swiotlb_dma_ops.
    expect(getDmaOps(m.createDevice({ name: 'legacy', iommu: false })).name).toBe('swiotlb_dma_ops');
    expect(() => createMachine({ platform: 'hpzx1', iommu: 'intel-iommu' })).toThrow(RangeError);
  });
});
