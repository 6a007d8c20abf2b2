import { describe, expect, it, jest } from '@jest/globals';
import { DMA_ATTR_WRITE_BARRIER, DMA_TO_DEVICE, dmaMapSingle, dmaSyncSingleForCpu, dmaUnmapSingle } from '@kdma/dma-mapping';
import { arch, createMachine, ia64Facts, ia64MemoryLayout, IA64_PLATFORM_NAMES } from './index.js';

const GIB = 2 ** 30;

describe('ia64 facts and machines', () => {
  it('describes IA-64: coherent, 16 KiB pages by default, 128-byte lines, ZONE_DMA below 4 GiB', () => {
    expect(arch).toMatchObject({ name: 'ia64', pageSizes: [16384, 4096, 8192, 65536], cacheLineSize: 128, coherent: 'always', dmaMinAlign: 1 });
    expect(arch.platforms).toEqual(['hpzx1', 'hpzx1_swiotlb', 'dig', 'sn2']);
    expect(arch.iommus).toEqual(['sba', 'sn-pcibr', 'intel-iommu']);
    expect(arch.ops).toEqual(['sba_dma_ops', 'hwsw_dma_ops', 'swiotlb_dma_ops', 'sn_dma_ops', 'intel_dma_ops']);
    expect(arch.zones.map((z) => [z.name, z.end])).toEqual([
      ['DMA', 4 * GIB],
      ['NORMAL', Number.POSITIVE_INFINITY],
    ]);
    for (const platform of IA64_PLATFORM_NAMES) {
      expect(ia64Facts(platform).honouredAttrs).toBe(platform === 'sn2' ? DMA_ATTR_WRITE_BARRIER : 0);
    }
    expect(() => ia64Facts('hp-sim')).toThrow(RangeError);
    expect(() => createMachine({ platform: 'hp-sim' })).toThrow(RangeError);
  });

  it('lays RAM out as each machine vector\'s firmware does', () => {
    expect(ia64MemoryLayout('hpzx1', 3 * GIB)).toEqual([
      { base: 0, size: GIB },
      { base: 4 * GIB, size: 2 * GIB },
    ]);
    expect(ia64MemoryLayout('dig', GIB)).toEqual([{ base: 0, size: GIB }]);
    expect(ia64MemoryLayout('sn2', GIB)).toEqual([{ base: 0x30_0000_0000, size: GIB }]);
    expect(() => createMachine({ memoryRegions: [{ base: 0, size: 2 * GIB }] })).toThrow(/overlaps the SBA's IOVA space/);
  });

  it('syncs with a memory barrier only (machvec_dma_sync_single)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'nic' });
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const mb = jest.spyOn(m.cpu, 'mb');
    const addr = dmaMapSingle(dev, kva, 256, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_TO_DEVICE);
    expect(mb).toHaveBeenCalledTimes(1);
    dmaUnmapSingle(dev, addr, 256, DMA_TO_DEVICE);
    expect(m.hw.counters.cacheFlushes + m.hw.counters.cacheCleans + m.hw.counters.cacheInvalidates).toBe(0);
  });
});
