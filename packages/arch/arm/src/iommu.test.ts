import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaFreeAttrs,
  dmaMapPage,
  dmaMapSgAttrs,
  dmaMapSingle,
  dmaMappingError,
  dmaMmapAttrs,
  dmaUnmapPage,
  dmaUnmapSgAttrs,
  dmaUnmapSingle,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { iommuGetDmaDomain, iommuIovaToPhys } from '@kdma/iommu';
import { CpuFault } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import {
  armIommuAttachDevice,
  armIommuCreateMapping,
  armIommuDetachDevice,
  armIommuIovaToPhys,
  armIommuReleaseMapping,
  createMachine,
  PHYS_OFFSET,
} from './index.js';

const PAGE = 4096;
const MIB = 2 ** 20;

function dmesg(m: Machine): string {
  return m.hw.dmesg
    .entries()
    .map((entry) => entry.message)
    .join('\n');
}

/** Takes every free page, then gives back those at even pfns: nothing larger than a page is free. */
function fragment(m: Machine): void {
  const taken: number[] = [];
  for (let pfn = m.mm.allocPages(0, 0x200); pfn !== null; pfn = m.mm.allocPages(0, 0x200)) taken.push(pfn);
  for (const pfn of taken) if (pfn % 2 === 0) m.mm.freePages(pfn, 0);
}

function singlePage(m: Machine): number {
  const pfn = m.mm.allocPages(0);
  if (pfn === null) throw new Error('allocPages');
  return pfn;
}

describe('arm + SMMU: iommu_dma_ops', () => {
  it('allocates 4 MiB without a kernel mapping from fragmented memory: scattered pages, no vmalloc, and a process reads what the device wrote', () => {
    const m = createMachine({ iommu: 'arm-smmu', memory: 48 * MIB, cma: false });
    const dev = m.createDevice({ name: 'vb2' });
    const direct = m.createDevice({ name: 'no-smmu', iommu: false });
    fragment(m);
    const size = 4 * MIB;
    expect(dmaAllocAttrs(direct, size, DMA_ATTR_NO_KERNEL_MAPPING)).toBeNull();
    const vmallocUsed = m.mm.stats().vmallocUsed;
    const buf = dmaAllocAttrs(dev, size, DMA_ATTR_NO_KERNEL_MAPPING);
    if (buf === null) throw new Error('dmaAllocAttrs');
    expect(m.mm.stats().vmallocUsed).toBe(vmallocUsed);
    expect(() => m.cpu.read(buf.cpuAddr, 1)).toThrow(CpuFault);
    const domain = iommuGetDmaDomain(dev);
    if (domain === null) throw new Error('no DMA domain');
    const phys = Array.from({ length: size / PAGE }, (_, i) => iommuIovaToPhys(domain, buf.dmaHandle + i * PAGE));
    expect(phys.every((pa) => pa >= PHYS_OFFSET)).toBe(true);
    expect(new Set(phys).size).toBe(size / PAGE);
    expect(phys.some((pa, i) => i > 0 && pa === (phys[i - 1] as number) + PAGE)).toBe(false);

    const frame = pattern(size, 1);
    dev.hw.dmaWrite(buf.dmaHandle, frame);
    const process = m.createProcess();
    const uva = process.mmap(size, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, size, DMA_ATTR_NO_KERNEL_MAPPING));
    expect(process.pgprotAt(uva)).toBe('wc');
    expect(firstDifference(process.read(uva, size), frame)).toBe(-1);
    process.munmap(uva, size);
    dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('puts devices behind the SMMU by default and leaves an iommu: false device on dma-direct', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const behind = m.createDevice({ name: 'gpu' });
    const direct = m.createDevice({ name: 'uart-dma', iommu: false });
    expect(getDmaOps(behind).name).toBe('iommu_dma_ops');
    expect(getDmaOps(direct).name).toBe('dma-direct');
    expect(() => createMachine().createDevice({ name: 'x', iommu: true })).toThrow(/no IOMMU/);
  });

  it('reports a stray access as the SMMU driver does and counts it', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'isp' });
    const kva = m.mm.kmalloc(PAGE);
    if (kva === null) throw new Error('kmalloc');
    const addr = dmaMapSingle(dev, kva, PAGE, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(16))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(() => dev.hw.dmaRead(addr - 16 * PAGE, 16)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(dmesg(m)).toContain(`arm-smmu 2b400000.iommu: Unhandled context fault: fsr=0x8, iova=0x${addr.toString(16).padStart(8, '0')}, fsynr=0x10, cbfrsynra=0x0, cb=1`);
    expect(dmesg(m)).toContain(`fsr=0x2, iova=0x${(addr - 16 * PAGE).toString(16).padStart(8, '0')}, fsynr=0x0`);
    expect(m.iommu?.stats().faults).toBe(2);
    dmaUnmapSingle(dev, addr, PAGE, DMA_TO_DEVICE);
  });

  it('faults at once after an unmap in strict mode; in lazy mode the stale IOTLB entry works until the flush queue drains', () => {
    for (const strict of [true, false]) {
      const m = createMachine({ iommu: 'arm-smmu', iommuStrict: strict });
      const dev = m.createDevice({ name: 'dma' });
      const pfn = singlePage(m);
      const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_BIDIRECTIONAL);
      dev.hw.dmaRead(addr, 64);
      dmaUnmapPage(dev, addr, PAGE, DMA_BIDIRECTIONAL);
      if (strict) {
        expect(m.iommu?.stats().pendingFlushes).toBe(0);
        expect(() => dev.hw.dmaRead(addr, 64)).toThrow(DmaFault);
      } else {
        expect(m.iommu?.stats().pendingFlushes).toBe(1);
        expect(dev.hw.dmaRead(addr, 64)).toHaveLength(64);
        m.clock.advance(10_000_000);
        expect(m.iommu?.stats().pendingFlushes).toBe(0);
        expect(() => dev.hw.dmaRead(addr, 64)).toThrow(DmaFault);
      }
    }
  });
});

