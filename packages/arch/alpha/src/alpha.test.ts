import { describe, expect, it } from '@jest/globals';
import { DMA_TO_DEVICE, DMA_MAPPING_ERROR, EIO, dmaAllocCoherent, dmaBitMask, dmaMapPageAttrs, dmaMappingError, dmaSetMask, dmaSetMaskAndCoherent } from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { firstDifference, pattern } from '@kdma/testkit';
import { alphaFacts, arch, createMachine, sizeForMemory } from './index.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

describe('alpha facts and machines', () => {
  it('describes Alpha: coherent, 8 KiB pages, 64-byte lines, ZONE_DMA below 4 GiB', () => {
    expect(arch).toMatchObject({ name: 'alpha', pageSizes: [8192], cacheLineSize: 64, coherent: 'always', honouredAttrs: 0 });
    expect(arch.platforms).toEqual(['tsunami', 'jensen']);
    expect(arch.ops).toEqual(['alpha_pci_ops', 'alpha_noop_ops']);
    expect(alphaFacts('jensen').iommus).toEqual([]);
    expect(() => createMachine({ platform: 'marvel' })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'jensen', iommu: 'pci-iommu' })).toThrow(RangeError);
    expect(() => createMachine({ iommu: false })).toThrow(RangeError);
  });

  it('sizes a scatter-gather window for memory (size_for_memory)', () => {
    expect(sizeForMemory(GIB, 4 * GIB)).toBe(GIB);
    expect(sizeForMemory(GIB, 384 * MIB)).toBe(512 * MIB);
  });
});

describe('alpha jensen: alpha_noop_ops', () => {
  it('hands out physical addresses, with no translation on the bus', () => {
    const m = createMachine({ platform: 'jensen' });
    expect(m.hw.ram.regions).toEqual([{ base: 0, size: 64 * MIB }]);
    expect(m.iommu).toBeNull();
    const dev = m.createDevice({ name: 'eisa-scsi' });
    expect(getDmaOps(dev).name).toBe('alpha_noop_ops');
    expect(dev.hw.translation).toBeNull();
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const data = pattern(1000, 3);
    m.cpu.write(m.mm.pageAddress(pfn) + 24, data);
    const addr = dmaMapPageAttrs(dev, pfn, 24, 1000, DMA_TO_DEVICE);
    expect(addr).toBe(pfn * 8192 + 24);
    expect(firstDifference(dev.hw.dmaRead(addr, 1000), data)).toBe(-1);
    const buf = dmaAllocCoherent(dev, 8192);
    if (buf === null) throw new Error('alloc');
    expect(buf.dmaHandle).toBe(m.mm.virtToPhys(buf.cpuAddr));
  });

  it('refuses masks below 24 bits, and a buffer beyond a 24-bit mask fails to map', () => {
    const m = createMachine({ platform: 'jensen' });
    const dev = m.createDevice({ name: 'isa-dma' });
    expect(dmaSetMask(dev, dmaBitMask(23))).toBe(-EIO);
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    const big = m.mm.allocPages(10);
    const pfn = m.mm.allocPages(0);
    if (big === null || pfn === null) throw new Error('allocPages');
    expect(pfn * 8192).toBeGreaterThanOrEqual(16 * MIB);
    const addr = dmaMapPageAttrs(dev, pfn, 0, 512, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, addr)).not.toBe(0);
  });
});
