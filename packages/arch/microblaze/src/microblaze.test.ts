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
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaGetCacheAlignment,
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { CpuFault } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, KERNEL_BASE_ADDR } from './index.js';

function kmallocWith(m: Machine, size: number, bytes: Uint8Array): { kva: number; paddr: number } {
  const kva = m.mm.kmalloc(size);
  if (kva === null) throw new Error('kmalloc');
  m.cpu.write(kva, bytes);
  return { kva, paddr: m.mm.virtToPhys(kva) };
}

function lineState(m: Machine, paddr: number): string {
  if (m.hw.cache === null) throw new Error('no cache model');
  return m.hw.cache.lineState(paddr);
}

function counters(m: Machine): [number, number, number] {
  const c = m.hw.counters;
  return [c.cacheCleans, c.cacheInvalidates, c.cacheFlushes];
}

function delta(m: Machine, before: [number, number, number]): number[] {
  return counters(m).map((n, i) => n - (before[i] as number));
}

describe('microblaze: __dma_sync on physical addresses', () => {
  it.each([
    ['DMA_TO_DEVICE', DMA_TO_DEVICE, [0, 0, 1]],
    ['DMA_FROM_DEVICE', DMA_FROM_DEVICE, [0, 1, 0]],
    ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL, [0, 0, 1]],
  ] as const)('maps %s with flush_dcache_range or invalidate_dcache_range, and does it again on unmap', (_name, dir, ops) => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'xemaclite' });
    const data = pattern(256, 1);
    const { kva, paddr } = kmallocWith(m, 256, data);
    const inRam = dev.hw.dmaRead(paddr, 256);
    let before = counters(m);
    const addr = dmaMapSingle(dev, kva, 256, dir as DmaDataDirection);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(delta(m, before)).toEqual(ops);
    expect(lineState(m, paddr)).toBe('invalid');
    expect(firstDifference(dev.hw.dmaRead(addr, 256), dir === DMA_FROM_DEVICE ? inRam : data)).toBe(-1);
    before = counters(m);
    dmaUnmapSingle(dev, addr, 256, dir as DmaDataDirection);
    expect(delta(m, before)).toEqual(ops);
  });

  it('drops lines the CPU loaded while the device owned the buffer when it takes the buffer back', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'xemaclite' });
    const { kva } = kmallocWith(m, 256, pattern(256, 2));
    const addr = dmaMapSingle(dev, kva, 256, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    m.cpu.read(kva, 256); // too early: the device owns it
    const fresh = pattern(256, 3);
    dev.hw.dmaWrite(addr, fresh);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).not.toBe(-1);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
  });

  it('flushes a BIDIRECTIONAL buffer on sync for the device (the 3.4 code only did for TO_DEVICE)', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'xemaclite' });
    const { kva } = kmallocWith(m, 256, pattern(256, 4));
    const addr = dmaMapSingle(dev, kva, 256, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, addr)).toBe(0);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_BIDIRECTIONAL);
    const update = pattern(256, 5);
    m.cpu.write(kva, update);
    dmaSyncSingleForDevice(dev, addr, 256, DMA_BIDIRECTIONAL);
    expect(firstDifference(dev.hw.dmaRead(addr, 256), update)).toBe(-1);
    dmaUnmapSingle(dev, addr, 256, DMA_BIDIRECTIONAL);
  });
});

describe('microblaze: consistent_alloc', () => {
  it('maps the pages _PAGE_NO_CACHE into the vmalloc area with the MMU', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'axidma' });
    const before = m.mm.stats();
    const buf = dmaAllocCoherent(dev, 5000);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    expect(m.mm.isVmallocAddress(buf.cpuAddr)).toBe(true);
    expect(m.mm.stats().vmallocUsed).toBe(before.vmallocUsed + 8192);
    expect(lineState(m, buf.dmaHandle)).toBe('invalid');
    const data = pattern(5000, 6);
    m.cpu.write(buf.cpuAddr, data);
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 5000), data)).toBe(-1);
    const process = m.createProcess();
    const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 5000));
    expect(process.pgprotAt(uva)).toBe('uncached');
    process.munmap(uva, 8192);
    dmaFreeCoherent(dev, 5000, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats()).toEqual(before);
  });

  it('hands out the uncached shadow without the MMU, costing no vmalloc space', () => {
    const m = createMachine({ platform: 'nommu' });
    const dev = m.createDevice({ name: 'axidma' });
    const before = m.mm.stats();
    const buf = dmaAllocCoherent(dev, 8192);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    expect(m.mm.isVmallocAddress(buf.cpuAddr)).toBe(false);
    expect(m.mm.stats().vmallocUsed).toBe(before.vmallocUsed);
    expect(m.mm.stats().consistentUsed).toBe(8192);
    const fresh = pattern(8192, 7);
    dev.hw.dmaWrite(buf.dmaHandle, fresh);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 8192), fresh)).toBe(-1);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats()).toEqual(before);
  });

  it('ignores NON_CONSISTENT and WRITE_COMBINE and honours NO_KERNEL_MAPPING', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'axidma' });
    for (const attrs of [DMA_ATTR_NON_CONSISTENT, DMA_ATTR_WRITE_COMBINE]) {
      const buf = dmaAllocAttrs(dev, 4096, attrs);
      if (buf === null) throw new Error('alloc');
      expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
      const process = m.createProcess();
      const uva = process.mmap(4096, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 4096, attrs));
      expect(process.pgprotAt(uva)).toBe('uncached');
      dmaFreeAttrs(dev, 4096, buf.cpuAddr, buf.dmaHandle, attrs);
    }
    const hidden = dmaAllocAttrs(dev, 4096, DMA_ATTR_NO_KERNEL_MAPPING);
    if (hidden === null) throw new Error('alloc');
    expect(() => m.cpu.read(hidden.cpuAddr, 1)).toThrow(CpuFault);
    dmaFreeAttrs(dev, 4096, hidden.cpuAddr, hidden.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
  });
});

describe('microblaze: the machine', () => {
  it('has 32-byte lines, ARCH_DMA_MINALIGN 32, DDR at CONFIG_KERNEL_BASE_ADDR and dma-direct for every device', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'dev0' });
    expect(m.hw.cacheLineSize).toBe(32);
    expect(m.mm.kmallocMinAlign).toBe(32);
    expect(dmaGetCacheAlignment(dev)).toBe(32);
    expect(m.hw.ram.regions[0]?.base).toBe(KERNEL_BASE_ADDR);
    expect(getDmaOps(dev).name).toBe('dma-direct');
    expect(() => m.createDevice({ name: 'x', coherent: true })).toThrow(RangeError);
  });

  it('runs with every page size MicroBlaze offers and refuses 64 KiB', () => {
    for (const pageSize of [4096, 8192, 16384, 32768]) {
      const m = createMachine({ pageSize });
      const buf = dmaAllocCoherent(m.createDevice({ name: 'dev0' }), 100);
      if (buf === null) throw new Error('alloc');
      expect(buf.dmaHandle % pageSize).toBe(0);
    }
    expect(() => createMachine({ pageSize: 65536 })).toThrow(RangeError);
  });
});
