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
  dmaAllocNoncoherent,
  dmaCacheSync,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaGetCacheAlignment,
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSyncSingleForCpu,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { CpuFault } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, MEMORY_START } from './index.js';

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

describe('sh: nommu_dma_ops', () => {
  it('is every device’s ops, with bus address = physical address', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    expect(getDmaOps(dev).name).toBe('nommu_dma_ops');
    const { kva, paddr } = kmallocWith(m, 64, pattern(64, 1));
    const addr = dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE);
    expect(addr).toBe(paddr);
    expect(paddr).toBeGreaterThanOrEqual(MEMORY_START);
    dmaUnmapSingle(dev, addr, 64, DMA_TO_DEVICE);
  });

  it.each([
    ['DMA_TO_DEVICE', DMA_TO_DEVICE, [1, 0, 0], 'clean'],
    ['DMA_FROM_DEVICE', DMA_FROM_DEVICE, [0, 1, 0], 'invalid'],
    ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL, [0, 0, 1], 'invalid'],
  ] as const)('maps %s with __flush_wback/invalidate/purge_region', (_name, dir, ops, after) => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const data = pattern(256, 2);
    const { kva, paddr } = kmallocWith(m, 256, data);
    const inRam = dev.hw.dmaRead(paddr, 256);
    const before = counters(m);
    const addr = dmaMapSingle(dev, kva, 256, dir as DmaDataDirection);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(counters(m).map((n, i) => n - (before[i] as number))).toEqual(ops);
    expect(lineState(m, paddr)).toBe(after);
    // Written back for TO_DEVICE and BIDIRECTIONAL, thrown away for FROM_DEVICE.
    expect(firstDifference(dev.hw.dmaRead(addr, 256), dir === DMA_FROM_DEVICE ? inRam : data)).toBe(-1);
    dmaUnmapSingle(dev, addr, 256, dir as DmaDataDirection);
  });

  it('does nothing on unmap or sync for the CPU: the map-time invalidate is all a FROM_DEVICE buffer gets', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const { kva } = kmallocWith(m, 256, pattern(256, 3));
    const addr = dmaMapSingle(dev, kva, 256, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    const fresh = pattern(256, 4);
    dev.hw.dmaWrite(addr, fresh);
    const before = counters(m);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    expect(counters(m)).toEqual(before);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);
    // A CPU that touches the buffer while the device owns it keeps the stale lines: nothing on
    // sh's way back to the CPU would drop them.
    const again = pattern(256, 5);
    dev.hw.dmaWrite(addr, again);
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
    expect(counters(m)).toEqual(before);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);
  });
});

describe('sh: coherent memory in the P2 segment', () => {
  it('is uncached, costs no vmalloc space, and needs no maintenance', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const before = m.mm.stats();
    const buf = dmaAllocCoherent(dev, 8192);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    expect(m.mm.kvaToPhys(buf.cpuAddr)).toBe(buf.dmaHandle);
    expect(m.mm.stats().vmallocUsed).toBe(before.vmallocUsed);
    expect(m.mm.stats().consistentUsed).toBe(8192);
    // dma_generic_alloc_coherent purged the cached alias: nothing dirty will land on the buffer.
    expect(lineState(m, buf.dmaHandle)).toBe('invalid');
    const data = pattern(8192, 6);
    m.cpu.write(buf.cpuAddr, data);
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 8192), data)).toBe(-1);
    const process = m.createProcess();
    const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192));
    expect(process.pgprotAt(uva)).toBe('uncached');
    process.munmap(uva, 8192);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats()).toEqual(before);
  });

  it('ignores NON_CONSISTENT and WRITE_COMBINE (uncached like dma_alloc_coherent) but honours NO_KERNEL_MAPPING', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const nc = dmaAllocNoncoherent(dev, 4096);
    const wc = dmaAllocAttrs(dev, 4096, DMA_ATTR_WRITE_COMBINE);
    const hidden = dmaAllocAttrs(dev, 4096, DMA_ATTR_NO_KERNEL_MAPPING);
    if (nc === null || wc === null || hidden === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(nc.cpuAddr)).toBe('uncached');
    expect(m.mm.memoryTypeAt(wc.cpuAddr)).toBe('uncached');
    expect(() => m.cpu.read(hidden.cpuAddr, 1)).toThrow(CpuFault);
    // The NON_CONSISTENT buffer is consistent already; the driver's dma_cache_sync stays harmless.
    const data = pattern(4096, 7);
    m.cpu.write(nc.cpuAddr, data);
    dmaCacheSync(dev, nc.cpuAddr, 4096, DMA_TO_DEVICE);
    expect(firstDifference(dev.hw.dmaRead(nc.dmaHandle, 4096), data)).toBe(-1);
    dmaFreeAttrs(dev, 4096, nc.cpuAddr, nc.dmaHandle, DMA_ATTR_NON_CONSISTENT);
    dmaFreeAttrs(dev, 4096, wc.cpuAddr, wc.dmaHandle, DMA_ATTR_WRITE_COMBINE);
    dmaFreeAttrs(dev, 4096, hidden.cpuAddr, hidden.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
  });
});

