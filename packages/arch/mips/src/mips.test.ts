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
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaUnmapSingle,
  type Device,
} from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { CpuFault } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { cacAddr, cpuNeedsPostDmaFlush, createMachine, MIPS_PLATFORMS } from './index.js';

const MIB = 2 ** 20;

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

describe('mips: __dma_sync per direction, seen through the cache', () => {
  it('TO_DEVICE writes the CPU’s bytes back and, as r4k binds dma_cache_wback to wback_inv, drops the lines', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'eth0' });
    const data = pattern(512, 1);
    const { kva, paddr } = kmallocWith(m, 512, data);
    expect(lineState(m, paddr)).toBe('dirty');
    expect(firstDifference(dev.hw.dmaRead(paddr, 512), data)).not.toBe(-1);
    const flushes = m.hw.counters.cacheFlushes;
    const addr = dmaMapSingle(dev, kva, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(m.hw.counters.cacheFlushes).toBe(flushes + 1);
    expect(lineState(m, paddr)).toBe('invalid');
    expect(firstDifference(dev.hw.dmaRead(addr, 512), data)).toBe(-1);
    dmaUnmapSingle(dev, addr, 512, DMA_TO_DEVICE);
  });

  it('FROM_DEVICE only invalidates: CPU stores left in the cache are thrown away, not written back', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'eth0' });
    const { kva, paddr } = kmallocWith(m, 512, pattern(512, 2));
    const inRam = dev.hw.dmaRead(paddr, 512);
    const written = m.hw.counters.linesWrittenBack;
    const addr = dmaMapSingle(dev, kva, 512, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(m.hw.counters.linesWrittenBack).toBe(written);
    expect(lineState(m, paddr)).toBe('invalid');
    // The device writes nothing: the CPU gets memory's old bytes back, its own stores are gone.
    dmaUnmapSingle(dev, addr, 512, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 512), inRam)).toBe(-1);
  });

  it('BIDIRECTIONAL writes back and invalidates', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'eth0' });
    const data = pattern(512, 3);
    const { kva, paddr } = kmallocWith(m, 512, data);
    const addr = dmaMapSingle(dev, kva, 512, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(lineState(m, paddr)).toBe('invalid');
    expect(firstDifference(dev.hw.dmaRead(addr, 512), data)).toBe(-1);
    const fresh = pattern(512, 4);
    dev.hw.dmaWrite(addr, fresh);
    dmaUnmapSingle(dev, addr, 512, DMA_BIDIRECTIONAL);
    expect(firstDifference(m.cpu.read(kva, 512), fresh)).toBe(-1);
  });

  it('invalidates whole lines, so ARCH_DMA_MINALIGN keeps kmalloc neighbours out of a DMA buffer’s lines', () => {
    const m = createMachine();
    expect(m.mm.kmallocMinAlign).toBe(128);
    const a = m.mm.kmalloc(8);
    const b = m.mm.kmalloc(8);
    if (a === null || b === null) throw new Error('kmalloc');
    expect(Math.abs(b - a)).toBeGreaterThanOrEqual(m.arch.cacheLineSize);
    // A buffer sharing a line with live data loses that data to dma_cache_inv.
    const page = m.mm.allocPages(0);
    if (page === null) throw new Error('allocPages');
    const base = m.mm.pageAddress(page);
    const neighbour = pattern(16, 5);
    m.cpu.write(base, neighbour);
    const dev = m.createDevice({ name: 'eth0' });
    const addr = dmaMapSingle(dev, base + 16, 48, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    dmaUnmapSingle(dev, addr, 48, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(base, 16), neighbour)).not.toBe(-1);
  });
});

