import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  defineDmaAttrs,
  dmaSetAttr,
} from '@kdma/dma-attrs';
import { CpuFault } from '@kdma/mm';
import { sgAllocTableFromPages } from '@kdma/scatterlist';
import {
  DMA_MAPPING_ERROR,
  EBUSY,
  EINVAL,
  EIO,
  ENOMEM,
  ENXIO,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaAllocNoncontiguous,
  dmaAllocPages,
  dmaAllocWc,
  dmaBitMask,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaFreeNoncontiguous,
  dmaFreePages,
  dmaGetRequiredMask,
  dmaGetSgtable,
  dmaMapPage,
  dmaMapResource,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaMmapCoherent,
  dmaNeedSync,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaUnmapSingle,
  dmaVmapNoncontiguous,
} from './index.js';
import { DMA_F_CAN_SKIP_SYNC, dmaDeclareCoherentMemory, getDmaOps, setDmaOps, type DmaMapOps } from './ops.js';
import { createNonCoherentMachine, createTestMachine } from './test-machine.js';

const MiB = 2 ** 20;

describe('argument checks name the argument and change nothing', () => {
  it('rejects bad sizes, directions, attributes and devices', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const kva = m.mm.kmalloc(64) as number;
    expect(() => dmaAllocAttrs(dev, 0)).toThrow(/size/);
    expect(() => dmaAllocAttrs(dev, 1.5)).toThrow(RangeError);
    expect(() => dmaAllocAttrs(dev, Number.NaN)).toThrow(/size/);
    expect(() => dmaAllocAttrs(dev, '4096' as unknown as number)).toThrow(TypeError);
    expect(() => dmaAllocAttrs(dev, 4096, -1)).toThrow(/attrs/);
    expect(() => dmaAllocAttrs(dev, 4096, 'WC' as unknown as number)).toThrow(TypeError);
    expect(() => dmaMapSingle(dev, kva, 64, 7 as never)).toThrow(RangeError);
    expect(() => dmaMapSingle(dev, kva, 64, DMA_NONE as never)).toThrow(/dir/);
    expect(() => dmaMapSingle(dev, -5, 64, DMA_TO_DEVICE)).toThrow(/kva/);
    expect(() => dmaMapSingle({} as never, kva, 64, DMA_TO_DEVICE)).toThrow(/dev/);
    expect(() => dmaMapSg(dev, [], 1, DMA_TO_DEVICE)).toThrow(/nents/);
    expect(() => dmaSetMask(dev, -1)).toThrow(/mask/);
    expect(m.mm.stats().freePages).toBe(createTestMachine().mm.stats().freePages - 1);
  });

  it('accepts the 2011 struct dma_attrs wherever a number is accepted', () => {
    const m = createNonCoherentMachine();
    const dev = m.createDevice({ name: 'fb' });
    const attrs = defineDmaAttrs();
    dmaSetAttr(DMA_ATTR_WRITE_COMBINE, attrs);
    const buf = dmaAllocAttrs(dev, 4096, attrs);
    expect(buf).not.toBeNull();
    expect(m.mm.memoryTypeAt(buf!.cpuAddr)).toBe('uncached'); // WRITE_COMBINE is not honoured here
    dmaFreeAttrs(dev, 4096, buf!.cpuAddr, buf!.dmaHandle, attrs);
  });
});

describe('coherent allocation through dma-direct', () => {
  it('wraps dma_alloc_attrs: coherent, writecombine, with NO_KERNEL_MAPPING a cookie', () => {
    const m = createNonCoherentMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const before = m.mm.stats();
    const plain = dmaAllocCoherent(dev, 3 * 4096)!;
    expect(m.mm.stats().vmallocUsed - before.vmallocUsed).toBe(3 * 4096);
    expect(m.cpu.read(plain.cpuAddr, 16)).toEqual(new Uint8Array(16));
    const wc = dmaAllocWc(dev, 4096)!;
    const cookie = dmaAllocAttrs(dev, 4096, DMA_ATTR_NO_KERNEL_MAPPING)!;
    expect(() => m.cpu.read(cookie.cpuAddr, 1)).toThrow(CpuFault);
    dmaFreeCoherent(dev, 3 * 4096, plain.cpuAddr, plain.dmaHandle);
    dmaFreeAttrs(dev, 4096, wc.cpuAddr, wc.dmaHandle, DMA_ATTR_WRITE_COMBINE);
    dmaFreeAttrs(dev, 4096, cookie.cpuAddr, cookie.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(m.mm.stats()).toEqual(before);
  });

  it('zeroes the buffer and leaves no dirty line of the linear alias to land on it later', () => {
    const m = createNonCoherentMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const buf = dmaAllocCoherent(dev, 4096)!;
    dev.hw.dmaWrite(buf.dmaHandle, new Uint8Array(4096).fill(9));
    m.hw.cacheClean(0x0, m.maxPhysAddress);
    expect(m.cpu.read(buf.cpuAddr, 4096)).toEqual(new Uint8Array(4096).fill(9));
  });

  it('returns null when memory runs out, with nothing taken', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const before = m.mm.stats();
    expect(dmaAllocCoherent(dev, 128 * MiB, 0x200)).toBeNull();
    expect(m.mm.stats()).toEqual(before);
  });

  it('describes a buffer as a one-entry sg table', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const buf = dmaAllocCoherent(dev, 5000)!;
    const sgt = dmaGetSgtable(dev, buf.cpuAddr, buf.dmaHandle, 5000);
    expect(typeof sgt).toBe('object');
    if (typeof sgt === 'number') return;
    expect(sgt.sgl[0]).toMatchObject({ pfn: buf.dmaHandle / 4096, offset: 0, length: 8192 });
  });
});

