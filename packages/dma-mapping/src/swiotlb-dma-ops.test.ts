import { describe, expect, it } from '@jest/globals';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import { sgAllocTableFromPages, type SgTable } from '@kdma/scatterlist';
import {
  DMA_MAPPING_ERROR,
  ENOMEM,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaSetMask,
  dmaSupported,
  dmaSyncSingleForCpu,
  dmaUnmapSg,
  dmaUnmapSingle,
  type Machine,
} from './index.js';
import { buildMachine, getDmaOps, IO_TLB_OVERFLOW, setDmaOps, swiotlbDmaOps, type MachineOptions } from './ops.js';
import { nonCoherentDescription, testDescription } from './test-machine.js';

const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

function machine(options: MachineOptions = {}): Machine {
  return buildMachine(testDescription, {
    memoryRegions: [
      { base: 0, size: 128 * MiB },
      { base: 4 * GiB, size: 128 * MiB },
    ],
    swiotlb: { size: 256 * KiB, areas: 1 },
    ...options,
  });
}

function pattern(length: number, start = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 251;
  return bytes;
}

function highKva(m: Machine, order = 0): number {
  return m.mm.pageAddress(m.mm.allocPages(order) as number);
}

describe('swiotlb_dma_ops (lib/swiotlb.c, v3.4)', () => {
  it('maps directly what the device reaches and bounces the rest', () => {
    const m = machine();
    const dev = m.createDevice({ name: 'eth0', dmaBits: 32 });
    setDmaOps(dev, swiotlbDmaOps);
    expect(getDmaOps(dev).name).toBe('swiotlb_dma_ops');
    const low = m.mm.pageAddress(m.mm.allocPages(0, 0x04 /* GFP_DMA32 */) as number);
    expect(dmaMapSingle(dev, low, 256, DMA_TO_DEVICE)).toBe(m.mm.virtToPhys(low));

    const high = highKva(m);
    m.cpu.write(high, pattern(700));
    const addr = dmaMapSingle(dev, high, 700, DMA_BIDIRECTIONAL);
    expect(addr).toBeLessThan(4 * GiB);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(dev.hw.dmaRead(addr, 700)).toEqual(pattern(700));
    dev.hw.dmaWrite(addr, pattern(700, 33));
    dmaSyncSingleForCpu(dev, addr, 700, DMA_BIDIRECTIONAL);
    expect(m.cpu.read(high, 700)).toEqual(pattern(700, 33));
    dmaUnmapSingle(dev, addr, 700, DMA_BIDIRECTIONAL);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
    expect(dmaMaxMappingSize(dev)).toBe(262144);
  });

  it('hands out the overflow buffer when the pool is full, which dma_mapping_error recognises', () => {
    const m = machine();
    const dev = m.createDevice({ name: 'sata0', dmaBits: 32 });
    setDmaOps(dev, swiotlbDmaOps);
    const big = highKva(m, 6);
    const all = dmaMapSingle(dev, big, 256 * KiB, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, all)).toBe(0);

    const small = highKva(m);
    const addr = dmaMapSingle(dev, small, 4 * KiB, DMA_FROM_DEVICE);
    expect(addr).not.toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('DMA: Out of SW-IOMMU space for 4096 bytes at device sata0');

    // Bigger than the overflow buffer: the 2012 kernel panicked rather than let the device loose.
    expect(() => dmaMapSingle(dev, small, IO_TLB_OVERFLOW + 1, DMA_FROM_DEVICE)).toThrow(
      'Kernel panic - not syncing: DMA: Random memory could be DMA written',
    );

    // map_sg fails softly: 0, nothing left mapped.
    const pfns = [m.mm.allocPages(0) as number, m.mm.allocPages(0) as number];
    const sgt = sgAllocTableFromPages(pfns, 0, 8192, 4096, 4096) as SgTable;
    expect(dmaMapSg(dev, sgt.sgl, sgt.nents, DMA_TO_DEVICE)).toBe(0);
    expect(sgt.sgl[0]?.dmaLength).toBe(0);
    dmaUnmapSingle(dev, all, 256 * KiB, DMA_TO_DEVICE);
    expect(dmaMapSg(dev, sgt.sgl, sgt.nents, DMA_TO_DEVICE)).toBe(2);
    expect(m.swiotlb?.stats().usedSlots).toBe(4);
    dmaUnmapSg(dev, sgt.sgl, sgt.nents, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('allocates coherent memory below the coherent mask, else from the pool', () => {
    const m = machine();
    const dev = m.createDevice({ name: 'hda', dmaBits: 32 });
    setDmaOps(dev, swiotlbDmaOps);
    const buf = dmaAllocCoherent(dev, 8192)!;
    expect(buf.dmaHandle + 8191).toBeLessThan(4 * GiB);
    expect(m.swiotlb?.isBuffer(dev, buf.dmaHandle)).toBe(false);
    expect(m.cpu.read(buf.cpuAddr, 8192).every((b) => b === 0)).toBe(true);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);

    // A 24-bit device on a machine whose ZONE_DMA is exhausted falls back to the pool... which
    // lies above 16 MiB, so the result is refused as the 2012 code refused it.
    const isa = m.createDevice({ name: 'isa', dmaBits: 24 });
    setDmaOps(isa, swiotlbDmaOps);
    while (m.mm.allocPages(0, 0x01 /* GFP_DMA */) !== null);
    expect(dmaAllocCoherent(isa, 4096)).toBeNull();
    expect(m.hw.dmesg.entries().at(-1)?.message).toMatch(/^hwdev DMA mask = 0x0000000000ffffff, dev_addr = 0x[0-9a-f]{16}$/);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('takes coherent memory from the pool when the page allocator has none low enough', () => {
    const m = machine({ memoryRegions: [{ base: 0, size: 32 * MiB }, { base: 4 * GiB, size: 128 * MiB }] });
    const dev = m.createDevice({ name: 'hda', dmaBits: 32 });
    setDmaOps(dev, swiotlbDmaOps);
    while (m.mm.allocPages(0, 0x04 /* GFP_DMA32 */) !== null);
    const buf = dmaAllocCoherent(dev, 8192)!;
    expect(m.swiotlb?.isBuffer(dev, buf.dmaHandle)).toBe(true);
    expect(m.swiotlb?.stats().usedSlots).toBe(4);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('supports masks that reach the end of the pool', () => {
    const m = machine();
    const dev = m.createDevice({ name: 'x', dmaBits: 32 });
    setDmaOps(dev, swiotlbDmaOps);
    expect(dmaSupported(dev, 2 ** 32 - 1)).toBe(true);
    expect(dmaSupported(dev, 2 ** 24 - 1)).toBe(false);
    expect(dmaSetMask(dev, 2 ** 24 - 1)).toBeLessThan(0);
  });

  it('bounces everything with swiotlb=force', () => {
    const m = machine({ swiotlb: { size: 256 * KiB, areas: 1, force: true } });
    const dev = m.createDevice({ name: 'mmc', dmaBits: 64 });
    setDmaOps(dev, swiotlbDmaOps);
    const buf = m.mm.kmalloc(512) as number;
    const addr = dmaMapSingle(dev, buf, 512, DMA_FROM_DEVICE);
    expect(m.swiotlb?.isBuffer(dev, addr)).toBe(true);
    dev.hw.dmaWrite(addr, pattern(512, 80));
    dmaUnmapSingle(dev, addr, 512, DMA_FROM_DEVICE);
    expect(m.cpu.read(buf, 512)).toEqual(pattern(512, 80));
  });

  it("syncs the caches around the bounce for a non-coherent device, as arm64's wrappers did", () => {
    const m = buildMachine(nonCoherentDescription, { memory: 64 * MiB, swiotlb: { size: 256 * KiB, areas: 1, force: true } });
    const dev = m.createDevice({ name: 'mmc' });
    setDmaOps(dev, swiotlbDmaOps);
    const buf = m.mm.kmalloc(512) as number;
    m.cpu.write(buf, pattern(512, 2)); // in dirty cache lines
    const tx = dmaMapSingle(dev, buf, 512, DMA_TO_DEVICE);
    expect(dev.hw.dmaRead(tx, 512)).toEqual(pattern(512, 2));
    dmaUnmapSingle(dev, tx, 512, DMA_TO_DEVICE);
    const rx = dmaMapSingle(dev, buf, 512, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(rx, pattern(512, 80));
    dmaUnmapSingle(dev, rx, 512, DMA_FROM_DEVICE);
    expect(m.cpu.read(buf, 512)).toEqual(pattern(512, 80));
  });
});
