import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaAllocNoncontiguous,
  dmaAllocPages,
  dmaBitMask,
  dmaFreeAttrs,
  dmaFreeNoncontiguous,
  dmaFreePages,
  dmaGetMergeBoundary,
  dmaGetSgtableAttrs,
  dmaMapPage,
  dmaMapSgAttrs,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaMmapAttrs,
  dmaOptMappingSize,
  dmaSetMaskAndCoherent,
  dmaSupported,
  dmaSyncSingleForCpu,
  dmaUnmapPage,
  dmaUnmapSgAttrs,
  dmaUnmapSingle,
  dmaVmapNoncontiguous,
  type Device,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { CpuFault } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import { dmaInfoToProt, type IommuDmaCookie } from './dma-iommu.js';
import { IOMMU_CACHE, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './io-pgtable.js';
import { IOMMU_DOMAIN_IDENTITY, iommuGetDmaDomain, iommuGetDomainForDev, iommuIovaToPhys, type IommuDomain } from './iommu.js';
import { ARM_RAM_BASE, createBoard, createPc, dmesgText } from './test-machine.js';

const PAGE = 4096;
const MiB = 2 ** 20;

function entry(pfn: number, offset: number, length: number): Scatterlist {
  return { pfn, offset, length, dmaAddress: 0, dmaLength: 0 };
}

/** Single pages with a page held between each two, so none is next to another. */
function scatteredPages(m: Machine, count: number): number[] {
  return Array.from({ length: count }, () => {
    const pfn = m.mm.allocPages(0);
    const spacer = m.mm.allocPages(0);
    if (pfn === null || spacer === null) throw new Error('allocPages');
    return pfn;
  });
}

function domainOf(dev: Device): IommuDomain {
  const domain = iommuGetDmaDomain(dev);
  if (domain === null) throw new Error('no DMA domain');
  return domain;
}

/** Takes every free page, then gives back those at even pfns: nothing larger than a page is free. */
function fragment(m: Machine): void {
  const taken: number[] = [];
  for (let pfn = m.mm.allocPages(0); pfn !== null; pfn = m.mm.allocPages(0, 0x200)) taken.push(pfn);
  for (const pfn of taken) if (pfn % 2 === 0) m.mm.freePages(pfn, 0);
}

describe('dma-iommu: streaming mappings', () => {
  it('keeps the sub-granule offset of map_page, below 4 GiB first for a PCI device', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'nic' });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    const [pfn] = scatteredPages(m, 1) as [number];
    const data = pattern(300, 1);
    m.cpu.write(m.mm.pageAddress(pfn) + 0x234, data);
    const addr = dmaMapPage(dev, pfn, 0x234, 300, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr % PAGE).toBe(0x234);
    // Top-down from the 32-bit limit, as the traces show (iova 0xfffff000 first).
    expect(addr).toBe(0xffff_f000 + 0x234);
    expect(dev.hw.dmaRead(addr, 300)).toEqual(data);
    expect(iommuIovaToPhys(domainOf(dev), addr)).toBe(pfn * PAGE + 0x234);
    dmaUnmapPage(dev, addr, 300, DMA_TO_DEVICE);
  });

  it('uses the whole mask once the 32-bit IOVA space is full, and says so', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'nvme' });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(64))).toBe(0);
    (domainOf(dev).dmaCookie as IommuDmaCookie).iovad.reserveIova(1, 0xf_ffff);
    const [pfn] = scatteredPages(m, 1) as [number];
    const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBeGreaterThanOrEqual(2 ** 32);
    expect(dmesgText(m)).toMatch(/nvme: Using 48-bit DMA addresses/);
  });

  it('maps pages from separate allocPages calls, with holes between them, to one DMA segment the device reads back to back', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'sata' });
    const pfns = scatteredPages(m, 8);
    const sgl = pfns.map((pfn) => entry(pfn, 0, PAGE));
    const data = pattern(8 * PAGE, 2);
    pfns.forEach((pfn, i) => m.cpu.write(m.mm.pageAddress(pfn), data.subarray(i * PAGE, (i + 1) * PAGE)));
    expect(dmaMapSgAttrs(dev, sgl, 8, DMA_TO_DEVICE)).toBe(1);
    const seg = sgl[0] as Scatterlist;
    expect(seg.dmaLength).toBe(8 * PAGE);
    expect(sgl.slice(1).every((sg) => sg.dmaLength === 0)).toBe(true);
    expect(firstDifference(dev.hw.dmaRead(seg.dmaAddress, 8 * PAGE), data)).toBe(-1);
    // The CPU side of the list is as it was.
    expect(sgl.map((sg) => [sg.pfn, sg.offset, sg.length])).toEqual(pfns.map((pfn) => [pfn, 0, PAGE]));
    dmaUnmapSgAttrs(dev, sgl, 8, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaRead(seg.dmaAddress, 16)).toThrow(DmaFault);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('merges segments as __finalise_sg does: max segment size, segment boundary, entries off granule boundaries', () => {
    const m = createPc();
    const pfns = scatteredPages(m, 4);
    const short = m.createDevice({ name: 'short', maxSegmentSize: 2 * PAGE });
    const sgl = pfns.map((pfn) => entry(pfn, 0, PAGE));
    expect(dmaMapSgAttrs(short, sgl, 4, DMA_TO_DEVICE)).toBe(2);
    expect(sgl.map((sg) => sg.dmaLength)).toEqual([2 * PAGE, 2 * PAGE, 0, 0]);
    expect((sgl[1] as Scatterlist).dmaAddress).toBe((sgl[0] as Scatterlist).dmaAddress + 2 * PAGE);
    dmaUnmapSgAttrs(short, sgl, 4, DMA_TO_DEVICE);

    // A 8 KiB boundary: no segment may cross it, so the list splits at it.
    const bounded = m.createDevice({ name: 'bounded', segmentBoundaryMask: 2 * PAGE - 1, maxSegmentSize: MiB });
    const sgb = pfns.map((pfn) => entry(pfn, 0, PAGE));
    expect(dmaMapSgAttrs(bounded, sgb, 4, DMA_TO_DEVICE)).toBe(2);
    for (const sg of sgb.slice(0, 2)) expect(Math.floor(sg.dmaAddress / (2 * PAGE))).toBe(Math.floor((sg.dmaAddress + sg.dmaLength - 1) / (2 * PAGE)));
    dmaUnmapSgAttrs(bounded, sgb, 4, DMA_TO_DEVICE);

    // A short entry closes its segment; an entry starting inside a granule opens a new one there.
    const dev = m.createDevice({ name: 'dev' });
    const mixed = [entry(pfns[0] as number, 0, PAGE), entry(pfns[1] as number, 0, 100), entry(pfns[2] as number, 0, PAGE), entry(pfns[3] as number, 512, 1000)];
    expect(dmaMapSgAttrs(dev, mixed, 4, DMA_BIDIRECTIONAL)).toBe(3);
    const base = (mixed[0] as Scatterlist).dmaAddress;
    expect(mixed.map((sg) => [sg.dmaAddress - base, sg.dmaLength])).toEqual([
      [0, PAGE + 100],
      [2 * PAGE, PAGE],
      [3 * PAGE + 512, 1000],
      [-1 - base, 0],
    ]);
    const bytes = pattern(1000, 9);
    dev.hw.dmaWrite((mixed[2] as Scatterlist).dmaAddress, bytes);
    expect(m.cpu.read(m.mm.pageAddress(pfns[3] as number) + 512, 1000)).toEqual(bytes);
    dmaUnmapSgAttrs(dev, mixed, 4, DMA_BIDIRECTIONAL);
  });

  it('keeps map_sg’s promise for any list: the segments, read in order, are the entries back to back, within the limits', () => {
    const m = createPc({ memory: 32 * MiB });
    const pool = scatteredPages(m, 64);
    const pageData = pool.map((pfn, i) => {
      const bytes = pattern(2 * PAGE, i);
      m.cpu.write(m.mm.pageAddress(pfn), bytes.subarray(0, PAGE));
      return bytes.subarray(0, PAGE);
    });
    let n = 0;
    const entryArb = fc.record({ page: fc.integer({ min: 0, max: 63 }), offset: fc.integer({ min: 0, max: PAGE - 1 }), length: fc.integer({ min: 1, max: PAGE }) });
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(PAGE, 2 * PAGE, 3 * PAGE + 512, 64 * 1024),
        fc.constantFrom(Number.MAX_SAFE_INTEGER, 4 * PAGE - 1, 8 * PAGE - 1),
        (entries, maxSegmentSize, segmentBoundaryMask) => {
          const dev = m.createDevice({ name: `prop${n++}`, maxSegmentSize, segmentBoundaryMask });
          const sgl = entries.map((e) => entry(pool[e.page] as number, e.offset, Math.min(e.length, PAGE - e.offset)));
          const expected = new Uint8Array(sgl.reduce((sum, sg) => sum + sg.length, 0));
          let at = 0;
          sgl.forEach((sg, i) => {
            expected.set(pageData[(entries[i] as { page: number }).page]!.subarray(sg.offset, sg.offset + sg.length), at);
            at += sg.length;
          });
          const count = dmaMapSgAttrs(dev, sgl, sgl.length, DMA_TO_DEVICE);
          expect(count).toBeGreaterThan(0);
          const seen = new Uint8Array(expected.length);
          at = 0;
          for (const sg of sgl.slice(0, count)) {
            expect(sg.dmaLength).toBeLessThanOrEqual(Math.max(maxSegmentSize, PAGE));
            const boundary = segmentBoundaryMask + 1;
            expect(Math.floor(sg.dmaAddress / boundary)).toBe(Math.floor((sg.dmaAddress + sg.dmaLength - 1) / boundary));
            dev.hw.dmaReadInto(sg.dmaAddress, seen.subarray(at, at + sg.dmaLength));
            at += sg.dmaLength;
          }
          expect(at).toBe(expected.length);
          expect(firstDifference(seen, expected)).toBe(-1);
          expect(sgl.slice(count).every((sg) => sg.dmaLength === 0)).toBe(true);
          dmaUnmapSgAttrs(dev, sgl, sgl.length, DMA_TO_DEVICE);
          expect(m.iommu?.stats().mappedBytes).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('maps by direction: a device writing a TO_DEVICE buffer faults; reading a FROM_DEVICE one faults where the PTEs can say so', () => {
    for (const [m, readOfWriteOnlyFaults] of [
      [createBoard(), false], // LPAE stage 1 has no write-only pages: IOMMU_WRITE alone maps read/write
      [createPc(), true], // VT-d second level has separate read and write bits
    ] as const) {
      const dev = m.createDevice({ name: 'camera' });
      const kva = m.mm.kmalloc(PAGE);
      if (kva === null) throw new Error('kmalloc');
      const out = dmaMapSingle(dev, kva, PAGE, DMA_TO_DEVICE);
      expect(() => dev.hw.dmaWrite(out, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission', write: true }));
      dev.hw.dmaRead(out, 4);
      dmaUnmapSingle(dev, out, PAGE, DMA_TO_DEVICE);
      const into = dmaMapSingle(dev, kva, PAGE, DMA_FROM_DEVICE);
      if (readOfWriteOnlyFaults) expect(() => dev.hw.dmaRead(into, 4)).toThrow(expect.objectContaining({ kind: 'permission', write: false }));
      else expect(dev.hw.dmaRead(into, 4)).toHaveLength(4);
      dev.hw.dmaWrite(into, new Uint8Array(4));
      dmaUnmapSingle(dev, into, PAGE, DMA_FROM_DEVICE);
      expect(m.iommu?.stats().faults).toBe(readOfWriteOnlyFaults ? 2 : 1);
    }
  });

  it('turns direction, coherence and DMA_ATTR_PRIVILEGED into PTE permissions', () => {
    expect(dmaInfoToProt(DMA_TO_DEVICE, false, 0)).toBe(IOMMU_READ);
    expect(dmaInfoToProt(DMA_FROM_DEVICE, false, 0)).toBe(IOMMU_WRITE);
    expect(dmaInfoToProt(DMA_BIDIRECTIONAL, true, DMA_ATTR_PRIVILEGED)).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_PRIV);
    expect(dmaInfoToProt(DMA_NONE, true, 0)).toBe(0);
  });

  it('faults on any access outside the mappings, and at once after an unmap in strict mode', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'nic' });
    const kva = m.mm.kmalloc(PAGE);
    if (kva === null) throw new Error('kmalloc');
    // Bus address = physical address is not how this device sees memory any more.
    expect(() => dev.hw.dmaRead(m.mm.virtToPhys(kva), 64)).toThrow(DmaFault);
    const addr = dmaMapSingle(dev, kva, PAGE, DMA_BIDIRECTIONAL);
    expect(() => dev.hw.dmaRead(addr - PAGE, 64)).toThrow(expect.objectContaining({ kind: 'translation', busAddr: addr - PAGE }));
    dev.hw.dmaRead(addr, 64);
    dmaUnmapSingle(dev, addr, PAGE, DMA_BIDIRECTIONAL);
    expect(m.iommu?.stats().pendingFlushes).toBe(0);
    expect(() => dev.hw.dmaRead(addr, 64)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.iommu?.stats().faults).toBe(3);
    expect(m.hw.faults).toHaveLength(3);
    expect(dmesgText(m)).toMatch(/DMAR: \[DMA Read NO_PASID\] Request device \[00:00\.0\] fault addr 0x/);
  });

  it('leaves a stale IOTLB entry usable in lazy mode until the flush queue drains 10 ms later', () => {
    const m = createPc({ iommuStrict: false });
    const dev = m.createDevice({ name: 'nic' });
    const kva = m.mm.kmalloc(PAGE);
    if (kva === null) throw new Error('kmalloc');
    const secret = pattern(64, 3);
    m.cpu.write(kva, secret);
    const addr = dmaMapSingle(dev, kva, PAGE, DMA_BIDIRECTIONAL);
    dev.hw.dmaRead(addr, 64);
    dmaUnmapSingle(dev, addr, PAGE, DMA_BIDIRECTIONAL);
    const flushes = m.iommu?.stats().flushes ?? 0;
    expect(m.iommu?.stats().pendingFlushes).toBe(1);
    // The window: the driver gave the buffer back, yet the device still reaches it.
    expect(dev.hw.dmaRead(addr, 64)).toEqual(secret);
    m.clock.advance(10_000_000 - 1);
    expect(dev.hw.dmaRead(addr, 64)).toEqual(secret);
    m.clock.advance(1);
    expect(m.iommu?.stats()).toMatchObject({ pendingFlushes: 0, flushes: flushes + 1 });
    expect(() => dev.hw.dmaRead(addr, 64)).toThrow(DmaFault);
  });

  it('flushes a lazy domain when a CPU’s 256-entry queue is full', () => {
    const m = createPc({ iommuStrict: false });
    const dev = m.createDevice({ name: 'nic' });
    const [pfn] = scatteredPages(m, 1) as [number];
    const cycle = () => dmaUnmapPage(dev, dmaMapPage(dev, pfn, 0, PAGE, DMA_TO_DEVICE), PAGE, DMA_TO_DEVICE);
    for (let i = 0; i < 255; i++) cycle();
    m.runOn(1, cycle); // another CPU, another queue
    expect(m.iommu?.stats()).toMatchObject({ pendingFlushes: 256, flushes: 0 });
    cycle();
    expect(m.iommu?.stats()).toMatchObject({ pendingFlushes: 1, flushes: 1 });
  });

  it('cleans for the device and invalidates for the CPU when the device is not coherent', () => {
    const m = createBoard();
    const dev = m.createDevice({ name: 'vpu' });
    const kva = m.mm.kmalloc(2 * PAGE);
    if (kva === null) throw new Error('kmalloc');
    const data = pattern(2 * PAGE, 4);
    m.cpu.write(kva, data);
    const addr = dmaMapSingle(dev, kva, 2 * PAGE, DMA_BIDIRECTIONAL);
    expect(firstDifference(dev.hw.dmaRead(addr, 2 * PAGE), data)).toBe(-1);
    m.cpu.read(kva, 2 * PAGE); // lines the device's write would hide behind
    const fresh = pattern(2 * PAGE, 5);
    dev.hw.dmaWrite(addr, fresh);
    dmaSyncSingleForCpu(dev, addr, 2 * PAGE, DMA_BIDIRECTIONAL);
    expect(firstDifference(m.cpu.read(kva, 2 * PAGE), fresh)).toBe(-1);
    dmaUnmapSingle(dev, addr, 2 * PAGE, DMA_BIDIRECTIONAL);
  });

  it('reports the limits of IOMMU mappings', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'dev' });
    expect(dmaGetMergeBoundary(dev)).toBe(PAGE - 1);
    expect(dmaMaxMappingSize(dev)).toBe(Number.MAX_SAFE_INTEGER);
    expect(dmaOptMappingSize(dev)).toBe(128 * 1024);
    expect(dmaSupported(dev, dmaBitMask(20))).toBe(true);
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    const addr = dmaMapSingle(dev, m.mm.pageAddress(scatteredPages(m, 1)[0] as number), PAGE, DMA_TO_DEVICE);
    expect(addr + PAGE - 1).toBeLessThanOrEqual(dmaBitMask(24));
  });
});

