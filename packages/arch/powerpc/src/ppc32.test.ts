import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaGetCacheAlignment,
  dmaGetRequiredMask,
  dmaMapPage,
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSetCoherentMask,
  dmaSyncSingleForCpu,
  dmaUnmapPage,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { GFP_DMA } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { CONSISTENT_SIZE, createMachine, getDmaOffset, PPC32_LOWMEM_SIZE } from './index.js';
import { GIB, MIB, must } from './test-machines.js';

const FOUR_GIB = 4 * GIB;

function counters(m: Machine): [number, number, number] {
  const c = m.hw.counters;
  return [c.cacheCleans, c.cacheInvalidates, c.cacheFlushes];
}

function delta(m: Machine, before: [number, number, number]): number[] {
  return counters(m).map((n, i) => n - (before[i] as number));
}

describe('dma_direct_ops: the per-device offset', () => {
  it('adds PCI_DRAM_OFFSET to every PCI bus address, and the device reaches RAM through it', () => {
    const m = createMachine({ platform: 'powermac', pciDramOffset: 0x8000_0000, dmaDebug: true });
    const dev = m.createDevice({ name: 'sungem' });
    expect(getDmaOps(dev).name).toBe('dma_direct_ops');
    expect(getDmaOffset(dev)).toBe(0x8000_0000);
    const kva = must(m.mm.kmalloc(600), 'kmalloc');
    m.cpu.write(kva, pattern(600, 1));
    const addr = dmaMapSingle(dev, kva, 600, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(m.mm.virtToPhys(kva) + 0x8000_0000);
    expect(firstDifference(dev.hw.dmaRead(addr, 600), pattern(600, 1))).toBe(-1);
    dmaUnmapSingle(dev, addr, 600, DMA_TO_DEVICE);
    const buf = must(dmaAllocCoherent(dev, 4096), 'dmaAllocCoherent');
    expect(buf.dmaHandle).toBe(m.mm.virtToPhys(buf.cpuAddr) + 0x8000_0000);
    dmaFreeCoherent(dev, 4096, buf.cpuAddr, buf.dmaHandle);
    // dma_direct_get_required_mask: end of DRAM (512 MiB) + offset.
    expect(dmaGetRequiredMask(dev)).toBe(dmaBitMask(32));
    // OF platform devices do not get PCI_DRAM_OFFSET; the device option sets one (bus = phys - dmaOffset).
    expect(getDmaOffset(m.createDevice({ name: 'mac-io', bus: 'of-platform' }))).toBe(0);
    expect(getDmaOffset(m.createDevice({ name: 'i2s', bus: 'of-platform', dmaOffset: -0x1000_0000 }))).toBe(0x1000_0000);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('refuses a dma_offset on a device whose ops are not dma_direct_ops', () => {
    const m = createMachine();
    expect(() => m.createDevice({ name: 'e1000', dmaOffset: 4096 })).toThrow(RangeError);
  });
});

describe('mpc85xx: swiotlb_dma_ops above 4 GiB', () => {
  it('keeps dma_direct_ops while all RAM is below 4 GiB', () => {
    const m = createMachine({ platform: 'mpc85xx', memory: 2 * GIB });
    expect(m.swiotlb).toBeNull();
    expect(getDmaOps(m.createDevice({ name: 'gianfar', bus: 'of-platform' })).name).toBe('dma_direct_ops');
    expect(getDmaOps(m.createDevice({ name: 'e1000' })).name).toBe('dma_direct_ops');
  });

  it('bounces a PCI device’s buffer above 4 GiB through the io_tlb pool; coherent memory stays in lowmem', () => {
    const m = createMachine({
      platform: 'mpc85xx',
      memoryRegions: [
        { base: 0, size: 512 * MIB },
        { base: FOUR_GIB, size: GIB },
      ],
      dmaDebug: true,
    });
    const dev = m.createDevice({ name: 'e1000' });
    expect(getDmaOps(dev).name).toBe('swiotlb_dma_ops');
    // ZONE_NORMAL (kdma's name for HIGHMEM here) is all above 4 GiB: page allocations land there.
    const pfn = must(m.mm.allocPages(0), 'allocPages');
    expect(pfn * 4096).toBeGreaterThanOrEqual(FOUR_GIB);
    m.cpu.write(m.mm.pageAddress(pfn), pattern(4096, 2));
    const addr = dmaMapPage(dev, pfn, 0, 4096, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr + 4095).toBeLessThan(FOUR_GIB);
    expect(firstDifference(dev.hw.dmaRead(addr, 4096), pattern(4096, 2))).toBe(-1);
    dev.hw.dmaWrite(addr, pattern(4096, 3));
    dmaUnmapPage(dev, addr, 4096, DMA_BIDIRECTIONAL);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), 4096), pattern(4096, 3))).toBe(-1);
    expect(m.swiotlb?.stats()).toMatchObject({ bouncedToDevice: 4096, bouncedFromDevice: 4096, usedSlots: 0 });
    // A buffer below 4 GiB is mapped in place.
    const low = must(m.mm.allocPages(0, GFP_DMA), 'allocPages(GFP_DMA)');
    const inPlace = dmaMapPage(dev, low, 0, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, inPlace)).toBe(0);
    expect(inPlace).toBe(low * 4096);
    dmaUnmapPage(dev, inPlace, 4096, DMA_TO_DEVICE);
    // dma_direct_alloc_coherent: lowmem (ZONE_DMA, below CONFIG_LOWMEM_SIZE).
    const buf = must(dmaAllocCoherent(dev, 8192), 'dmaAllocCoherent');
    expect(buf.dmaHandle + 8191).toBeLessThan(PPC32_LOWMEM_SIZE);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('gives OF platform devices swiotlb_dma_ops only when their mask cannot cover RAM', () => {
    const m = createMachine({ platform: 'mpc85xx', memory: 5 * GIB });
    expect(getDmaOps(m.createDevice({ name: 'gianfar', bus: 'of-platform' })).name).toBe('swiotlb_dma_ops');
    expect(getDmaOps(m.createDevice({ name: 'sec', bus: 'of-platform', dmaBits: 36 })).name).toBe('dma_direct_ops');
  });
});