describe('per-device coherent memory (dma_declare_coherent_memory)', () => {
  it('serves the device from its pool only, and maps it to user space', () => {
    const m = createTestMachine({ reservedMemory: [{ base: 32 * MiB, size: MiB }] });
    const dev = m.createDevice({ name: 'sram-user' });
    expect(dmaDeclareCoherentMemory(dev, 32 * MiB, 0x1000_0000, MiB)).toBe(0);
    expect(dmaDeclareCoherentMemory(dev, 32 * MiB, 0x1000_0000, MiB)).toBe(-EBUSY);
    const buf = dmaAllocCoherent(dev, 8192)!;
    expect(buf.dmaHandle).toBe(0x1000_0000);
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('wc');
    const process = m.createProcess();
    m.cpu.write(buf.cpuAddr, new Uint8Array([1, 2, 3]));
    m.cpu.wmb();
    const uva = process.mmap(8192, (vma) => dmaMmapCoherent(dev, vma, buf.cpuAddr, buf.dmaHandle, 8192));
    expect(process.read(uva, 3)).toEqual(new Uint8Array([1, 2, 3]));
    // The pool is all the device gets: no fallback to the page allocator.
    expect(dmaAllocCoherent(dev, 2 * MiB)).toBeNull();
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(dmaAllocCoherent(dev, MiB)).not.toBeNull();
  });

  it('refuses memory the platform did not reserve', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    expect(dmaDeclareCoherentMemory(dev, 32 * MiB, 0, MiB)).toBe(-EINVAL);
    expect(dev.dmaMem).toBeNull();
  });
});

