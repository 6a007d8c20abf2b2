import { describe, expect, it } from '@jest/globals';
import { DmaFault } from '@kdma/hw';
import { buildMachine } from '@kdma/dma-mapping/ops';
import { pattern } from '@kdma/testkit';
import { IOMMU_READ, IOMMU_WRITE } from './io-pgtable.js';
import { iommuOf } from './iommu-device.js';
import {
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_FAULT_WRITE,
  iommuAttachDevice,
  iommuAttachGroup,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuFlushIotlbAll,
  iommuGetDmaDomain,
  iommuGetDomainForDev,
  iommuGroupAddDevice,
  iommuGroupGet,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuMapSg,
  iommuSetFaultHandler,
  iommuUnmap,
  iommuUnmapFast,
  type IommuDomain,
} from './iommu.js';
import { createBoard, createPc, dmesgText, pcDescription, SZ_2M, SZ_4K } from './test-machine.js';
import type { Machine } from '@kdma/dma-mapping';

const RW = IOMMU_READ | IOMMU_WRITE;

function unmanaged(m: Machine): IommuDomain {
  const domain = iommuDomainAlloc(m);
  if (domain === null) throw new Error('iommuDomainAlloc');
  return domain;
}

function page(m: Machine): number {
  const pfn = m.mm.allocPages(0);
  if (pfn === null) throw new Error('allocPages');
  return pfn * m.pageSize;
}

describe('IOMMU core: domains and groups', () => {
  it('gives every device a group and a default DMA domain, and no domain without an IOMMU', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'nic' });
    const group = iommuGroupGet(dev);
    expect(group?.devices).toEqual([dev]);
    expect(iommuGetDomainForDev(dev)).toBe(iommuGetDmaDomain(dev));
    const plain = buildMachine(pcDescription, {});
    expect(plain.iommu).toBeNull();
    expect(iommuDomainAlloc(plain)).toBeNull();
  });

  it('attaches a device to an unmanaged domain and back to its default domain on detach', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'gpu' });
    const outsider = m.createDevice({ name: 'legacy', iommu: false });
    const domain = unmanaged(m);
    expect(domain.type).toBe(IOMMU_DOMAIN_UNMANAGED);
    expect(iommuAttachDevice(domain, dev)).toBe(0);
    expect(iommuGetDomainForDev(dev)).toBe(domain);
    expect(iommuAttachDevice(unmanaged(m), dev)).toBe(-16); // -EBUSY: someone else owns it
    expect(iommuAttachDevice(domain, outsider)).toBe(-19); // -ENODEV: not behind the IOMMU
    expect(() => iommuDomainFree(domain)).toThrow(/still attached/);
    iommuDetachDevice(domain, dev);
    expect(iommuGetDomainForDev(dev)).toBe(iommuGetDmaDomain(dev));
    iommuDomainFree(domain);
    expect(() => iommuMap(domain, 0, 0, SZ_4K, RW)).toThrow(/freed/);
  });
});

describe('IOMMU core: groups of devices', () => {
  it('moves a device into another group, which then attaches only as a whole', () => {
    const m = createPc();
    const fn0 = m.createDevice({ name: 'fn0' });
    const fn1 = m.createDevice({ name: 'fn1' });
    const group = iommuGroupGet(fn0);
    if (group === null) throw new Error('group');
    expect(iommuGroupAddDevice(group, fn1)).toBe(0);
    expect(iommuGroupGet(fn1)).toBe(group);
    const domain = unmanaged(m);
    expect(iommuAttachDevice(domain, fn0)).toBe(-22); // -EINVAL: not alone in its group
    expect(iommuAttachGroup(domain, group)).toBe(0);
    const pa = page(m);
    expect(iommuMap(domain, 0x7000_0000, pa, SZ_4K, RW)).toBe(0);
    fn0.hw.dmaWrite(0x7000_0000, new Uint8Array([1, 2]));
    expect(fn1.hw.dmaRead(0x7000_0000, 2)).toEqual(new Uint8Array([1, 2]));
  });
});

