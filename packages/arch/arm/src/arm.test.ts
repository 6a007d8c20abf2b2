import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaFreeAttrs,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaMmapAttrs,
  dmaSyncSingleForCpu,
  dmaUnmapSingleAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine } from './index.js';

const MIB = 2 ** 20;

describe('arm: streaming DMA needs the cache maintenance the API does', () => {
  it('hides a CPU write from the device until dma_map_single(TO_DEVICE) cleans it', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'dma0' });
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const paddr = m.mm.virtToPhys(kva);
    const data = pattern(256, 1);
    m.cpu.write(kva, data);
    // The device reads RAM behind the CPU's back: the bytes are still in dirty lines.
    expect(firstDifference(dev.hw.dmaRead(paddr, 256), data)).not.toBe(-1);
    const addr = dmaMapSingleAttrs(dev, kva, 256, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(firstDifference(dev.hw.dmaRead(addr, 256), data)).toBe(-1);
    dmaUnmapSingleAttrs(dev, addr, 256, DMA_TO_DEVICE);
  });

  it('hides a device write from a CPU that read the buffer until sync for CPU or unmap', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'dma0' });
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const old = pattern(256, 2);
    m.cpu.write(kva, old);
    const addr = dmaMapSingleAttrs(dev, kva, 256, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    m.cpu.read(kva, 256); // a driver bug: the CPU touches it while the device owns it
    const fresh = pattern(256, 3);
    dev.hw.dmaWrite(addr, fresh);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).not.toBe(-1);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 256), fresh)).toBe(-1);

    const again = pattern(256, 4);
    m.cpu.read(kva, 256);
    dev.hw.dmaWrite(addr, again);
    expect(firstDifference(m.cpu.read(kva, 256), again)).not.toBe(-1);
    dmaUnmapSingleAttrs(dev, addr, 256, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 256), again)).toBe(-1);
  });

  it('lets a coherent and a non-coherent device on one machine take different paths', () => {
    const m = createMachine();
    const plain = m.createDevice({ name: 'plain' });
    const snooping = m.createDevice({ name: 'acp', coherent: true });
    expect(getDmaOps(plain).name).toBe('dma-direct');
    const kva = m.mm.kmalloc(512);
    if (kva === null) throw new Error('kmalloc');
    const before = m.hw.counters.cacheCleans;
    const a = dmaMapSingleAttrs(snooping, kva, 512, DMA_TO_DEVICE);
    dmaMappingError(snooping, a);
    expect(m.hw.counters.cacheCleans).toBe(before);
    const b = dmaMapSingleAttrs(plain, kva, 512, DMA_TO_DEVICE);
    dmaMappingError(plain, b);
    expect(m.hw.counters.cacheCleans).toBeGreaterThan(before);
    dmaUnmapSingleAttrs(snooping, a, 512, DMA_TO_DEVICE);
    dmaUnmapSingleAttrs(plain, b, 512, DMA_TO_DEVICE);
    // Coherent memory: cached for the snooping device, remapped for the other.
    const cached = dmaAllocAttrs(snooping, 4096, 0);
    const remapped = dmaAllocAttrs(plain, 4096, 0);
    if (cached === null || remapped === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(cached.cpuAddr)).toBe('normal');
    expect(m.mm.memoryTypeAt(remapped.cpuAddr)).toBe('wc');
  });
});

describe('arm: DMA_ATTR_NO_KERNEL_MAPPING saves kernel virtual space', () => {
  it('leaves vmalloc usage alone with the attribute and grows it by the page-rounded size without', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'vb2' });
    const size = 300 * 1024 + 5;
    const base = m.mm.stats().vmallocUsed;
    const plain = dmaAllocAttrs(dev, size, 0);
    if (plain === null) throw new Error('alloc');
    expect(m.mm.stats().vmallocUsed - base).toBeGreaterThanOrEqual(Math.ceil(size / 4096) * 4096);
    dmaFreeAttrs(dev, size, plain.cpuAddr, plain.dmaHandle, 0);
    expect(m.mm.stats().vmallocUsed).toBe(base);
    const cookie = dmaAllocAttrs(dev, size, DMA_ATTR_NO_KERNEL_MAPPING);
    if (cookie === null) throw new Error('alloc');
    expect(m.mm.stats().vmallocUsed).toBe(base);
    dmaFreeAttrs(dev, size, cookie.cpuAddr, cookie.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
  });

  it('fits three 1 MiB buffers in a 2 MiB consistent area only without kernel mappings', () => {
    const m = createMachine({ consistentDmaSize: 2 * MIB, cma: false });
    const dev = m.createDevice({ name: 'vb2' });
    const mapped = [0, 1, 2].map(() => dmaAllocAttrs(dev, MIB, 0));
    expect(mapped.filter((buf) => buf !== null).length).toBeLessThan(3);
    for (const buf of mapped) if (buf !== null) dmaFreeAttrs(dev, MIB, buf.cpuAddr, buf.dmaHandle, 0);
    expect(m.mm.stats().consistentUsed).toBe(0);

    const cookies = [0, 1, 2].map(() => dmaAllocAttrs(dev, MIB, DMA_ATTR_NO_KERNEL_MAPPING));
    expect(cookies.every((buf) => buf !== null)).toBe(true);
    expect(m.mm.stats().consistentUsed).toBe(0);

    // Still exportable: a process reads what the device wrote.
    const buf = cookies[0];
    if (!buf) throw new Error('alloc');
    const frame = pattern(MIB, 5);
    dev.hw.dmaWrite(buf.dmaHandle, frame);
    const process = m.createProcess();
    const uva = process.mmap(MIB, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, MIB, DMA_ATTR_NO_KERNEL_MAPPING));
    expect(firstDifference(process.read(uva, MIB), frame)).toBe(-1);
  });
});

describe('arm: page attributes of user mappings', () => {
  it('maps DMA_ATTR_WRITE_COMBINE buffers write-combine and plain ones bufferable or strongly ordered', () => {
    for (const [bufferable, plainType] of [
      [true, 'wc'],
      [false, 'uncached'],
    ] as const) {
      const m = createMachine({ dmaMemBufferable: bufferable });
      const dev = m.createDevice({ name: 'fb' });
      const process = m.createProcess();
      for (const [attrs, type] of [
        [DMA_ATTR_WRITE_COMBINE, 'wc'],
        [0, plainType],
      ] as const) {
        const buf = dmaAllocAttrs(dev, 8192, attrs);
        if (buf === null) throw new Error('alloc');
        const uva = process.mmap(8192, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192, attrs));
        expect(process.pgprotAt(uva)).toBe(type);
        expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe(type);
      }
    }
  });
});
