import { describe, expect, it } from '@jest/globals';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaMapSingle,
  dmaMmapCoherent,
  dmaSetMask,
  dmaSyncSingleForCpu,
  dmaUnmapSingle,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, leonStats } from './index.js';

describe('sparc32 LEON: pci32_dma_ops', () => {
  it('is a 4 KiB-page machine with RAM at 0x40000000 and non-coherent devices on pci32_dma_ops', () => {
    const m = createMachine({ platform: 'sparc32-leon' });
    expect(m.pageSize).toBe(4096);
    expect(m.hw.ram.regions).toEqual([{ base: 0x4000_0000, size: 256 * 2 ** 20 }]);
    expect(m.iommu).toBeNull();
    const dev = m.createDevice({ name: 'greth' });
    expect(dev.dmaCoherent).toBe(false);
    expect(getDmaOps(dev).name).toBe('pci32_dma_ops');
    expect(dmaSetMask(dev, dmaBitMask(24))).toBe(-EIO);
    expect(() => createMachine({ platform: 'sun4u', leonSnooping: true })).toThrow(RangeError);
  });

  it('needs the D-cache flush of a sync for the CPU: without it the CPU reads what it cached before', () => {
    const m = createMachine({ platform: 'sparc32-leon' });
    const dev = m.createDevice({ name: 'grspw' });
    const kva = m.mm.kmalloc(1024);
    if (kva === null) throw new Error('kmalloc');
    const old = pattern(1024, 1);
    m.cpu.write(kva, old);
    // The bus address is physical; the write-through cache leaves nothing for the device to miss.
    const addr = dmaMapSingle(dev, kva, 1024, DMA_FROM_DEVICE);
    expect(addr).toBe(m.mm.virtToPhys(kva));
    expect(firstDifference(dev.hw.dmaRead(addr, 1024), old)).toBe(-1);
    m.cpu.read(kva, 1024);
    const frame = pattern(1024, 2);
    dev.hw.dmaWrite(addr, frame);
    expect(firstDifference(m.cpu.read(kva, 1024), old)).toBe(-1);
    dmaSyncSingleForCpu(dev, addr, 1024, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(kva, 1024), frame)).toBe(-1);
    expect(leonStats(m).dcacheFlushAlls).toBe(1);
    dmaUnmapSingle(dev, addr, 1024, DMA_FROM_DEVICE);
    expect(leonStats(m).dcacheFlushAlls).toBe(2);
    // A TO_DEVICE buffer is never flushed for.
    const tx = dmaMapSingle(dev, kva, 1024, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, tx, 1024, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, tx, 1024, DMA_TO_DEVICE);
    expect(leonStats(m).dcacheFlushAlls).toBe(2);
  });

  it('gives coherent memory an uncached kernel mapping and an uncached user one, up to 256 KiB', () => {
    const m = createMachine({ platform: 'sparc32-leon' });
    const dev = m.createDevice({ name: 'grusb' });
    const buf = dmaAllocCoherent(dev, 8192);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    expect(buf.dmaHandle).toBeGreaterThanOrEqual(0x4000_0000);
    const data = pattern(8192, 3);
    dev.hw.dmaWrite(buf.dmaHandle, data);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 8192), data)).toBe(-1);
    const process = m.createProcess();
    const uva = process.mmap(8192, (vma) => dmaMmapCoherent(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192));
    expect(process.pgprotAt(uva)).toBe('uncached');
    expect(dmaAllocCoherent(dev, 256 * 1024 + 1)).toBeNull();
  });

  it('with a snooping D-cache (leonSnooping) the devices are coherent and nothing is flushed', () => {
    const m = createMachine({ platform: 'sparc32-leon', leonSnooping: true });
    const dev = m.createDevice({ name: 'greth' });
    expect(dev.dmaCoherent).toBe(true);
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const addr = dmaMapSingle(dev, kva, 256, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(addr, pattern(256, 4));
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
    expect(leonStats(m)).toEqual({ dcacheFlushAlls: 0, snoopedSkips: 1 });
  });
});
