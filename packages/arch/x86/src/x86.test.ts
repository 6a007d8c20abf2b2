import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_WRITE_COMBINE,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaAllocPages,
  dmaFreePages,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaBitMask,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSupported,
  dmaUnmapSingleAttrs,
} from '@kdma/dma-mapping';
import { firstDifference, pattern } from '@kdma/testkit';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { arch, createMachine, e820Layout } from './index.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

describe('x86: coherent by construction', () => {
  it('shows CPU and device writes to each other at once', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'nic' });
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const paddr = m.mm.virtToPhys(kva);
    const data = pattern(256, 1);
    m.cpu.write(kva, data);
    expect(firstDifference(dev.hw.dmaRead(paddr, 256), data)).toBe(-1);
    m.cpu.read(kva, 256);
    const fresh = pattern(256, 2);
    dev.hw.dmaWrite(paddr, fresh);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);
  });

  it('ignores WRITE_COMBINE and NON_CONSISTENT: cached memory, cached user mappings', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'snd' });
    const process = m.createProcess();
    for (const attrs of [0, DMA_ATTR_WRITE_COMBINE, DMA_ATTR_NON_CONSISTENT]) {
      const buf = dmaAllocAttrs(dev, 16384, attrs);
      if (buf === null) throw new Error('alloc');
      expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('normal');
      const uva = process.mmap(16384, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 16384, attrs));
      expect(process.pgprotAt(uva)).toBe('normal');
    }
  });
});

describe('x86: zones and masks', () => {
  it('lays 8 GiB out around the PCI hole', () => {
    expect(e820Layout(8 * GIB)).toEqual([
      { base: 0, size: 3 * GIB },
      { base: 4 * GIB, size: 5 * GIB },
    ]);
  });

  it('puts a 32-bit device’s coherent buffer below 4 GiB and a 24-bit one’s below 16 MiB', () => {
    const m = createMachine({ memory: 8 * GIB });
    // Fill ZONE_NORMAL's preference: the allocator tries the highest zone first.
    const dev32 = m.createDevice({ name: 'dev32', dmaBits: 32 });
    const dev24 = m.createDevice({ name: 'dev24', dmaBits: 24 });
    const dev64 = m.createDevice({ name: 'dev64', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev64, dmaBitMask(64))).toBe(0);
    expect(dmaSetMaskAndCoherent(dev24, dmaBitMask(24))).toBe(0);
    for (let i = 0; i < 8; i++) {
      const a = dmaAllocCoherent(dev32, 64 * 1024);
      const b = dmaAllocCoherent(dev24, 64 * 1024);
      if (a === null || b === null) throw new Error('alloc');
      expect(a.dmaHandle + 64 * 1024).toBeLessThanOrEqual(4 * GIB);
      expect(b.dmaHandle + 64 * 1024).toBeLessThanOrEqual(16 * MIB);
    }
    const high = dmaAllocCoherent(dev64, 64 * 1024);
    if (high === null) throw new Error('alloc');
    expect(high.dmaHandle).toBeGreaterThanOrEqual(4 * GIB);
  });

  it('refuses masks below ZONE_DMA', () => {
    const m = createMachine({ memory: 8 * GIB });
    const dev = m.createDevice({ name: 'isa' });
    expect(dmaSupported(dev, dmaBitMask(24))).toBe(true);
    expect(dmaSetMask(dev, dmaBitMask(20))).toBe(-EIO);
    expect(dev.dmaMask).toBe(dmaBitMask(32));
  });

  it('fails a streaming mapping the device cannot reach when there is no swiotlb', () => {
    const m = createMachine({ memory: 8 * GIB, swiotlb: false });
    const dev = m.createDevice({ name: 'dev32', dmaBits: 32 });
    // Take pages until one lies above 4 GiB (ZONE_NORMAL is tried first).
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    expect(pfn * 4096).toBeGreaterThanOrEqual(4 * GIB);
    const kva = m.mm.pageAddress(pfn);
    const addr = dmaMapSingleAttrs(dev, kva, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(-12);
    const low = m.createDevice({ name: 'dev64', dmaBits: 64 });
    expect(dmaSetMask(low, dmaBitMask(64))).toBe(0);
    const ok = dmaMapSingleAttrs(low, kva, 4096, DMA_FROM_DEVICE);
    expect(dmaMappingError(low, ok)).toBe(0);
    dmaUnmapSingleAttrs(low, ok, 4096, DMA_FROM_DEVICE);
  });
});

describe('x86: the dma_map_ops it selects', () => {
  it('names in arch facts every ops, IOMMU and platform a device can get', () => {
    expect(arch.iommus).toEqual(['intel-iommu', 'amd-iommu', 'gart', 'calgary']);
    expect(arch.platforms).toEqual(['pc', 'xen-pv']);
    const seen = new Set<string>();
    const GIB8 = 8 * GIB;
    const machines = [
      createMachine(),
      createMachine({ iommu: 'intel-iommu' }),
      createMachine({ iommu: 'intel-iommu', iommuPassthrough: true }),
      createMachine({ iommu: 'gart', memory: GIB8 }),
      createMachine({ iommu: 'calgary' }),
      createMachine({ platform: 'xen-pv' }),
    ];
    for (const m of machines) seen.add(getDmaOps(m.createDevice({ name: 'dev' })).name);
    expect([...seen].sort()).toEqual([...arch.ops].sort());
    expect(machines.map((m) => m.iommu?.name ?? null)).toEqual([null, 'intel-iommu', 'intel-iommu', 'gart', 'calgary', null]);
  });

  it.each([
    ['gart_dma_ops', { iommu: 'gart', memory: 8 * GIB }],
    ['calgary_dma_ops', { iommu: 'calgary' }],
    ['xen_swiotlb_dma_ops', { platform: 'xen-pv' }],
  ] as const)('gives %s dma_alloc_pages through dma_common_alloc_pages', (name, options) => {
    const m = createMachine({ dmaDebug: true, ...options });
    const dev = m.createDevice({ name: 'cam' });
    expect(getDmaOps(dev).name).toBe(name);
    const size = 5 * 4096;
    const pages = dmaAllocPages(dev, size, DMA_FROM_DEVICE);
    if (pages === null) throw new Error('dmaAllocPages');
    const frame = pattern(size, 9);
    // The pages start out the CPU's: hand them to the device first.
    dmaSyncSingleForDevice(dev, pages.dmaHandle, size, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(pages.dmaHandle, frame);
    dmaSyncSingleForCpu(dev, pages.dmaHandle, size, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pages.pfn), size), frame)).toBe(-1);
    const free = m.mm.stats().freePages;
    dmaFreePages(dev, size, pages.pfn, pages.dmaHandle, DMA_FROM_DEVICE);
    expect(m.mm.stats().freePages).toBe(free + 8);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

