import { describe, expect, it } from '@jest/globals';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapPageAttrs,
  dmaMapSgAttrs,
  dmaSetMask,
  dmaUnmapPageAttrs,
  dmaUnmapSgAttrs,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import {
  createMachine,
  HV_FAST_PCI_IOMMU_DEMAP,
  HV_FAST_PCI_IOMMU_MAP,
  HV_PCI_MAP_ATTR_READ,
  HV_PCI_MAP_ATTR_WRITE,
  IO_PAGE_SIZE,
  SUN4V_DVMA_BASE,
  sun4vIommuOf,
  type Sun4vIommu,
} from './index.js';

function hv(m: Machine): Sun4vIommu {
  const found = sun4vIommuOf(m);
  if (found === null) throw new Error('no sun4v IOMMU');
  return found;
}

function page(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  return pfn;
}

const RW = HV_PCI_MAP_ATTR_READ | HV_PCI_MAP_ATTR_WRITE;

describe('sparc sun4v: the hypervisor\'s IOMMU', () => {
  it('maps a buffer with one pci_iommu_map call for all its pages, and demaps it with one call', () => {
    const m = createMachine({ platform: 'sun4v' });
    expect(m.iommu?.name).toBe('sun4v-iommu');
    const dev = m.createDevice({ name: 'e1000e' });
    expect(getDmaOps(dev).name).toBe('sun4v_dma_ops');
    const pfn = page(m, 2);
    const addr = dmaMapPageAttrs(dev, pfn, 512, 3 * IO_PAGE_SIZE - 1024, DMA_FROM_DEVICE);
    expect(addr).toBe(SUN4V_DVMA_BASE + 512);
    dmaUnmapPageAttrs(dev, addr, 3 * IO_PAGE_SIZE - 1024, DMA_FROM_DEVICE);
    expect(hv(m).hypercalls()).toEqual([
      { fn: HV_FAST_PCI_IOMMU_MAP, name: 'pci_iommu_map', devhandle: 0x780, tsbid: 0, npages: 3, done: 3, attrs: RW, cpu: 0 },
      { fn: HV_FAST_PCI_IOMMU_DEMAP, name: 'pci_iommu_demap', devhandle: 0x780, tsbid: 0, npages: 3, done: 3, attrs: 0, cpu: 0 },
    ]);
  });

  it('gathers an sg list in one batch: contiguous TSB entries go in one hypercall', () => {
    const m = createMachine({ platform: 'sun4v', dmaDebug: true });
    const dev = m.createDevice({ name: 'mpt', maxSegmentSize: 2 ** 20 });
    const pfns = [0, 1, 2, 3].map(() => {
      const pfn = page(m);
      page(m);
      return pfn;
    });
    const sgl: Scatterlist[] = pfns.map((pfn) => ({ pfn, offset: 0, length: IO_PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    const data = pattern(4 * IO_PAGE_SIZE, 1);
    pfns.forEach((pfn, i) => m.cpu.write(m.mm.pageAddress(pfn), data.subarray(i * IO_PAGE_SIZE, (i + 1) * IO_PAGE_SIZE)));
    expect(dmaMapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE)).toBe(1);
    expect(hv(m).hypercalls()).toEqual([expect.objectContaining({ name: 'pci_iommu_map', npages: 4, attrs: HV_PCI_MAP_ATTR_READ })]);
    expect(firstDifference(dev.hw.dmaRead((sgl[0] as Scatterlist).dmaAddress, 4 * IO_PAGE_SIZE), data)).toBe(-1);
    dmaUnmapSgAttrs(dev, sgl, 4, DMA_TO_DEVICE);
    expect(hv(m).sun4vStats()).toMatchObject({ mapCalls: 1, demapCalls: 1, pagesMapped: 4, pagesDemapped: 4 });
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('flushes a batch when its page list (PGLIST_NENTS = PAGE_SIZE / 8) is full', () => {
    const m = createMachine({ platform: 'sun4v', memory: 2 ** 31 });
    const dev = m.createDevice({ name: 'big' });
    expect(hv(m).pglistNents).toBe(1024);
    const pfns = [page(m, 10), page(m, 10), page(m, 10)];
    const sgl: Scatterlist[] = pfns.map((pfn) => ({ pfn, offset: 0, length: 1024 * IO_PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    (sgl[2] as Scatterlist).length = 452 * IO_PAGE_SIZE;
    expect(dmaMapSgAttrs(dev, sgl, 3, DMA_FROM_DEVICE)).toBeGreaterThan(0);
    expect(hv(m).hypercalls().map((c) => c.npages)).toEqual([1024, 1024, 452]);
    expect(hv(m).sun4vStats().largestBatch).toBe(1024);
  });

  it('keeps a batch per CPU', () => {
    const m = createMachine({ platform: 'sun4v', cpus: 4 });
    const dev = m.createDevice({ name: 'nic' });
    const addr = m.runOn(3, () => dmaMapPageAttrs(dev, page(m), 0, 64, DMA_TO_DEVICE));
    expect(hv(m).hypercalls()[0]).toMatchObject({ cpu: 3, npages: 1 });
    dmaUnmapPageAttrs(dev, addr, 64, DMA_TO_DEVICE);
  });

  it('maps coherent buffers readable and writable; no streaming buffer stands between device and CPU', () => {
    const m = createMachine({ platform: 'sun4v' });
    const dev = m.createDevice({ name: 'ahci' });
    const buf = dmaAllocCoherent(dev, 2 * IO_PAGE_SIZE);
    if (buf === null) throw new Error('alloc');
    expect(hv(m).hypercalls()[0]).toMatchObject({ npages: 2, attrs: RW });
    const data = pattern(2 * IO_PAGE_SIZE, 2);
    dev.hw.dmaWrite(buf.dmaHandle, data);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, data.length), data)).toBe(-1);
    dmaFreeCoherent(dev, 2 * IO_PAGE_SIZE, buf.cpuAddr, buf.dmaHandle);
    // A streaming FROM_DEVICE write shows at once too.
    const pfn = page(m);
    const rx = dmaMapPageAttrs(dev, pfn, 0, 256, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(rx, data.subarray(0, 256));
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), 256), data.subarray(0, 256))).toBe(-1);
  });

  it('faults where the hypervisor has no entry or the entry is read-only', () => {
    const m = createMachine({ platform: 'sun4v' });
    const dev = m.createDevice({ name: 'nic' });
    const addr = dmaMapPageAttrs(dev, page(m), 0, 64, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(1))).toThrow(expect.objectContaining({ kind: 'permission' }));
    dmaUnmapPageAttrs(dev, addr, 64, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaRead(addr, 1)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.iommu?.stats().faults).toBe(2);
  });

  it('covers 2 GiB at 2 GiB: dma_addr_mask 0x7fffffff', () => {
    const m = createMachine({ platform: 'sun4v' });
    expect(hv(m).dmaAddrMask).toBe(0x7fff_ffff);
    const dev = m.createDevice({ name: 'dev' });
    expect(dmaSetMask(dev, dmaBitMask(30))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(31))).toBe(0);
  });
});
