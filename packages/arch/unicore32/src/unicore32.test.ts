import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  ENOMEM,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaCacheSync,
  dmaFreeAttrs,
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { GFP_DMA, GFP_KERNEL } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, PCI_DMA_THRESHOLD } from './index.js';

const MIB = 2 ** 20;

/** A kmalloc buffer holding `bytes`, from ZONE_NORMAL (above 128 MiB) unless `gfp` says ZONE_DMA. */
function buffer(m: Machine, bytes: Uint8Array, gfp = GFP_KERNEL): { kva: number; paddr: number } {
  const kva = m.mm.kmalloc(bytes.length, gfp);
  if (kva === null) throw new Error('kmalloc');
  m.cpu.write(kva, bytes);
  return { kva, paddr: m.mm.virtToPhys(kva) };
}

describe('unicore32: swiotlb_dma_map_ops for every device', () => {
  it('is the only ops, over a pool inside the PCI window', () => {
    const m = createMachine();
    const pci = m.createDevice({ name: '0000:00:00.0' });
    const ahb = m.createDevice({ name: 'umal', busDmaLimit: 0 });
    expect(getDmaOps(pci).name).toBe('swiotlb_dma_map_ops');
    expect(getDmaOps(ahb).name).toBe('swiotlb_dma_map_ops');
    expect(pci.busDmaLimit).toBe(PCI_DMA_THRESHOLD);
    expect(ahb.busDmaLimit).toBe(0);
    expect(m.swiotlb?.stats().totalSlots).toBe((64 * MIB) / 2048);
    // Bounce a page-sized buffer: its slot is below 128 MiB.
    const { kva } = buffer(m, pattern(4096, 1));
    const addr = dmaMapSingle(pci, kva, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(pci, addr)).toBe(0);
    expect(addr + 4095).toBeLessThanOrEqual(PCI_DMA_THRESHOLD);
    dmaUnmapSingle(pci, addr, 4096, DMA_TO_DEVICE);
  });

  it('keeps zone 0 to the first 128 MiB (puv3_pci_adjust_zones)', () => {
    const m = createMachine();
    expect(m.arch.zones.map((zone) => [zone.name, zone.end])).toEqual([
      ['DMA', 128 * MIB],
      ['NORMAL', Number.POSITIVE_INFINITY],
    ]);
    const pfn = m.mm.allocPages(0, GFP_DMA);
    if (pfn === null) throw new Error('allocPages');
    expect(pfn * m.pageSize).toBeLessThan(128 * MIB);
  });
});