describe('dma-iommu: coherent allocations', () => {
  it('allocates 4 MiB without a kernel mapping from fragmented memory: scattered pages, no vmalloc, mmap shows what the device wrote', () => {
    const m = createBoard({ memory: 32 * MiB });
    const dev = m.createDevice({ name: 'vb2' });
    const direct = m.createDevice({ name: 'plain', iommu: false });
    fragment(m);
    const size = 4 * MiB;
    expect(dmaAllocAttrs(direct, size, DMA_ATTR_NO_KERNEL_MAPPING)).toBeNull();
    const vmalloc = m.mm.stats().vmallocUsed;
    const buf = dmaAllocAttrs(dev, size, DMA_ATTR_NO_KERNEL_MAPPING);
    if (buf === null) throw new Error('dmaAllocAttrs');
    expect(m.mm.stats().vmallocUsed).toBe(vmalloc);
    expect(() => m.cpu.read(buf.cpuAddr, 1)).toThrow(CpuFault);
    const domain = domainOf(dev);
    const phys = Array.from({ length: size / PAGE }, (_, i) => iommuIovaToPhys(domain, buf.dmaHandle + i * PAGE));
    expect(phys.every((pa) => pa >= ARM_RAM_BASE)).toBe(true);
    expect(phys.some((pa, i) => i > 0 && pa === (phys[i - 1] as number) + PAGE)).toBe(false);

    const frame = pattern(size, 6);
    dev.hw.dmaWrite(buf.dmaHandle, frame);
    const process = m.createProcess();
    const uva = process.mmap(size, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, size, DMA_ATTR_NO_KERNEL_MAPPING));
    expect(process.pgprotAt(uva)).toBe('uncached');
    expect(firstDifference(process.read(uva, size), frame)).toBe(-1);
    process.munmap(uva, size);

    const sgt = dmaGetSgtableAttrs(dev, buf.cpuAddr, buf.dmaHandle, size, DMA_ATTR_NO_KERNEL_MAPPING);
    if (typeof sgt === 'number') throw new Error(`get_sgtable ${sgt}`);
    expect(sgt.origNents).toBe(size / PAGE);
    expect(sgt.sgl.map((sg) => sg.pfn * PAGE)).toEqual(phys);
    const free = m.mm.stats().freePages;
    dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(m.mm.stats().freePages).toBe(free + size / PAGE);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('takes the largest IOMMU page sizes first, single pages only with DMA_ATTR_ALLOC_SINGLE_PAGES', () => {
    const m = createBoard({ memory: 64 * MiB });
    const dev = m.createDevice({ name: 'gpu' });
    const spy = jest.spyOn(m.mm, 'allocPages');
    const big = dmaAllocAttrs(dev, 4 * MiB, DMA_ATTR_NO_KERNEL_MAPPING);
    if (big === null) throw new Error('alloc');
    expect(spy.mock.calls.map((call) => call[0])).toEqual([9, 9]);
    const domain = domainOf(dev);
    const first = iommuIovaToPhys(domain, big.dmaHandle);
    expect(first % (2 * MiB)).toBe(0);
    expect(iommuIovaToPhys(domain, big.dmaHandle + 511 * PAGE)).toBe(first + 511 * PAGE);
    spy.mockClear();
    const single = dmaAllocAttrs(dev, 64 * 1024, DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_ALLOC_SINGLE_PAGES);
    if (single === null) throw new Error('alloc');
    expect(new Set(spy.mock.calls.map((call) => call[0]))).toEqual(new Set([0]));
    expect(spy.mock.calls).toHaveLength(16);
    spy.mockRestore();
  });

  it('allocates DMA_ATTR_FORCE_CONTIGUOUS physically contiguous', () => {
    const m = createBoard();
    const dev = m.createDevice({ name: 'isp' });
    const buf = dmaAllocAttrs(dev, 64 * 1024, DMA_ATTR_FORCE_CONTIGUOUS);
    if (buf === null) throw new Error('alloc');
    const domain = domainOf(dev);
    const base = iommuIovaToPhys(domain, buf.dmaHandle);
    for (let i = 0; i < 16; i++) expect(iommuIovaToPhys(domain, buf.dmaHandle + i * PAGE)).toBe(base + i * PAGE);
    expect(m.mm.memoryTypeAt(buf.cpuAddr)).toBe('uncached');
    dmaFreeAttrs(dev, 64 * 1024, buf.cpuAddr, buf.dmaHandle, DMA_ATTR_FORCE_CONTIGUOUS);
  });

  it('maps the kernel side only when needed: vmap with the coherent attributes for a non-coherent device', () => {
    const m = createBoard();
    const dev = m.createDevice({ name: 'fb' });
    const snoop = m.createDevice({ name: 'acp', coherent: true });
    const before = m.mm.stats().vmallocUsed;
    const wc = dmaAllocAttrs(dev, 3 * PAGE, DMA_ATTR_WRITE_COMBINE);
    if (wc === null) throw new Error('alloc');
    expect(m.mm.stats().vmallocUsed).toBeGreaterThan(before);
    expect(m.mm.memoryTypeAt(wc.cpuAddr)).toBe('wc');
    // The CPU reads zeroes and what the device writes, through the remap.
    expect(firstDifference(m.cpu.read(wc.cpuAddr, 3 * PAGE), new Uint8Array(3 * PAGE))).toBe(-1);
    const data = pattern(3 * PAGE, 7);
    dev.hw.dmaWrite(wc.dmaHandle, data);
    expect(firstDifference(m.cpu.read(wc.cpuAddr, 3 * PAGE), data)).toBe(-1);
    dmaFreeAttrs(dev, 3 * PAGE, wc.cpuAddr, wc.dmaHandle, DMA_ATTR_WRITE_COMBINE);
    expect(m.mm.stats().vmallocUsed).toBe(before);

    const cached = dmaAllocAttrs(snoop, 2 * MiB, 0);
    if (cached === null) throw new Error('alloc');
    // One 2 MiB block: a coherent device can use the linear map.
    expect(m.mm.stats().vmallocUsed).toBe(before);
    expect(m.mm.memoryTypeAt(cached.cpuAddr)).toBe('normal');
    dmaFreeAttrs(snoop, 2 * MiB, cached.cpuAddr, cached.dmaHandle, 0);
  });

  it('allocates non-contiguous memory as one DMA segment', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'uvc' });
    scatteredPages(m, 64);
    const size = 64 * 1024;
    const sgt = dmaAllocNoncontiguous(dev, size, DMA_FROM_DEVICE);
    if (sgt === null) throw new Error('alloc');
    expect(sgt.nents).toBe(1);
    expect((sgt.sgl[0] as Scatterlist).dmaLength).toBe(size);
    const data = pattern(size, 8);
    dev.hw.dmaWrite((sgt.sgl[0] as Scatterlist).dmaAddress, data);
    const vaddr = dmaVmapNoncontiguous(dev, size, sgt);
    if (vaddr === null) throw new Error('vmap');
    expect(firstDifference(m.cpu.read(vaddr, size), data)).toBe(-1);
    dmaFreeNoncontiguous(dev, size, sgt, DMA_FROM_DEVICE);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('serves dma_alloc_pages through the IOMMU', () => {
    const m = createBoard();
    const dev = m.createDevice({ name: 'dsp' });
    const pages = dmaAllocPages(dev, 2 * PAGE, DMA_FROM_DEVICE);
    if (pages === null) throw new Error('alloc');
    expect(pages.dmaHandle).not.toBe(pages.pfn * PAGE);
    const data = pattern(2 * PAGE, 9);
    dev.hw.dmaWrite(pages.dmaHandle, data);
    dmaSyncSingleForCpu(dev, pages.dmaHandle, 2 * PAGE, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pages.pfn), 2 * PAGE), data)).toBe(-1);
    dmaFreePages(dev, 2 * PAGE, pages.pfn, pages.dmaHandle, DMA_FROM_DEVICE);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });
});

