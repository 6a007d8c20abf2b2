import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaBitMask,
  dmaMapPage,
  dmaMapSingle,
  dmaMappingError,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPage,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { PAGE_KERNEL, pgprotWritecombine } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import {
  CVMX_PCIE_BAR1_PHYS_BASE,
  CVMX_PCIE_BAR1_RC_BASE,
  OCTEON_DRAM_HOLE_BUS,
  OCTEON_DRAM_HOLE_PHYS,
  createMachine,
  octeonGen1DmaToPhys,
  octeonGen1PhysToDma,
  octeonMemoryLayout,
} from './index.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** A kmalloc buffer: ZONE_NORMAL first, which on Octeon is the DRAM at 0x410000000. */
function highBuffer(m: Machine, bytes: Uint8Array): { kva: number; paddr: number } {
  const kva = m.mm.kmalloc(bytes.length);
  if (kva === null) throw new Error('kmalloc');
  m.cpu.write(kva, bytes);
  return { kva, paddr: m.mm.virtToPhys(kva) };
}

describe('octeon: the board', () => {
  it('lays DRAM out around the I/O hole and keeps every device coherent', () => {
    expect(octeonMemoryLayout(GIB)).toEqual([
      { base: 0, size: 256 * MIB },
      { base: OCTEON_DRAM_HOLE_PHYS, size: 256 * MIB },
      { base: 0x2000_0000, size: 512 * MIB },
    ]);
    const m = createMachine({ platform: 'octeon', memory: GIB });
    expect(m.hw.cache).toBeNull();
    expect(m.arch.cacheLineSize).toBe(128);
    expect(m.mm.kmallocMinAlign).toBe(8);
    const dev = m.createDevice({ name: 'octeon-ethernet' });
    expect(dev.dmaCoherent).toBe(true);
    expect(getDmaOps(dev).name).toBe('octeon_linear_dma_map_ops');
    expect(m.swiotlb?.stats().totalSlots).toBe((64 * MIB) / 2048);
    const buf = dmaAllocCoherent(dev, 8192);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('normal');
    expect(buf.dmaHandle + 8191).toBeLessThan(4 * GIB);
  });

  it('translates PCIe bus addresses as gen1 hosts do', () => {
    expect(octeonGen1PhysToDma(OCTEON_DRAM_HOLE_PHYS + 0x1234)).toBe(OCTEON_DRAM_HOLE_BUS + 0x1234);
    expect(octeonGen1PhysToDma(0x2000_0000)).toBe(0x2000_0000);
    expect(octeonGen1PhysToDma(CVMX_PCIE_BAR1_PHYS_BASE + 64)).toBe(CVMX_PCIE_BAR1_RC_BASE + 64);
    for (const paddr of [0x1000, OCTEON_DRAM_HOLE_PHYS + 4096, 0x3000_0000, CVMX_PCIE_BAR1_PHYS_BASE + 8]) {
      expect(octeonGen1DmaToPhys(octeonGen1PhysToDma(paddr))).toBe(paddr);
    }
  });

  it('refuses pciDevices on anything but an Octeon', () => {
    expect(() => createMachine({ platform: 'malta', pciDevices: true })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'octeon', pciDevices: 1 as unknown as boolean })).toThrow(TypeError);
  });
});