describe('unicore32: the 128 MiB PCI limit', () => {
  it.each([
    ['DMA_TO_DEVICE', DMA_TO_DEVICE],
    ['DMA_FROM_DEVICE', DMA_FROM_DEVICE],
    ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL],
  ] as const)('bounces a %s buffer above 128 MiB through swiotlb, with no dma-debug report', (_name, dir) => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: '0000:00:00.0' });
    const size = 3000;
    const data = pattern(size, 2);
    const { kva, paddr } = buffer(m, data);
    expect(paddr).toBeGreaterThan(PCI_DMA_THRESHOLD);
    const addr = dmaMapSingle(dev, kva, size, dir as DmaDataDirection);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).not.toBe(paddr);
    expect(addr + size - 1).toBeLessThanOrEqual(PCI_DMA_THRESHOLD);
    const stats = m.swiotlb?.stats();
    expect(stats?.usedSlots).toBe(2);
    if (dir !== DMA_FROM_DEVICE) expect(firstDifference(dev.hw.dmaRead(addr, size), data)).toBe(-1);
    const fresh = pattern(size, 3);
    if (dir !== DMA_TO_DEVICE) dev.hw.dmaWrite(addr, fresh);
    dmaSyncSingleForCpu(dev, addr, size, dir as DmaDataDirection);
    if (dir !== DMA_TO_DEVICE) expect(firstDifference(m.cpu.read(kva, size), fresh)).toBe(-1);
    const update = pattern(size, 4);
    if (dir !== DMA_FROM_DEVICE) m.cpu.write(kva, update);
    dmaSyncSingleForDevice(dev, addr, size, dir as DmaDataDirection);
    if (dir !== DMA_FROM_DEVICE) expect(firstDifference(dev.hw.dmaRead(addr, size), update)).toBe(-1);
    dmaUnmapSingle(dev, addr, size, dir as DmaDataDirection);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('maps a buffer in zone 0, and any buffer of an on-chip master, in place', () => {
    const m = createMachine();
    const pci = m.createDevice({ name: '0000:00:00.0' });
    const ahb = m.createDevice({ name: 'umal', busDmaLimit: 0 });
    const low = buffer(m, pattern(512, 5), GFP_DMA);
    const high = buffer(m, pattern(512, 6));
    const a = dmaMapSingle(pci, low.kva, 512, DMA_TO_DEVICE);
    const b = dmaMapSingle(ahb, high.kva, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(pci, a)).toBe(0);
    expect(dmaMappingError(ahb, b)).toBe(0);
    expect(a).toBe(low.paddr);
    expect(b).toBe(high.paddr);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0);
    dmaUnmapSingle(pci, a, 512, DMA_TO_DEVICE);
    dmaUnmapSingle(ahb, b, 512, DMA_TO_DEVICE);
  });

  it('shows why: the bridge drops the top five address bits, so a raw physical address above 128 MiB lands low', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: '0000:00:00.0' });
    const victim = buffer(m, pattern(256, 7), GFP_DMA);
    const high = victim.paddr + 128 * MIB;
    // A driver that skips the DMA API and programs the physical address itself.
    dev.hw.dmaWrite(high, pattern(256, 8));
    expect(firstDifference(m.cpu.read(victim.kva, 256), pattern(256, 8))).toBe(-1);
  });

  it('allocates a PCI device’s coherent memory from zone 0, an on-chip master’s from anywhere', () => {
    const m = createMachine();
    const pci = m.createDevice({ name: '0000:00:00.0' });
    const ahb = m.createDevice({ name: 'umal', busDmaLimit: 0 });
    for (let i = 0; i < 8; i++) {
      const buf = dmaAllocCoherent(pci, 16384);
      if (buf === null) throw new Error('alloc');
      expect(buf.dmaHandle + 16383).toBeLessThanOrEqual(PCI_DMA_THRESHOLD);
      const data = pattern(16384, i);
      pci.hw.dmaWrite(buf.dmaHandle, data);
      expect(firstDifference(m.cpu.read(buf.cpuAddr, 16384), data)).toBe(-1);
    }
    const free = dmaAllocCoherent(ahb, 16384);
    if (free === null) throw new Error('alloc');
    expect(free.dmaHandle).toBeGreaterThan(PCI_DMA_THRESHOLD);
  });

  it('fails the mapping, with no pool to bounce through, as the 2012 swiotlb did (its overflow buffer)', () => {
    const m = createMachine({ swiotlb: false });
    expect(m.swiotlb).toBeNull();
    const dev = m.createDevice({ name: '0000:00:00.0' });
    const { kva } = buffer(m, pattern(512, 9));
    const addr = dmaMapSingle(dev, kva, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
  });

  it('keeps the pool inside the window whatever size swiotlb= asks for', () => {
    const m = createMachine({ swiotlb: { size: 8 * MIB } });
    expect(m.swiotlb?.stats().totalSlots).toBe((8 * MIB) / 2048);
    const dev = m.createDevice({ name: '0000:00:00.0' });
    const { kva } = buffer(m, pattern(512, 10));
    const addr = dmaMapSingle(dev, kva, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBeLessThanOrEqual(PCI_DMA_THRESHOLD);
    expect(m.hw.dmesg.entries().some((entry) => entry.message.includes('software IO TLB: mapped'))).toBe(true);
  });
});

describe('unicore32: coherent as the kernel sees it', () => {
  it('gives cached memory and cached user mappings whatever the attributes', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: '0000:00:00.0' });
    expect(m.hw.cache).toBeNull();
    const process = m.createProcess();
    for (const attrs of [0, DMA_ATTR_WRITE_COMBINE, DMA_ATTR_NON_CONSISTENT, DMA_ATTR_NO_KERNEL_MAPPING]) {
      const buf = dmaAllocAttrs(dev, 8192, attrs);
      if (buf === null) throw new Error('alloc');
      // The 2012 swiotlb_alloc_coherent reads no attribute: even NO_KERNEL_MAPPING gets a mapping.
      expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('normal');
      const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192, attrs));
      expect(process.pgprotAt(uva)).toBe('normal');
      process.munmap(uva, 8192);
      dmaFreeAttrs(dev, 8192, buf.cpuAddr, buf.dmaHandle, attrs);
    }
  });

  it('runs dma_cache_sync as __cpuc_dma_clean_range for TO_DEVICE and __cpuc_dma_flush_range otherwise', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: '0000:00:00.0' });
    const buf = dmaAllocAttrs(dev, 8192, DMA_ATTR_NON_CONSISTENT);
    if (buf === null) throw new Error('alloc');
    const { cacheCleans, cacheFlushes } = m.hw.counters;
    dmaCacheSync(dev, buf.cpuAddr, 8192, DMA_TO_DEVICE);
    expect(m.hw.counters.cacheCleans - cacheCleans).toBeGreaterThan(0);
    dmaCacheSync(dev, buf.cpuAddr, 100, DMA_FROM_DEVICE);
    dmaCacheSync(dev, buf.cpuAddr, 100, DMA_BIDIRECTIONAL);
    expect(m.hw.counters.cacheFlushes - cacheFlushes).toBe(2);
  });
});