describe('sh: dma_cache_sync', () => {
  it('cleans, invalidates or purges a cached buffer by direction', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const data = pattern(128, 8);
    const { kva, paddr } = kmallocWith(m, 128, data);
    dmaCacheSync(dev, kva, 128, DMA_TO_DEVICE);
    expect(lineState(m, paddr)).toBe('clean');
    expect(firstDifference(dev.hw.dmaRead(paddr, 128), data)).toBe(-1);
    const fresh = pattern(128, 9);
    dev.hw.dmaWrite(paddr, fresh);
    expect(firstDifference(m.cpu.read(kva, 128), fresh)).not.toBe(-1);
    dmaCacheSync(dev, kva, 128, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 128), fresh)).toBe(-1);
    m.cpu.write(kva, data);
    dmaCacheSync(dev, kva, 128, DMA_BIDIRECTIONAL);
    expect(lineState(m, paddr)).toBe('invalid');
    expect(firstDifference(dev.hw.dmaRead(paddr, 128), data)).toBe(-1);
  });

  it('turns a P2 address into its cached P1 twin (CAC_ADDR) and maintains those lines', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const buf = dmaAllocCoherent(dev, 4096);
    if (buf === null) throw new Error('alloc');
    // Someone wrote through the cached alias of the same page.
    const p1 = m.mm.physToVirt(buf.dmaHandle);
    const data = pattern(64, 10);
    m.cpu.write(p1, data);
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 64), data)).not.toBe(-1);
    dmaCacheSync(dev, buf.cpuAddr, 64, DMA_TO_DEVICE);
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 64), data)).toBe(-1);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 64), data)).toBe(-1);
  });

  it('changes nothing when part of the range is not mapped', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'sh-eth' });
    const buf = dmaAllocCoherent(dev, 4096);
    if (buf === null) throw new Error('alloc');
    const before = counters(m);
    expect(() => dmaCacheSync(dev, buf.cpuAddr, 2 * 4096, DMA_TO_DEVICE)).toThrow(CpuFault);
    expect(counters(m)).toEqual(before);
  });
});

describe('sh: CPU families', () => {
  it('has 32-byte lines on SH-4 and 16-byte lines on SH-3, with ARCH_DMA_MINALIGN = L1_CACHE_BYTES', () => {
    for (const [platform, line] of [
      ['sh4', 32],
      ['sh3', 16],
    ] as const) {
      const m = createMachine({ platform });
      expect(m.arch.cacheLineSize).toBe(line);
      expect(m.hw.cacheLineSize).toBe(line);
      expect(m.mm.kmallocMinAlign).toBe(line);
      expect(dmaGetCacheAlignment(m.createDevice({ name: 'dev0' }))).toBe(line);
    }
  });

  it('never has coherent devices', () => {
    expect(() => createMachine().createDevice({ name: 'x', coherent: true })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'sh5' })).toThrow(/options.platform/);
  });
});