describe('arm: the seed’s IOMMU mapper (arm_iommu_ops)', () => {
  it('attaches a device to a mapping of its own, allocating IOVA first-fit from the bottom, aligned to the buffer’s order', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'fimc' });
    const mapping = armIommuCreateMapping(m, 0x2000_0000, 128 * MIB);
    if (mapping === null) throw new Error('mapping');
    expect(armIommuAttachDevice(dev, mapping)).toBe(0);
    expect(getDmaOps(dev).name).toBe('arm_iommu_ops');
    expect(dmesg(m)).toContain('Attached IOMMU controller to fimc device.');
    const [a, b, c] = [singlePage(m), singlePage(m), singlePage(m)] as [number, number, number];
    const first = dmaMapPage(dev, a, 0x10, 100, DMA_TO_DEVICE);
    expect(first).toBe(0x2000_0000 + 0x10);
    const big = m.mm.allocPages(4);
    if (big === null) throw new Error('allocPages');
    const second = dmaMapPage(dev, big, 0, 16 * PAGE, DMA_TO_DEVICE);
    expect(second).toBe(0x2000_0000 + 16 * PAGE);
    const third = dmaMapPage(dev, b, 0, PAGE, DMA_FROM_DEVICE);
    expect(third).toBe(0x2000_0000 + PAGE);
    expect(armIommuIovaToPhys(dev, third)).toBe(b * PAGE);
    dev.hw.dmaWrite(third, pattern(PAGE, 2));
    dmaUnmapPage(dev, third, PAGE, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(b), PAGE), pattern(PAGE, 2))).toBe(-1);
    // The freed bit is the first fit again.
    expect(dmaMapPage(dev, c, 0, PAGE, DMA_TO_DEVICE)).toBe(0x2000_0000 + PAGE);
    expect(mapping.usedBits()).toBe(18);
    armIommuDetachDevice(dev);
    expect(getDmaOps(dev).name).toBe('iommu_dma_ops');
    armIommuReleaseMapping(mapping);
  });

  it('fails with DMA_MAPPING_ERROR when the bitmap is full', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'small' });
    const mapping = armIommuCreateMapping(m, 0x1000_0000, 2 * PAGE, 0);
    if (mapping === null) throw new Error('mapping');
    expect(armIommuAttachDevice(dev, mapping)).toBe(0);
    // count 2, but the bitmap is whole longs: 32 bits, as in the kernel.
    expect(mapping.bits).toBe(32);
    const pfn = m.mm.allocPages(6);
    if (pfn === null) throw new Error('allocPages');
    expect(dmaMapPage(dev, pfn, 0, 33 * PAGE, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(() => armIommuCreateMapping(m, 0x1000_0000, PAGE, 1)).toThrow(RangeError);
  });

  it('merges sg entries into chunks as v3.5 did: a new chunk at an offset or after a partial page', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'mfc', maxSegmentSize: MIB });
    const mapping = armIommuCreateMapping(m, 0x4000_0000, 64 * MIB);
    if (mapping === null) throw new Error('mapping');
    expect(armIommuAttachDevice(dev, mapping)).toBe(0);
    const pfns = [0, 1, 2, 3].map(() => {
      const pfn = singlePage(m);
      singlePage(m);
      return pfn;
    });
    const data = pattern(3 * PAGE, 3);
    pfns.slice(0, 3).forEach((pfn, i) => m.cpu.write(m.mm.pageAddress(pfn), data.subarray(i * PAGE, (i + 1) * PAGE)));
    const sgl = [
      { pfn: pfns[0] as number, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 },
      { pfn: pfns[1] as number, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 },
      { pfn: pfns[2] as number, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 },
      { pfn: pfns[3] as number, offset: 256, length: 512, dmaAddress: 0, dmaLength: 0 },
    ];
    expect(dmaMapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE)).toBe(2);
    expect((sgl[0] as { dmaLength: number }).dmaLength).toBe(3 * PAGE);
    expect((sgl[1] as { dmaLength: number }).dmaLength).toBe(512);
    expect((sgl[1] as { dmaAddress: number }).dmaAddress % PAGE).toBe(256);
    expect(firstDifference(dev.hw.dmaRead((sgl[0] as { dmaAddress: number }).dmaAddress, 3 * PAGE), data)).toBe(-1);
    dmaUnmapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE);
    expect(mapping.usedBits()).toBe(0);
  });

  it('allocates scattered pages remapped for the CPU, or none with NO_KERNEL_MAPPING, and exports them', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'drm' });
    const mapping = armIommuCreateMapping(m, 0x8000_0000, 256 * MIB);
    if (mapping === null) throw new Error('mapping');
    expect(armIommuAttachDevice(dev, mapping)).toBe(0);
    const size = 5 * PAGE;
    const vmalloc = m.mm.stats().vmallocUsed;
    const buf = dmaAllocAttrs(dev, size, 0);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.stats().vmallocUsed).toBeGreaterThan(vmalloc);
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('wc');
    expect(firstDifference(m.cpu.read(buf.cpuAddr, size), new Uint8Array(size))).toBe(-1);
    const data = pattern(size, 4);
    dev.hw.dmaWrite(buf.dmaHandle, data);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, size), data)).toBe(-1);
    dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, 0);
    expect(m.mm.stats().vmallocUsed).toBe(vmalloc);

    const cookie = dmaAllocAttrs(dev, size, DMA_ATTR_NO_KERNEL_MAPPING);
    if (cookie === null) throw new Error('alloc');
    expect(m.mm.stats().vmallocUsed).toBe(vmalloc);
    dev.hw.dmaWrite(cookie.dmaHandle, data);
    const process = m.createProcess();
    const uva = process.mmap(2 * PAGE, (vma) => dmaMmapAttrs(dev, vma, cookie.cpuAddr, cookie.dmaHandle, size, DMA_ATTR_NO_KERNEL_MAPPING), { pgoff: 3 });
    expect(firstDifference(process.read(uva, 2 * PAGE), data.subarray(3 * PAGE))).toBe(-1);
    dmaFreeAttrs(dev, size, cookie.cpuAddr, cookie.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(mapping.usedBits()).toBe(0);
  });

  it('gives a coherent device arm_coherent_iommu_ops, without cache maintenance', () => {
    const m = createMachine({ iommu: 'arm-smmu' });
    const dev = m.createDevice({ name: 'acp', coherent: true });
    const mapping = armIommuCreateMapping(m, 0x1000_0000, 16 * MIB);
    if (mapping === null) throw new Error('mapping');
    expect(armIommuAttachDevice(dev, mapping)).toBe(0);
    expect(getDmaOps(dev).name).toBe('arm_coherent_iommu_ops');
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    m.cpu.write(kva, pattern(256, 5));
    const cleans = m.hw.counters.cacheCleans;
    const addr = dmaMapSingle(dev, kva, 256, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(m.hw.counters.cacheCleans).toBe(cleans);
    dmaUnmapSingle(dev, addr, 256, DMA_FROM_DEVICE);
  });
});