describe('mips: cpu_needs_post_dma_flush on speculating R10000s', () => {
  /** Maps a page-aligned buffer FROM_DEVICE, lets the CPU read just below it, and has the device write. */
  function speculate(m: Machine, dev: Device): { kva: number; addr: number; fresh: Uint8Array } {
    const pfn = m.mm.allocPages(1);
    if (pfn === null) throw new Error('allocPages');
    const kva = m.mm.pageAddress(pfn) + m.pageSize;
    m.cpu.write(kva, pattern(256, 6));
    const addr = dmaMapSingle(dev, kva, 256, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    // Innocent code near the buffer: the speculating CPU fills the buffer's lines, stale.
    m.cpu.read(kva - 64, 64);
    const fresh = pattern(256, 7);
    dev.hw.dmaWrite(addr, fresh);
    return { kva, addr, fresh };
  }

  it('invalidates again on sync for the CPU on an IP28, so speculative fills do not hide the device’s bytes', () => {
    const m = createMachine({ platform: 'ip28', cache: { prefetch: 1 } });
    const dev = m.createDevice({ name: 'scsi0' });
    expect(cpuNeedsPostDmaFlush(dev)).toBe(true);
    const { kva, addr, fresh } = speculate(m, dev);
    expect(lineState(m, m.mm.virtToPhys(kva))).toBe('clean');
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
  });

  it('does no maintenance on sync for the CPU elsewhere: a speculating CPU there would read stale lines', () => {
    const m = createMachine({ platform: 'malta', cache: { prefetch: 1 } });
    const dev = m.createDevice({ name: 'eth0' });
    expect(cpuNeedsPostDmaFlush(dev)).toBe(false);
    const { kva, addr, fresh } = speculate(m, dev);
    const invalidates = m.hw.counters.cacheInvalidates;
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    expect(m.hw.counters.cacheInvalidates).toBe(invalidates);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).not.toBe(-1);
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
  });

  it('needs no post-DMA flush on the coherent IP27, though it has the same R10000', () => {
    const m = createMachine({ platform: 'ip27' });
    expect(MIPS_PLATFORMS['ip27']?.cpu).toBe('r10000');
    expect(cpuNeedsPostDmaFlush(m.createDevice({ name: 'xtalk0' }))).toBe(false);
  });
});

describe('mips: coherent memory through the uncached alias', () => {
  it('hands a non-coherent device KSEG1-style uncached memory that costs no vmalloc space', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'eth0' });
    const before = m.mm.stats();
    const buf = dmaAllocCoherent(dev, 3 * 4096);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    expect(m.mm.stats().vmallocUsed).toBe(before.vmallocUsed);
    expect(m.mm.stats().consistentUsed).toBe(before.consistentUsed + 3 * 4096);
    // CAC_ADDR: the cached alias of the same bytes.
    expect(m.mm.virtToPhys(cacAddr(m.mm, buf.cpuAddr))).toBe(buf.dmaHandle);
    // No maintenance in either direction.
    const data = pattern(4096, 8);
    m.cpu.write(buf.cpuAddr, data);
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 4096), data)).toBe(-1);
    const fresh = pattern(4096, 9);
    dev.hw.dmaWrite(buf.dmaHandle + 4096, fresh);
    expect(firstDifference(m.cpu.read(buf.cpuAddr + 4096, 4096), fresh)).toBe(-1);
    const process = m.createProcess();
    const uva = process.mmap(3 * 4096, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 3 * 4096));
    expect(process.pgprotAt(uva)).toBe('uncached');
    process.munmap(uva, 3 * 4096);
    dmaFreeCoherent(dev, 3 * 4096, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats()).toEqual(before);
  });

  it('writes the zeroed pages back before handing out the alias, so no dirty line lands on them later', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'eth0' });
    const buf = dmaAllocCoherent(dev, 4096);
    if (buf === null) throw new Error('alloc');
    expect(lineState(m, buf.dmaHandle)).toBe('invalid');
    expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, 4096), new Uint8Array(4096))).toBe(-1);
  });

  it('gives coherent boards cached memory in the linear map and cached user mappings', () => {
    for (const options of [{ platform: 'ip27' }, { platform: 'malta', coherentio: true }]) {
      const m = createMachine(options);
      const dev = m.createDevice({ name: 'dev0' });
      expect(dev.dmaCoherent).toBe(true);
      const buf = dmaAllocCoherent(dev, 8192);
      if (buf === null) throw new Error('alloc');
      expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('normal');
      expect(m.mm.virtAddrValid(buf.cpuAddr)).toBe(true);
      const process = m.createProcess();
      const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192));
      expect(process.pgprotAt(uva)).toBe('normal');
      expect(m.hw.cache).toBeNull();
    }
  });
});