describe('ppc44x: NOT_COHERENT_CACHE', () => {
  it.each([
    ['DMA_TO_DEVICE', DMA_TO_DEVICE, [1, 0, 0]],
    ['DMA_FROM_DEVICE', DMA_FROM_DEVICE, [0, 1, 0]],
    ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL, [0, 0, 1]],
  ] as const)('syncs %s with clean, invalidate or flush on map and again on unmap', (_name, dir, ops) => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    const kva = must(m.mm.kmalloc(256), 'kmalloc');
    m.cpu.write(kva, pattern(256, 4));
    let before = counters(m);
    const addr = dmaMapSingle(dev, kva, 256, dir as DmaDataDirection);
    expect(delta(m, before)).toEqual(ops);
    if (dir !== DMA_FROM_DEVICE) expect(firstDifference(dev.hw.dmaRead(addr, 256), pattern(256, 4))).toBe(-1);
    before = counters(m);
    dmaUnmapSingle(dev, addr, 256, dir as DmaDataDirection);
    expect(delta(m, before)).toEqual(ops);
  });

  it('flushes instead of invalidating a FROM_DEVICE buffer that shares a cache line', () => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    const pfn = must(m.mm.allocPages(0), 'allocPages');
    const before = counters(m);
    const addr = dmaMapPage(dev, pfn, 16, 100, DMA_FROM_DEVICE);
    expect(delta(m, before)).toEqual([0, 0, 1]);
    dmaUnmapPage(dev, addr, 100, DMA_FROM_DEVICE);
  });

  it('shows the device’s bytes to the CPU only after the sync for the CPU', () => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    const kva = must(m.mm.kmalloc(128), 'kmalloc');
    const addr = dmaMapSingle(dev, kva, 128, DMA_FROM_DEVICE);
    m.cpu.read(kva, 128); // too early: the lines are filled from memory
    dev.hw.dmaWrite(addr, pattern(128, 5));
    expect(firstDifference(m.cpu.read(kva, 128), pattern(128, 5))).not.toBe(-1);
    dmaSyncSingleForCpu(dev, addr, 128, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 128), pattern(128, 5))).toBe(-1);
    dmaUnmapSingle(dev, addr, 128, DMA_FROM_DEVICE);
  });

  it('maps coherent memory uncached into the 2 MiB consistent area, whatever the attributes', () => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    expect(m.mm.stats().consistentTotal).toBe(CONSISTENT_SIZE);
    const process = m.createProcess();
    for (const attrs of [0, DMA_ATTR_WRITE_COMBINE, DMA_ATTR_NON_CONSISTENT, DMA_ATTR_NO_KERNEL_MAPPING]) {
      const buf = must(dmaAllocAttrs(dev, 5000, attrs), 'dmaAllocAttrs');
      expect(m.mm.isConsistentAddress(buf.cpuAddr)).toBe(true);
      expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
      expect(m.mm.stats().consistentUsed).toBe(8192);
      dev.hw.dmaWrite(buf.dmaHandle, pattern(5000, 6));
      expect(firstDifference(m.cpu.read(buf.cpuAddr, 5000), pattern(5000, 6))).toBe(-1);
      const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 5000, attrs));
      expect(process.pgprotAt(uva)).toBe('uncached');
      process.munmap(uva, 8192);
      dmaFreeAttrs(dev, 5000, buf.cpuAddr, buf.dmaHandle, attrs);
    }
    expect(m.mm.stats().consistentUsed).toBe(0);
  });

  it('runs out of the consistent area and refuses coherent masks below 32 bits', () => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    // "coherent allocation too big"
    expect(dmaAllocCoherent(dev, CONSISTENT_SIZE)).toBeNull();
    const bufs = [];
    for (;;) {
      const buf = dmaAllocCoherent(dev, 256 * 1024);
      if (buf === null) break;
      bufs.push(buf);
    }
    expect(bufs.length).toBeGreaterThan(0);
    expect(bufs.length * 256 * 1024).toBeLessThanOrEqual(CONSISTENT_SIZE);
    for (const buf of bufs) dmaFreeCoherent(dev, 256 * 1024, buf.cpuAddr, buf.dmaHandle);
    // A 28-bit mask covers this board's 256 MiB, but "(~mask) & ISA_DMA_THRESHOLD" refuses it.
    const narrow = m.createDevice({ name: 'narrow', dmaBits: 28 });
    expect(dmaSetCoherentMask(narrow, dmaBitMask(28))).toBe(0);
    expect(dmaAllocCoherent(narrow, 4096)).toBeNull();
    expect(m.hw.dmesg.entries().some((entry) => entry.message.includes('is smaller than system GFP_DMA mask'))).toBe(true);
  });

  it('works with 64 KiB pages: whole pages from the consistent area, syncs over 32-byte lines', () => {
    const m = createMachine({ platform: 'ppc44x', pageSize: 65536, dmaDebug: true });
    const dev = m.createDevice({ name: 'emac' });
    const buf = must(dmaAllocCoherent(dev, 100), 'dmaAllocCoherent');
    expect(m.mm.stats().consistentUsed).toBe(65536);
    expect(buf.dmaHandle % 65536).toBe(0);
    dmaFreeCoherent(dev, 100, buf.cpuAddr, buf.dmaHandle);
    const kva = must(m.mm.kmalloc(96), 'kmalloc');
    const before = counters(m);
    const addr = dmaMapSingle(dev, kva, 96, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(delta(m, before)).toEqual([0, 1, 0]);
    dmaUnmapSingle(dev, addr, 96, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('aligns kmalloc to the 32-byte line (ARCH_DMA_MINALIGN = L1_CACHE_BYTES)', () => {
    const m = createMachine({ platform: 'ppc44x' });
    const dev = m.createDevice({ name: 'emac' });
    expect(m.hw.cacheLineSize).toBe(32);
    expect(m.mm.kmallocMinAlign).toBe(32);
    expect(dmaGetCacheAlignment(dev)).toBe(32);
    const coherent = createMachine({ platform: 'powermac' });
    expect(coherent.mm.kmallocMinAlign).toBe(8);
    expect(dmaGetCacheAlignment(coherent.createDevice({ name: 'd' }))).toBe(1);
  });
});