describe('octeon: octeon_linear_dma_map_ops over swiotlb', () => {
  it.each([
    ['DMA_TO_DEVICE', DMA_TO_DEVICE],
    ['DMA_FROM_DEVICE', DMA_FROM_DEVICE],
    ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL],
  ] as const)('bounces a 32-bit device’s %s buffer at 0x410000000 into the pool, with no dma-debug report', (_name, dir) => {
    const m = createMachine({ platform: 'octeon', dmaDebug: true });
    const dev = m.createDevice({ name: 'octeon-usb' });
    const data = pattern(2048, 1);
    const { kva, paddr } = highBuffer(m, data);
    expect(paddr).toBeGreaterThanOrEqual(OCTEON_DRAM_HOLE_PHYS);
    const addr = dmaMapSingle(dev, kva, 2048, dir as DmaDataDirection);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBeLessThan(4 * GIB);
    if (dir !== DMA_FROM_DEVICE) expect(firstDifference(dev.hw.dmaRead(addr, 2048), data)).toBe(-1);
    const fresh = pattern(2048, 2);
    if (dir !== DMA_TO_DEVICE) dev.hw.dmaWrite(addr, fresh);
    dmaSyncSingleForCpu(dev, addr, 2048, dir as DmaDataDirection);
    if (dir !== DMA_TO_DEVICE) expect(firstDifference(m.cpu.read(kva, 2048), fresh)).toBe(-1);
    dmaSyncSingleForDevice(dev, addr, 2048, dir as DmaDataDirection);
    dmaUnmapSingle(dev, addr, 2048, dir as DmaDataDirection);
    const stats = m.swiotlb?.stats();
    expect((stats?.bouncedToDevice ?? 0) + (stats?.bouncedFromDevice ?? 0)).toBeGreaterThan(0);
    expect(stats?.usedSlots).toBe(0);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('maps in place for a 64-bit device', () => {
    const m = createMachine({ platform: 'octeon' });
    const dev = m.createDevice({ name: 'octeon-mgmt', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const { kva, paddr } = highBuffer(m, pattern(512, 3));
    const addr = dmaMapSingle(dev, kva, 512, DMA_TO_DEVICE);
    expect(addr).toBe(paddr);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0);
    dmaUnmapSingle(dev, addr, 512, DMA_TO_DEVICE);
  });

  it('orders the CPU’s buffered stores before the device looks: mb() after every map', () => {
    const m = createMachine({ platform: 'octeon' });
    const dev = m.createDevice({ name: 'octeon-ethernet', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const wcAlias = m.mm.vmap([pfn], pgprotWritecombine(PAGE_KERNEL));
    if (wcAlias === null) throw new Error('vmap');
    const data = pattern(64, 4);
    m.cpu.write(wcAlias, data);
    expect(firstDifference(dev.hw.dmaRead(pfn * m.pageSize, 64), data)).not.toBe(-1);
    const drains = m.hw.counters.wcDrains;
    const addr = dmaMapPage(dev, pfn, 0, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(pfn * m.pageSize);
    expect(m.hw.counters.wcDrains).toBeGreaterThan(drains);
    expect(firstDifference(dev.hw.dmaRead(addr, 64), data)).toBe(-1);
    dmaUnmapPage(dev, addr, 64, DMA_TO_DEVICE);
  });
});

describe('octeon: _octeon_pci_dma_map_ops', () => {
  it('reaches the DRAM at 0x410000000 in place through the gen1 window, where on-chip devices bounce', () => {
    const m = createMachine({ platform: 'octeon', pciDevices: true, dmaDebug: true });
    const dev = m.createDevice({ name: '0000:01:00.0' });
    expect(getDmaOps(dev).name).toBe('octeon_pci_dma_map_ops');
    const data = pattern(4096, 5);
    const { kva, paddr } = highBuffer(m, data);
    const addr = dmaMapSingle(dev, kva, 4096, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(octeonGen1PhysToDma(paddr));
    expect(addr).toBeLessThan(0x2000_0000);
    expect(firstDifference(dev.hw.dmaRead(addr, 4096), data)).toBe(-1);
    const fresh = pattern(4096, 6);
    dev.hw.dmaWrite(addr, fresh);
    dmaUnmapSingle(dev, addr, 4096, DMA_BIDIRECTIONAL);
    expect(firstDifference(m.cpu.read(kva, 4096), fresh)).toBe(-1);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('still bounces what a narrow device cannot reach, and hands out coherent memory at its bus address', () => {
    const m = createMachine({ platform: 'octeon', pciDevices: true, memory: GIB });
    const dev = m.createDevice({ name: '0000:01:00.0', dmaBits: 28 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(28))).toBe(0);
    const data = pattern(1024, 7);
    const { kva } = highBuffer(m, data);
    const addr = dmaMapSingle(dev, kva, 1024, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr + 1023).toBeLessThanOrEqual(dmaBitMask(28));
    expect(firstDifference(dev.hw.dmaRead(addr, 1024), data)).toBe(-1);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(1024);
    dmaUnmapSingle(dev, addr, 1024, DMA_TO_DEVICE);
    const wide = m.createDevice({ name: '0000:02:00.0' });
    const buf = dmaAllocCoherent(wide, 16384);
    if (buf === null) throw new Error('alloc');
    const fresh = pattern(16384, 8);
    wide.hw.dmaWrite(buf.dmaHandle, fresh);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 16384), fresh)).toBe(-1);
  });
});