describe('IOMMU core: iommu_map / iommu_unmap', () => {
  it('maps scattered pages at consecutive IOVAs and translates them back', () => {
    const m = createPc();
    const domain = unmanaged(m);
    const pages = [page(m), page(m), page(m)];
    pages.forEach((pa, i) => expect(iommuMap(domain, 0x10_0000 + i * SZ_4K, pa, SZ_4K, RW)).toBe(0));
    expect(iommuIovaToPhys(domain, 0x10_0000 + SZ_4K + 123)).toBe((pages[1] as number) + 123);
    expect(iommuIovaToPhys(domain, 0x10_0000 + 3 * SZ_4K)).toBe(0);
    expect(m.iommu?.stats().mappedBytes).toBe(3 * SZ_4K);
    expect(iommuUnmap(domain, 0x10_0000, 3 * SZ_4K)).toBe(3 * SZ_4K);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('rejects a range not aligned to the smallest page with -EINVAL and says why', () => {
    const m = createPc();
    const domain = unmanaged(m);
    expect(iommuMap(domain, 0x1000, 0x2200, SZ_4K, RW)).toBe(-22);
    expect(dmesgText(m)).toMatch(/unaligned: iova 0x1000 pa 0x2200 size 0x1000 min_pagesz 0x1000/);
    expect(iommuUnmap(domain, 0x1800, SZ_4K)).toBe(0);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('fails an overlapping map on LPAE and undoes the part it had mapped; VT-d keeps the old PTE', () => {
    const m = createBoard();
    const domain = unmanaged(m);
    const base = 64 * SZ_2M;
    expect(iommuMap(domain, 0x40_2000, base, SZ_4K, RW)).toBe(0);
    // The second map runs into the first one's page after two pages.
    expect(iommuMap(domain, 0x40_0000, base + SZ_2M, 4 * SZ_4K, RW)).toBe(-17); // -EEXIST
    expect(iommuIovaToPhys(domain, 0x40_0000)).toBe(0);
    expect(iommuIovaToPhys(domain, 0x40_1000)).toBe(0);
    expect(iommuIovaToPhys(domain, 0x40_2000)).toBe(base);
    expect(m.iommu?.stats().mappedBytes).toBe(SZ_4K);

    // intel-iommu's __domain_mapping: "DMA PTE for vPFN … already set", and the old PTE stays.
    const pc = createPc();
    const vtd = unmanaged(pc);
    expect(iommuMap(vtd, 0x40_2000, base, SZ_4K, RW)).toBe(0);
    iommuMap(vtd, 0x40_0000, base + SZ_2M, 4 * SZ_4K, RW);
    expect(iommuIovaToPhys(vtd, 0x40_2000)).toBe(base);
  });

  it('maps 2M-aligned ranges with 2M blocks, so a 4K unmap inside takes the whole block', () => {
    const m = createPc({ memory: 64 * 2 ** 20 });
    const domain = unmanaged(m);
    const pfn = m.mm.allocPages(9);
    if (pfn === null) throw new Error('allocPages');
    const pa = pfn * SZ_4K;
    expect(pa % SZ_2M).toBe(0);
    expect(iommuMap(domain, 4 * SZ_2M, pa, SZ_2M, RW)).toBe(0);
    expect(iommuIovaToPhys(domain, 4 * SZ_2M + 0x1234_5)).toBe(pa + 0x1234_5);
    expect(iommuUnmap(domain, 4 * SZ_2M + 16 * SZ_4K, SZ_4K)).toBe(SZ_2M);
    expect(iommuIovaToPhys(domain, 4 * SZ_2M)).toBe(0);
  });

  it('joins physically contiguous scatterlist entries in iommu_map_sg', () => {
    const m = createPc();
    const domain = unmanaged(m);
    const pfn = m.mm.allocPages(1);
    const other = m.mm.allocPages(0);
    if (pfn === null || other === null) throw new Error('allocPages');
    const sgl = [
      { pfn, offset: 0, length: SZ_4K, dmaAddress: 0, dmaLength: 0 },
      { pfn: pfn + 1, offset: 0, length: SZ_4K, dmaAddress: 0, dmaLength: 0 },
      { pfn: other, offset: 0, length: SZ_4K, dmaAddress: 0, dmaLength: 0 },
    ];
    expect(iommuMapSg(domain, 0x20_0000, sgl, 3, RW)).toBe(3 * SZ_4K);
    expect(iommuIovaToPhys(domain, 0x20_1000)).toBe((pfn + 1) * SZ_4K);
    expect(iommuIovaToPhys(domain, 0x20_2000)).toBe(other * SZ_4K);
  });
});

describe('IOMMU core: the device side', () => {
  it('translates device accesses through the IOTLB, counting hits and misses', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'dma0' });
    const domain = unmanaged(m);
    expect(iommuAttachDevice(domain, dev)).toBe(0);
    const a = page(m);
    const b = page(m);
    expect(iommuMap(domain, 0x8000_0000, a, SZ_4K, RW)).toBe(0);
    expect(iommuMap(domain, 0x8000_1000, b, SZ_4K, RW)).toBe(0);
    const data = pattern(2 * SZ_4K, 1);
    dev.hw.dmaWrite(0x8000_0000, data);
    expect(m.hw.cpuRead(a, SZ_4K, 'normal')).toEqual(data.subarray(0, SZ_4K));
    expect(m.hw.cpuRead(b, SZ_4K, 'normal')).toEqual(data.subarray(SZ_4K));
    expect(m.iommu?.stats()).toMatchObject({ iotlbMisses: 2, iotlbHits: 0 });
    expect(dev.hw.dmaRead(0x8000_0800, SZ_4K)).toEqual(data.subarray(0x800, 0x1800));
    expect(m.iommu?.stats()).toMatchObject({ iotlbMisses: 2, iotlbHits: 2 });
  });

  it('faults outside the mappings and on the wrong direction, reporting each fault', () => {
    const m = createBoard();
    const dev = m.createDevice({ name: 'isp' });
    const domain = unmanaged(m);
    expect(iommuAttachDevice(domain, dev)).toBe(0);
    expect(iommuMap(domain, 0x1000_0000, page(m), SZ_4K, IOMMU_READ)).toBe(0);
    expect(() => dev.hw.dmaRead(0x1000_1000, 16)).toThrow(DmaFault);
    expect(m.hw.faults.at(-1)).toMatchObject({ kind: 'translation', busAddr: 0x1000_1000, device: 'isp' });
    // A read-only (TO_DEVICE-like) page refuses a write and writes nothing.
    expect(() => dev.hw.dmaWrite(0x1000_0000, new Uint8Array(8).fill(7))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(m.iommu?.stats().faults).toBe(2);
    expect(dmesgText(m)).toMatch(/Unhandled context fault: iova=0x10001000 translation/);
    expect(dmesgText(m)).toMatch(/iova=0x10000000 permission/);

    const seen: [number, number][] = [];
    iommuSetFaultHandler(domain, (_d, faulting, iova, flags) => {
      expect(faulting).toBe(dev);
      seen.push([iova, flags]);
      return 0;
    });
    const lines = dmesgText(m).split('\n').length;
    expect(() => dev.hw.dmaWrite(0x1000_0000, new Uint8Array(8))).toThrow(DmaFault);
    expect(seen).toEqual([[0x1000_0000, IOMMU_FAULT_WRITE]]);
    // Handled: the driver prints nothing more.
    expect(dmesgText(m).split('\n').length).toBe(lines);
  });

  it('invalidates at once on iommu_unmap, and leaves a stale IOTLB entry usable after iommu_unmap_fast until the sync', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'dma0' });
    const domain = unmanaged(m);
    expect(iommuAttachDevice(domain, dev)).toBe(0);
    const pa = page(m);
    expect(iommuMap(domain, 0x9000_0000, pa, SZ_4K, RW)).toBe(0);
    dev.hw.dmaRead(0x9000_0000, 64); // fills the IOTLB
    const flushes = m.iommu?.stats().flushes ?? 0;
    expect(iommuUnmap(domain, 0x9000_0000, SZ_4K)).toBe(SZ_4K);
    expect(m.iommu?.stats().flushes).toBe(flushes + 1);
    expect(() => dev.hw.dmaRead(0x9000_0000, 64)).toThrow(expect.objectContaining({ kind: 'translation' }));

    expect(iommuMap(domain, 0x9000_0000, pa, SZ_4K, RW)).toBe(0);
    dev.hw.dmaRead(0x9000_0000, 64);
    const gather = iommuIotlbGatherInit();
    expect(iommuUnmapFast(domain, 0x9000_0000, SZ_4K, gather)).toBe(SZ_4K);
    expect(iommuIovaToPhys(domain, 0x9000_0000)).toBe(0);
    // The page table no longer maps it, but the IOTLB still does.
    expect(dev.hw.dmaRead(0x9000_0000, 64)).toHaveLength(64);
    iommuIotlbSync(domain, gather);
    expect(() => dev.hw.dmaRead(0x9000_0000, 64)).toThrow(DmaFault);

    expect(iommuMap(domain, 0x9000_0000, pa, SZ_4K, RW)).toBe(0);
    dev.hw.dmaRead(0x9000_0000, 64);
    iommuUnmapFast(domain, 0x9000_0000, SZ_4K, iommuIotlbGatherInit());
    iommuFlushIotlbAll(domain);
    expect(() => dev.hw.dmaRead(0x9000_0000, 64)).toThrow(DmaFault);
  });

  it('registers the hardware as machine.iommu', () => {
    const m = createBoard();
    expect(iommuOf(m)?.name).toBe('test-smmu');
    expect(m.iommu?.stats()).toEqual({ iotlbHits: 0, iotlbMisses: 0, faults: 0, mappedBytes: 0, flushes: 0, pendingFlushes: 0 });
  });
});