describe('mips: attributes', () => {
  it('honours NON_CONSISTENT and NO_KERNEL_MAPPING, and ignores WRITE_COMBINE', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'fb0' });
    const cached = dmaAllocAttrs(dev, 4096, DMA_ATTR_NON_CONSISTENT);
    const wc = dmaAllocAttrs(dev, 4096, DMA_ATTR_WRITE_COMBINE);
    const hidden = dmaAllocAttrs(dev, 4096, DMA_ATTR_NO_KERNEL_MAPPING);
    if (cached === null || wc === null || hidden === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(cached.cpuAddr)).toBe('normal');
    expect(m.mm.virtAddrValid(cached.cpuAddr)).toBe(true);
    expect(m.mm.memoryTypeAt(wc.cpuAddr)).toBe('uncached');
    expect(() => m.cpu.read(hidden.cpuAddr, 1)).toThrow(CpuFault);
    const process = m.createProcess();
    const uva = process.mmap(4096, (vma) => dmaMmapAttrs(dev, vma, wc.cpuAddr, wc.dmaHandle, 4096, DMA_ATTR_WRITE_COMBINE));
    expect(process.pgprotAt(uva)).toBe('uncached');
    dmaFreeAttrs(dev, 4096, cached.cpuAddr, cached.dmaHandle, DMA_ATTR_NON_CONSISTENT);
    dmaFreeAttrs(dev, 4096, wc.cpuAddr, wc.dmaHandle, DMA_ATTR_WRITE_COMBINE);
    dmaFreeAttrs(dev, 4096, hidden.cpuAddr, hidden.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
  });
});

describe('mips: platforms', () => {
  it('gives each board its line size, ARCH_DMA_MINALIGN and RAM', () => {
    const expected: Record<string, [number, number, number, number]> = {
      malta: [64, 128, 128, 0],
      ip27: [128, 1, 8, 0],
      ip28: [128, 128, 128, 0x2000_0000],
      ip32: [32, 32, 32, 0],
      octeon: [128, 1, 8, 0],
    };
    for (const [platform, [line, minAlign, kmallocAlign, ramBase]] of Object.entries(expected)) {
      const m = createMachine({ platform });
      expect(m.arch.cacheLineSize).toBe(line);
      expect(m.hw.cacheLineSize).toBe(line);
      expect(dmaGetCacheAlignment(m.createDevice({ name: 'dev0' }))).toBe(minAlign);
      expect(m.mm.kmallocMinAlign).toBe(kmallocAlign);
      expect(m.hw.ram.regions[0]?.base).toBe(ramBase);
    }
  });

  it('keeps a device’s coherence to its board and coherentio to Malta', () => {
    expect(() => createMachine().createDevice({ name: 'x', coherent: true })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'ip27' }).createDevice({ name: 'x', coherent: false })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'ip28', coherentio: true })).toThrow(RangeError);
    expect(() => createMachine({ coherentio: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => createMachine({ platform: 'octane' })).toThrow(/options.platform/);
  });

  it('serves a 24-bit ISA device from ZONE_DMA on a Malta', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'floppy', dmaBits: 24 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    for (let i = 0; i < 4; i++) {
      const buf = dmaAllocCoherent(dev, 64 * 1024);
      if (buf === null) throw new Error('alloc');
      expect(buf.dmaHandle + 64 * 1024).toBeLessThanOrEqual(16 * MIB);
    }
  });

  it('runs with every page size MIPS offers', () => {
    for (const pageSize of [4096, 8192, 16384, 32768, 65536]) {
      const m = createMachine({ pageSize });
      const dev = m.createDevice({ name: 'dev0' });
      const buf = dmaAllocCoherent(dev, pageSize + 1);
      if (buf === null) throw new Error('alloc');
      expect(buf.dmaHandle % pageSize).toBe(0);
      expect(m.mm.stats().consistentUsed).toBe(2 * pageSize);
    }
  });
});