describe('dma-iommu: untrusted devices', () => {
  it('refuses a sub-granule mapping for an untrusted device when there are no bounce buffers, and maps whole granules', () => {
    const m = createPc();
    const dev = m.createDevice({ name: 'thunderbolt', untrusted: true });
    const kva = m.mm.kmalloc(PAGE);
    const small = m.mm.kmalloc(64);
    if (kva === null || small === null) throw new Error('kmalloc');
    expect(dmaMapSingle(dev, small, 64, DMA_TO_DEVICE)).toBe(-1);
    expect(dmesgText(m)).toMatch(/thunderbolt: DMA bounce buffers are inactive, unable to map unaligned transaction\./);
    const addr = dmaMapSingle(dev, kva, PAGE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    dmaUnmapSingle(dev, addr, PAGE, DMA_TO_DEVICE);
  });

  it('bounces a sub-granule buffer through a granule-aligned swiotlb slot, so the rest of its page stays out of reach', () => {
    const m = createPc({ swiotlb: { size: MiB } });
    const dev = m.createDevice({ name: 'thunderbolt', untrusted: true });
    expect(dmaMaxMappingSize(dev)).toBe(256 * 1024);
    const pfn = scatteredPages(m, 1)[0] as number;
    const page = m.mm.pageAddress(pfn);
    const secret = pattern(PAGE, 11);
    m.cpu.write(page, secret);
    const data = pattern(64, 12);
    m.cpu.write(page + 128, data);
    const addr = dmaMapPage(dev, pfn, 128, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(iommuIovaToPhys(domainOf(dev), addr)).not.toBe(pfn * PAGE + 128);
    expect(dev.hw.dmaRead(addr, 64)).toEqual(data);
    // The whole granule the device can reach: the bounced bytes and zeroes, none of the page's other bytes.
    const granule = dev.hw.dmaRead(addr - (addr % PAGE), PAGE);
    const offset = addr % PAGE;
    expect(granule.subarray(offset, offset + 64)).toEqual(data);
    expect(granule.every((byte, i) => (i >= offset && i < offset + 64) || byte === 0)).toBe(true);
    dmaUnmapPage(dev, addr, 64, DMA_TO_DEVICE);

    const into = dmaMapPage(dev, pfn, 256, 32, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(into, pattern(32, 13));
    dmaUnmapPage(dev, into, 32, DMA_FROM_DEVICE);
    expect(m.cpu.read(page + 256, 32)).toEqual(pattern(32, 13));
    expect(m.swiotlb?.stats()).toMatchObject({ usedSlots: 0, bouncedToDevice: expect.any(Number), bouncedFromDevice: 32 });

    // An sg list is mapped entry by entry, without merging.
    const pfns = scatteredPages(m, 2);
    const sgl = [entry(pfns[0] as number, 0, PAGE), entry(pfns[1] as number, 100, 200)];
    m.cpu.write(m.mm.pageAddress(pfns[1] as number) + 100, data.subarray(0, 64));
    expect(dmaMapSgAttrs(dev, sgl, 2, DMA_TO_DEVICE)).toBe(2);
    expect(dev.hw.dmaRead((sgl[1] as Scatterlist).dmaAddress, 64)).toEqual(data);
    dmaUnmapSgAttrs(dev, sgl, 2, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });
});

describe('dma-iommu: which devices use it', () => {
  it('gives a device behind the IOMMU iommu_dma_ops and one with iommu: false dma-direct, on one machine', () => {
    const m = createPc();
    const behind = m.createDevice({ name: 'behind' });
    const direct = m.createDevice({ name: 'direct', iommu: false });
    expect(getDmaOps(behind).name).toBe('iommu_dma_ops');
    expect(getDmaOps(direct).name).toBe('dma-direct');
    const kva = m.mm.kmalloc(256);
    if (kva === null) throw new Error('kmalloc');
    const data = pattern(256, 10);
    m.cpu.write(kva, data);
    const a = dmaMapSingle(behind, kva, 256, DMA_TO_DEVICE);
    const b = dmaMapSingle(direct, kva, 256, DMA_TO_DEVICE);
    expect(b).toBe(m.mm.virtToPhys(kva));
    expect(a).not.toBe(b);
    expect(behind.hw.dmaRead(a, 256)).toEqual(data);
    expect(direct.hw.dmaRead(b, 256)).toEqual(data);
    dmaUnmapSingle(behind, a, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(direct, b, 256, DMA_TO_DEVICE);
  });

  it('uses identity domains and dma-direct under iommuPassthrough, unless a device asks for iommu: true', () => {
    const m = createPc({ iommuPassthrough: true });
    const pt = m.createDevice({ name: 'pt' });
    const dma = m.createDevice({ name: 'dma', iommu: true });
    expect(iommuGetDomainForDev(pt)?.type).toBe(IOMMU_DOMAIN_IDENTITY);
    expect(getDmaOps(pt).name).toBe('dma-direct');
    expect(getDmaOps(dma).name).toBe('iommu_dma_ops');
    const kva = m.mm.kmalloc(64);
    if (kva === null) throw new Error('kmalloc');
    const addr = dmaMapSingle(pt, kva, 64, DMA_TO_DEVICE);
    expect(addr).toBe(m.mm.virtToPhys(kva));
    pt.hw.dmaRead(addr, 64);
    dmaUnmapSingle(pt, addr, 64, DMA_TO_DEVICE);
  });
});
