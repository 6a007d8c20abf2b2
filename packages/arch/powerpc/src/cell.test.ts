import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_WEAK_ORDERING,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaGetRequiredMask,
  dmaMapSgtable,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapSingleAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { sgAllocTableFromPages } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import { CBE_IOPTE_M, CBE_IOPTE_PP_R, CBE_IOPTE_PP_W, CBE_IOPTE_SO_RW, CELL_DYNAMIC_WINDOW_SIZE, createMachine, getDmaOffset, powerpcState, type CellIommu } from './index.js';
import { GIB, must } from './test-machines.js';

const FIXED_BASE = 2 * GIB;

function cellOf(m: ReturnType<typeof createMachine>): CellIommu {
  const cell = powerpcState(m).cell;
  if (cell === null) throw new Error('no Cell IOMMU');
  return cell;
}

function buffer(m: ReturnType<typeof createMachine>, size: number, seed: number): number {
  const kva = must(m.mm.kmalloc(size), 'kmalloc');
  m.cpu.write(kva, pattern(size, seed));
  return kva;
}

describe('cell: the dynamic window and DMA_ATTR_WEAK_ORDERING', () => {
  it('maps 32-bit devices through dma_iommu_ops, strongly ordered unless the mapping asks for weak ordering', () => {
    const m = createMachine({ platform: 'cell', dmaDebug: true });
    const cell = cellOf(m);
    const dev = m.createDevice({ name: 'spidernet' });
    expect(getDmaOps(dev).name).toBe('dma_iommu_ops');
    const kva = buffer(m, 4096, 1);
    const strong = dmaMapSingleAttrs(dev, kva, 4096, DMA_BIDIRECTIONAL);
    const weak = dmaMapSingleAttrs(dev, kva + 0, 4096, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
    expect(dmaMappingError(dev, strong)).toBe(0);
    expect(dmaMappingError(dev, weak)).toBe(0);
    expect(strong).toBeLessThan(CELL_DYNAMIC_WINDOW_SIZE);
    expect(cell.iopteAt(strong)).toMatchObject({ ordering: 'strong', read: true, write: true, window: 'dynamic' });
    expect(cell.iopteAt(strong)?.flags).toBe(CBE_IOPTE_PP_W | CBE_IOPTE_PP_R | CBE_IOPTE_M | CBE_IOPTE_SO_RW);
    expect(cell.iopteAt(weak)).toMatchObject({ ordering: 'weak', read: true, write: false });
    expect(cell.iopteAt(weak)?.flags).toBe(CBE_IOPTE_PP_R | CBE_IOPTE_M);
    expect(firstDifference(dev.hw.dmaRead(weak, 4096), pattern(4096, 1))).toBe(-1);
    dmaUnmapSingleAttrs(dev, weak, 4096, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
    dmaUnmapSingleAttrs(dev, strong, 4096, DMA_BIDIRECTIONAL);
    expect(cell.iopteAt(strong)).toBeNull();
    expect(m.dmaDebug?.errors()).toEqual([]);
    expect(m.arch.honouredAttrs).toBe(DMA_ATTR_WEAK_ORDERING);
  });

  it('protects each IOPTE by direction (CELL_IOMMU_STRICT_PROTECTION) and faults on stray addresses', () => {
    const m = createMachine({ platform: 'cell' });
    const dev = m.createDevice({ name: 'axon-pcie' });
    const kva = buffer(m, 8192, 2);
    const tx = dmaMapSingleAttrs(dev, kva, 4096, DMA_TO_DEVICE);
    const rx = dmaMapSingleAttrs(dev, kva + 4096, 4096, DMA_FROM_DEVICE);
    expect(() => dev.hw.dmaWrite(tx, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(() => dev.hw.dmaRead(rx, 4)).toThrow(expect.objectContaining({ kind: 'permission' }));
    dev.hw.dmaWrite(rx, new Uint8Array([1, 2, 3, 4]));
    expect(() => dev.hw.dmaRead(rx + 64 * 4096, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
    // Bus address 0 is the spider workaround's pad page: readable, never writable.
    expect(dev.hw.dmaRead(0, 4)).toEqual(new Uint8Array(4));
    expect(() => dev.hw.dmaWrite(0, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(m.iommu?.stats().faults).toBe(4);
    expect(m.hw.dmesg.entries().filter((entry) => entry.message.startsWith('iommu: DMA exception'))).toHaveLength(4);
    dmaUnmapSingleAttrs(dev, tx, 4096, DMA_TO_DEVICE);
    dmaUnmapSingleAttrs(dev, rx, 4096, DMA_FROM_DEVICE);
  });

  it('refuses a segment longer than the device’s segment boundary, like every iommu_table (the kit’s dma-debug scene)', () => {
    const m = createMachine({ platform: 'cell', dmaDebug: true });
    const dev = m.createDevice({ name: 'page-boundary', segmentBoundaryMask: 4095, maxSegmentSize: 4 * 4096 });
    const pfn = must(m.mm.allocPages(1), 'allocPages');
    const sgt = sgAllocTableFromPages([pfn, pfn + 1], 64, 4096, undefined, 4096);
    if (typeof sgt === 'number') throw new Error('sg table');
    expect(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toBe(-EIO);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('cell: the fixed window', () => {
  it('switches a device that sets a 64-bit mask to dma_iommu_fixed_ops at phys + the fixed base', () => {
    const m = createMachine({ platform: 'cell', dmaDebug: true });
    const cell = cellOf(m);
    expect(cell.fixed).toMatchObject({ base: FIXED_BASE, size: 4 * GIB, weak: false });
    const dev = m.createDevice({ name: 'mlx4', dmaBits: 64 });
    expect(getDmaOps(dev).name).toBe('dma_iommu_ops');
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    expect(getDmaOps(dev).name).toBe('dma_iommu_fixed_ops');
    expect(getDmaOffset(dev)).toBe(FIXED_BASE);
    expect(dmaGetRequiredMask(dev)).toBe(dmaBitMask(64));
    const kva = buffer(m, 4096, 3);
    const addr = dmaMapSingleAttrs(dev, kva, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(m.mm.virtToPhys(kva) + FIXED_BASE);
    expect(cell.iopteAt(addr)).toMatchObject({ window: 'fixed', ordering: 'strong', read: true, write: true });
    expect(firstDifference(dev.hw.dmaRead(addr, 4096), pattern(4096, 3))).toBe(-1);
    // Weak ordering asked where the fixed window is strong: the dynamic window, with a weak IOPTE.
    const weak = dmaMapSingleAttrs(dev, kva, 4096, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
    expect(dmaMappingError(dev, weak)).toBe(0);
    expect(weak).toBeLessThan(CELL_DYNAMIC_WINDOW_SIZE);
    expect(cell.iopteAt(weak)).toMatchObject({ window: 'dynamic', ordering: 'weak' });
    dmaUnmapSingleAttrs(dev, weak, 4096, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
    dmaUnmapSingleAttrs(dev, addr, 4096, DMA_TO_DEVICE);
    // "A coherent allocation implies strong ordering": the fixed window.
    const buf = must(dmaAllocCoherent(dev, 8192), 'dmaAllocCoherent');
    expect(buf.dmaHandle).toBe(m.mm.virtToPhys(buf.cpuAddr) + FIXED_BASE);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    // dma_fixed_dma_supported accepts only DMA_BIT_MASK(64): no way back to 32 bits.
    expect(dmaSetMask(dev, dmaBitMask(32))).toBe(-EIO);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('with iommu_fixed=weak, maps weakly ordered buffers through the fixed window and the rest dynamically', () => {
    const m = createMachine({ platform: 'cell', iommuFixed: 'weak' });
    const cell = cellOf(m);
    const dev = m.createDevice({ name: 'mlx4', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const kva = buffer(m, 4096, 4);
    const weak = dmaMapSingleAttrs(dev, kva, 4096, DMA_FROM_DEVICE, DMA_ATTR_WEAK_ORDERING);
    expect(weak).toBe(m.mm.virtToPhys(kva) + FIXED_BASE);
    expect(cell.iopteAt(weak)).toMatchObject({ window: 'fixed', ordering: 'weak' });
    const strong = dmaMapSingleAttrs(dev, kva, 4096, DMA_TO_DEVICE);
    expect(cell.iopteAt(strong)).toMatchObject({ window: 'dynamic', ordering: 'strong' });
    dmaUnmapSingleAttrs(dev, strong, 4096, DMA_TO_DEVICE);
    dmaUnmapSingleAttrs(dev, weak, 4096, DMA_FROM_DEVICE, DMA_ATTR_WEAK_ORDERING);
    const buf = must(dmaAllocCoherent(dev, 4096), 'dmaAllocCoherent');
    expect(cell.iopteAt(buf.dmaHandle)).toMatchObject({ window: 'dynamic', ordering: 'strong' });
    dmaFreeCoherent(dev, 4096, buf.cpuAddr, buf.dmaHandle);
  });

  it('has no fixed window with iommu_fixed=off: a 64-bit device stays on dma_iommu_ops', () => {
    const m = createMachine({ platform: 'cell', iommuFixed: 'off' });
    const dev = m.createDevice({ name: 'mlx4', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    expect(getDmaOps(dev).name).toBe('dma_iommu_ops');
    expect(() => dev.hw.dmaRead(FIXED_BASE, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
  });
});

describe('cell: IOMMU on or off', () => {
  it('uses dma_direct_ops when RAM fits the 2 GiB window, unless the IOMMU is forced on', () => {
    const small = createMachine({ platform: 'cell', memory: GIB });
    expect(small.iommu).toBeNull();
    expect(getDmaOps(small.createDevice({ name: 'd' })).name).toBe('dma_direct_ops');
    expect(small.hw.dmesg.entries().some((entry) => entry.message === 'iommu: disabled, direct DMA offset is 0x0')).toBe(true);
    const forced = createMachine({ platform: 'cell', memory: GIB, iommu: 'cell-iommu' });
    expect(getDmaOps(forced.createDevice({ name: 'd' })).name).toBe('dma_iommu_ops');
  });

  it('force-enables the IOMMU when iommu=off but RAM exceeds the DMA window', () => {
    const m = createMachine({ platform: 'cell', iommu: false });
    expect(m.iommu?.name).toBe('cell-iommu');
    expect(m.hw.dmesg.entries().some((entry) => entry.message.startsWith('iommu: force-enabled, dma window (2048MB) smaller than total memory (4096MB)'))).toBe(true);
  });
});