describe('streaming mappings through dma-direct', () => {
  it('fails a mapping beyond the mask without swiotlb and says so in dmesg', () => {
    const m = createTestMachine({ memory: 64 * MiB });
    const dev = m.createDevice({ name: 'dev24', dmaBits: 24 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    const pfn = m.mm.allocPages(0)!;
    expect(pfn * 4096).toBeGreaterThanOrEqual(16 * MiB);
    const addr = dmaMapPage(dev, pfn, 0, 4096, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(m.hw.dmesg.entries().some((entry) => /dev24: DMA addr .* overflow/.test(entry.message))).toBe(true);
  });

  it('unmaps what it mapped when a later sg entry fails (dma_map_sgtable → -EIO)', () => {
    const m = createTestMachine({ memory: 64 * MiB });
    const dev = m.createDevice({ name: 'dev24', dmaBits: 24 });
    dmaSetMaskAndCoherent(dev, dmaBitMask(24));
    const low = m.mm.allocPages(0, 0x01 /* GFP_DMA */)!;
    const high = m.mm.allocPages(0)!;
    const sgt = sgAllocTableFromPages([low, high], 0, 8192, undefined, 4096);
    if (typeof sgt === 'number') throw new Error('sg');
    expect(dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE)).toBe(-EIO);
    expect(dmaMapSg(dev, sgt.sgl, 2, DMA_FROM_DEVICE)).toBe(0);
  });

  it('rejects vmalloc memory with the kernel warning', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const kva = m.mm.vmalloc(4096)!;
    expect(dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('dev0: rejecting DMA map of vmalloc memory');
  });

  it('maps MMIO with map_resource but never RAM', () => {
    const m = createTestMachine({ memory: 64 * MiB });
    const dev = m.createDevice({ name: 'p2p' });
    expect(dmaMapResource(dev, 0xfe00_0000, 4096, DMA_BIDIRECTIONAL)).toBe(0xfe00_0000);
    expect(dmaMapResource(dev, 0x10_0000, 4096, DMA_BIDIRECTIONAL)).toBe(DMA_MAPPING_ERROR);
  });

  it('reports the masks and limits of the direct path', () => {
    const m = createTestMachine({ memory: 64 * MiB });
    const dev = m.createDevice({ name: 'dev0' });
    expect(dmaGetRequiredMask(dev)).toBe(dmaBitMask(26));
    expect(dmaMaxMappingSize(dev)).toBe(Number.MAX_SAFE_INTEGER);
    expect(dmaSetMask(dev, dmaBitMask(20))).toBe(-EIO);
  });
});

describe('non-coherent pages (dma_alloc_pages, dma_alloc_noncontiguous)', () => {
  it('hands out cached pages whose ownership moves with the sync calls', () => {
    const m = createNonCoherentMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const pages = dmaAllocPages(dev, 8192, DMA_FROM_DEVICE)!;
    const kva = m.mm.pageAddress(pages.pfn);
    expect(m.mm.memoryTypeAt(kva)).toBe('normal');
    m.cpu.read(kva, 64);
    dev.hw.dmaWrite(pages.dmaHandle, new Uint8Array(64).fill(5));
    expect(m.cpu.read(kva, 4)).toEqual(new Uint8Array(4));
    dmaSyncSingleForCpu(dev, pages.dmaHandle, 8192, DMA_FROM_DEVICE);
    expect(m.cpu.read(kva, 4)).toEqual(new Uint8Array(4).fill(5));
    dmaFreePages(dev, 8192, pages.pfn, pages.dmaHandle, DMA_FROM_DEVICE);
  });

  it('gives one DMA segment from dma_alloc_noncontiguous and refuses other attributes', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    const sgt = dmaAllocNoncontiguous(dev, 3 * 4096, DMA_TO_DEVICE)!;
    expect(sgt.nents).toBe(1);
    const vaddr = dmaVmapNoncontiguous(dev, 3 * 4096, sgt)!;
    m.cpu.write(vaddr, new Uint8Array([7]));
    expect(dev.hw.dmaRead(sgt.sgl[0]!.dmaAddress, 1)).toEqual(new Uint8Array([7]));
    dmaFreeNoncontiguous(dev, 3 * 4096, sgt, DMA_TO_DEVICE);
    expect(dmaAllocNoncontiguous(dev, 4096, DMA_TO_DEVICE, undefined, DMA_ATTR_WRITE_COMBINE)).toBeNull();
  });
});

describe('dma_map_ops chosen per device at run time', () => {
  it('dispatches to the ops a device was given and back to dma-direct', () => {
    const m = createTestMachine();
    const dev = m.createDevice({ name: 'dev0' });
    expect(getDmaOps(dev).name).toBe('dma-direct');
    const calls: string[] = [];
    const ops: DmaMapOps = {
      name: 'counting_ops',
      mapPage: (_dev, pfn, offset) => {
        calls.push('map');
        return 0x4000_0000 + pfn * 4096 + offset;
      },
      unmapPage: () => {
        calls.push('unmap');
      },
    };
    setDmaOps(dev, ops);
    const kva = m.mm.kmalloc(64)!;
    const addr = dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE);
    expect(addr).toBeGreaterThanOrEqual(0x4000_0000);
    dmaUnmapSingle(dev, addr, 64, DMA_TO_DEVICE);
    expect(calls).toEqual(['map', 'unmap']);
    // An ops without alloc or mmap: null and -ENXIO, as the kernel.
    expect(dmaAllocCoherent(dev, 4096)).toBeNull();
    setDmaOps(dev, null);
    expect(getDmaOps(dev).name).toBe('dma-direct');
    expect(ENXIO).toBe(6);
  });
});

describe('dma_need_sync', () => {
  it('lets a coherent direct device skip syncs, not a non-coherent one; other ops with sync callbacks always sync', () => {
    const coherent = createTestMachine();
    const dev = coherent.createDevice({ name: 'dev0' });
    expect(dmaNeedSync(dev, 0x1000)).toBe(false);
    const debug = createTestMachine({ dmaDebug: true }).createDevice({ name: 'dev0' });
    expect(dmaNeedSync(debug, 0x1000)).toBe(false);
    const plain = createNonCoherentMachine().createDevice({ name: 'dev0' });
    expect(dmaNeedSync(plain, 0x1000)).toBe(true);
    setDmaOps(dev, { name: 'syncing_ops', syncSingleForCpu: () => {} });
    dmaSetMask(dev, dmaBitMask(32));
    expect(dmaNeedSync(dev, 0x1000)).toBe(true);
     // DMA_F_CAN_SKIP_SYNC (iommu_dma_ops has it): a coherent device skips that ops' syncs too.
    setDmaOps(dev, { name: 'skipping_ops', flags: DMA_F_CAN_SKIP_SYNC, syncSingleForCpu: () => {} });
    dmaSetMask(dev, dmaBitMask(32));
    expect(dmaNeedSync(dev, 0x1000)).toBe(false);
  });
});
