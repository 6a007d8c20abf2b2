import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaBitMask,
  dmaMapSgAttrs,
  dmaMapSingle,
  dmaSetMaskAndCoherent,
  dmaUnmapSgAttrs,
  dmaUnmapSingle,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { iommuGetDmaDomain, iommuIovaToPhys, type IommuDmaCookie } from '@kdma/iommu';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, HT_RANGE_START } from './index.js';

const PAGE = 4096;
const GIB = 2 ** 30;

function dmesg(m: Machine): string {
  return m.hw.dmesg
    .entries()
    .map((entry) => entry.message)
    .join('\n');
}

describe('x86 IOMMUs', () => {
  it.each(['intel-iommu', 'amd-iommu'])('%s: every PCI device behind it, IOVA top-down below 4 GiB first', (iommu) => {
    const m = createMachine({ iommu, memory: 8 * GIB });
    const nvme = m.createDevice({ name: 'nvme', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(nvme, dmaBitMask(64))).toBe(0);
    expect(getDmaOps(nvme).name).toBe('iommu_dma_ops');
    expect(m.iommu?.name).toBe(iommu);
    // A page above 4 GiB: the IOMMU makes it reachable below, and no bounce buffer is involved.
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    expect(pfn * PAGE).toBeGreaterThanOrEqual(4 * GIB);
    const data = pattern(PAGE, 1);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const addr = dmaMapSingle(nvme, m.mm.pageAddress(pfn), PAGE, DMA_TO_DEVICE);
    expect(addr).toBe(0xffff_f000);
    expect(firstDifference(nvme.hw.dmaRead(addr, PAGE), data)).toBe(-1);
    dmaUnmapSingle(nvme, addr, PAGE, DMA_TO_DEVICE);
  });

  it('prints a VT-d fault as the DMAR driver does', () => {
    const m = createMachine({ iommu: 'intel-iommu' });
    m.createDevice({ name: 'vga' });
    const nic = m.createDevice({ name: 'e1000' });
    const kva = m.mm.kmalloc(PAGE);
    if (kva === null) throw new Error('kmalloc');
    const addr = dmaMapSingle(nic, kva, PAGE, DMA_TO_DEVICE);
    expect(() => nic.hw.dmaWrite(addr, new Uint8Array(4))).toThrow(DmaFault);
    expect(() => nic.hw.dmaRead(addr - PAGE, 4)).toThrow(DmaFault);
    expect(dmesg(m)).toContain(`DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr 0x${addr.toString(16)} [fault reason 0x05] PTE Write access is not set`);
    expect(dmesg(m)).toContain(`DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x${(addr - PAGE).toString(16)} [fault reason 0x06] PTE Read access is not set`);
    expect(m.iommu?.stats().faults).toBe(2);
  });

  it('prints an AMD-Vi IO_PAGE_FAULT event', () => {
    const m = createMachine({ iommu: 'amd-iommu' });
    const nic = m.createDevice({ name: 'e1000' });
    expect(() => nic.hw.dmaWrite(0x1000, new Uint8Array(4))).toThrow(DmaFault);
    expect(dmesg(m)).toMatch(/e1000 0000:00:01\.0: Event logged \[IO_PAGE_FAULT domain=0x0001 address=0x1000 flags=0x0020\]/);
  });

  it('keeps the AMD HyperTransport window out of the IOVA space', () => {
    const m = createMachine({ iommu: 'amd-iommu' });
    const dev = m.createDevice({ name: 'gpu', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const domain = iommuGetDmaDomain(dev);
    if (domain === null) throw new Error('domain');
    const iovad = (domain.dmaCookie as IommuDmaCookie).iovad;
    expect(iovad.findIova(HT_RANGE_START / PAGE)).not.toBeNull();
    expect(iovad.findIova(0xfee0_0000 / PAGE)).not.toBeNull();
  });

  it('maps a scattered sg list to one segment and lets the device write it back to back', () => {
    const m = createMachine({ iommu: 'intel-iommu', iommuStrict: false });
    const dev = m.createDevice({ name: 'ahci' });
    const pfns = [0, 1, 2, 3].map(() => {
      const pfn = m.mm.allocPages(0);
      m.mm.allocPages(0);
      if (pfn === null) throw new Error('allocPages');
      return pfn;
    });
    const sgl = pfns.map((pfn) => ({ pfn, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSgAttrs(dev, sgl, 4, DMA_BIDIRECTIONAL)).toBe(1);
    const seg = sgl[0] as { dmaAddress: number; dmaLength: number };
    expect(seg.dmaLength).toBe(4 * PAGE);
    const data = pattern(4 * PAGE, 2);
    dev.hw.dmaWrite(seg.dmaAddress, data);
    pfns.forEach((pfn, i) => expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), PAGE), data.subarray(i * PAGE, (i + 1) * PAGE))).toBe(-1));
    const domain = iommuGetDmaDomain(dev);
    if (domain === null) throw new Error('domain');
    expect(iommuIovaToPhys(domain, seg.dmaAddress + 3 * PAGE)).toBe((pfns[3] as number) * PAGE);
    dmaUnmapSgAttrs(dev, sgl, 4, DMA_BIDIRECTIONAL);
    expect(m.iommu?.stats().pendingFlushes).toBe(1);
  });

  it('AMD-Vi: passthrough devices get nommu (no bouncing), unhandled ones swiotlb, the rest iommu_dma_ops', () => {
    const m = createMachine({ iommu: 'amd-iommu', iommuPassthrough: true, memory: 8 * GIB });
    const pt = m.createDevice({ name: 'pt', dmaBits: 32 });
    const outside = m.createDevice({ name: 'outside', dmaBits: 32, iommu: false });
    const translated = m.createDevice({ name: 'translated', dmaBits: 32, iommu: true });
    expect(getDmaOps(pt).name).toBe('dma-direct');
    expect(getDmaOps(outside).name).toBe('dma-direct');
    expect(getDmaOps(translated).name).toBe('iommu_dma_ops');
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    expect(pfn * PAGE).toBeGreaterThanOrEqual(4 * GIB);
    const kva = m.mm.pageAddress(pfn);
    // nommu_map_page: the passthrough device cannot reach it, and nothing bounces for it.
    expect(dmaMapSingle(pt, kva, PAGE, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    // A device AMD-Vi does not handle brings swiotlb back ("unhandled && max_pfn > MAX_DMA32_PFN").
    const bounced = dmaMapSingle(outside, kva, PAGE, DMA_TO_DEVICE);
    expect(bounced).toBeLessThan(4 * GIB);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(PAGE);
    dmaUnmapSingle(outside, bounced, PAGE, DMA_TO_DEVICE);
    expect(dmaMapSingle(translated, kva, PAGE, DMA_TO_DEVICE)).toBe(0xffff_f000);
    // A 64-bit passthrough device reaches everything: the bus address is the physical address.
    const wide = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    expect(dmaMapSingle(wide, kva, PAGE, DMA_TO_DEVICE)).toBe(pfn * PAGE);
  });

  it('VT-d: under iommu=pt a device whose mask cannot cover memory leaves the identity domain at its first mapping', () => {
    const m = createMachine({ iommu: 'intel-iommu', iommuPassthrough: true, memory: 8 * GIB });
    const wide = m.createDevice({ name: 'nvme', dmaBits: 64 });
    const narrow = m.createDevice({ name: 'uhci', dmaBits: 32 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    expect(getDmaOps(wide).name).toBe('intel_dma_ops');
    expect(getDmaOps(narrow).name).toBe('intel_dma_ops');
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const data = pattern(PAGE, 3);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const kva = m.mm.pageAddress(pfn);
    expect(dmaMapSingle(wide, kva, PAGE, DMA_TO_DEVICE)).toBe(pfn * PAGE);
    expect(getDmaOps(wide).name).toBe('intel_dma_ops');
    const addr = dmaMapSingle(narrow, kva, PAGE, DMA_TO_DEVICE);
    expect(dmesg(m)).toContain('32bit 0000:00:02.0 uses non-identity mapping');
    expect(getDmaOps(narrow).name).toBe('iommu_dma_ops');
    expect(addr).toBe(0xffff_f000);
    expect(firstDifference(narrow.hw.dmaRead(addr, PAGE), data)).toBe(-1);
    dmaUnmapSingle(narrow, addr, PAGE, DMA_TO_DEVICE);
    expect(() => narrow.hw.dmaRead(pfn * PAGE, 4)).toThrow(DmaFault);
    // On a machine a 32-bit mask covers, the device stays identity-mapped.
    const small = createMachine({ iommu: 'intel-iommu', iommuPassthrough: true });
    const dev = small.createDevice({ name: 'uhci' });
    const low = small.mm.kmalloc(64);
    if (low === null) throw new Error('kmalloc');
    expect(dmaMapSingle(dev, low, 64, DMA_TO_DEVICE)).toBe(small.mm.virtToPhys(low));
    expect(getDmaOps(dev).name).toBe('intel_dma_ops');
  });
});

