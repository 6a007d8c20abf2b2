import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSg,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaUnmapPage,
  dmaUnmapSg,
  EIO,
  type Device,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE } from '@kdma/swiotlb';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine, XEN_DMA_ERROR_CODE, XEN_RESERVED_FRAMES, xenOf, type XenPv } from './index.js';

const PAGE = 4096;
const GIB = 2 ** 30;

function setup(options: Parameters<typeof createMachine>[0] = {}): { m: Machine; dev: Device; xen: XenPv } {
  const m = createMachine({ platform: 'xen-pv', ...options });
  const dev = m.createDevice({ name: 'eth0' });
  return { m, dev, xen: xenOf(dev) };
}

/** A 4 MiB block of the guest's pages, and a page in it after which machine memory jumps (or does not). */
function findPair(m: Machine, xen: XenPv, contiguous: boolean): number {
  const block = m.mm.allocPages(10);
  if (block === null) throw new Error('allocPages');
  for (let pfn = block; pfn < block + 1023; pfn++) {
    if ((xen.p2m.pfnToMfn(pfn + 1) === xen.p2m.pfnToMfn(pfn) + 1) === contiguous) return pfn;
  }
  throw new Error('no such pair');
}

describe('Xen PV guest: pseudo-physical memory', () => {
  it('backs the guest with machine frames that are not contiguous (a seeded shuffle)', () => {
    const { m, xen } = setup();
    expect(xen.p2m.guestPages).toBe((2 * GIB) / PAGE);
    expect(xen.p2m.hostPages).toBe((4 * GIB) / PAGE);
    let jumps = 0;
    for (let pfn = 0; pfn < 4096; pfn++) if (xen.p2m.pfnToMfn(pfn + 1) !== xen.p2m.pfnToMfn(pfn) + 1) jumps++;
    expect(jumps).toBeGreaterThan(50);
    // Pairs from an even pfn stay together (the builder's extents are 8 KiB to 256 KiB).
    for (let pfn = 0; pfn < 4096; pfn += 2) expect(xen.p2m.pfnToMfn(pfn + 1)).toBe(xen.p2m.pfnToMfn(pfn) + 1);
    // Machine frame 0 is Xen's, never the guest's; the same seed gives the same guest.
    expect(xen.p2m.mfnToPfn(0)).toBe(-1);
    const again = xenOf(createMachine({ platform: 'xen-pv' }).createDevice({ name: 'x' }));
    expect(again.p2m.pfnToMfn(12345)).toBe(xen.p2m.pfnToMfn(12345));
    expect(xenOf(createMachine({ platform: 'xen-pv', seed: 7 }).createDevice({ name: 'x' })).p2m.pfnToMfn(12345)).not.toBe(xen.p2m.pfnToMfn(12345));
    expect(m.arch.platforms).toContain('xen-pv');
  });

  it('hands devices machine addresses, and the bus masters see machine memory', () => {
    const { m, dev, xen } = setup();
    expect(getDmaOps(dev).name).toBe('xen_swiotlb_dma_ops');
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const data = pattern(PAGE, 1);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const addr = dmaMapPage(dev, pfn, 0x100, 0x800, DMA_BIDIRECTIONAL);
    expect(addr).toBe(xen.p2m.pfnToMfn(pfn) * PAGE + 0x100);
    expect(addr).not.toBe(pfn * PAGE + 0x100);
    expect(firstDifference(dev.hw.dmaRead(addr, 0x800), data.subarray(0x100, 0x900))).toBe(-1);
    dev.hw.dmaWrite(addr, pattern(0x800, 2));
    dmaUnmapPage(dev, addr, 0x800, DMA_BIDIRECTIONAL);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn) + 0x100, 0x800), pattern(0x800, 2))).toBe(-1);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0);
    // A machine frame that is not the guest's: the access faults.
    let foreign = XEN_RESERVED_FRAMES;
    while (xen.p2m.mfnToPfn(foreign) >= 0) foreign++;
    expect(() => dev.hw.dmaRead(foreign * PAGE, 8)).toThrow(expect.objectContaining({ kind: 'bus' }));
  });

  it('bounces a two-page buffer across a machine discontiguity, and not a machine-contiguous one', () => {
    const { m, dev, xen } = setup();
    const data = pattern(2 * PAGE, 3);
    const split = findPair(m, xen, false);
    m.cpu.write(m.mm.pageAddress(split), data);
    const bounced = dmaMapPage(dev, split, 0, 2 * PAGE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, bounced)).toBe(0);
    expect(xen.isXenSwiotlbBuffer(bounced)).toBe(true);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(2 * PAGE);
    expect(firstDifference(dev.hw.dmaRead(bounced, 2 * PAGE), data)).toBe(-1);
    dmaUnmapPage(dev, bounced, 2 * PAGE, DMA_TO_DEVICE);

    const together = findPair(m, xen, true);
    m.cpu.write(m.mm.pageAddress(together), data);
    const direct = dmaMapPage(dev, together, 0, 2 * PAGE, DMA_TO_DEVICE);
    expect(direct).toBe(xen.p2m.pfnToMfn(together) * PAGE);
    expect(xen.isXenSwiotlbBuffer(direct)).toBe(false);
    expect(firstDifference(dev.hw.dmaRead(direct, 2 * PAGE), data)).toBe(-1);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(2 * PAGE);
  });

  it('bounces what lies beyond the device’s mask, and syncs the bounce buffer', () => {
    const { m, xen } = setup();
    const dev = m.createDevice({ name: 'old-nic', dmaBits: 31 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(31))).toBe(0);
    const block = m.mm.allocPages(10);
    if (block === null) throw new Error('allocPages');
    let pfn = block;
    while (xen.p2m.pfnToMfn(pfn) * PAGE < 2 ** 31) pfn++;
    const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_FROM_DEVICE);
    expect(addr).toBeLessThan(2 ** 31);
    expect(xen.isXenSwiotlbBuffer(addr)).toBe(true);
    dev.hw.dmaWrite(addr, pattern(PAGE, 4));
    dmaSyncSingleForCpu(dev, addr, PAGE, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), PAGE), pattern(PAGE, 4))).toBe(-1);
    dmaUnmapPage(dev, addr, PAGE, DMA_FROM_DEVICE);
    // A 24-bit device cannot reach the bounce pool: xen_swiotlb_dma_supported says no.
    expect(dmaSetMask(m.createDevice({ name: 'isa' }), dmaBitMask(24))).toBe(-EIO);
  });

  it('makes every segment of the bounce pool machine-contiguous below 4 GiB (xen_swiotlb_fixup)', () => {
    const { xen } = setup();
    const pool = xen.pool;
    if (pool === null) throw new Error('no pool');
    const segment = IO_TLB_SEGSIZE * IO_TLB_SIZE;
    for (let start = pool.start; start < pool.end; start += segment) {
      expect(xen.p2m.isMachineContiguous(start, segment)).toBe(true);
      const mfn = xen.p2m.pfnToMfn(start / PAGE);
      expect(mfn % (segment / PAGE)).toBe(0);
      expect(mfn * PAGE + segment).toBeLessThanOrEqual(2 ** 32);
    }
  });

  it('exchanges a coherent buffer’s pages for machine-contiguous ones, and gives them back on free', () => {
    const { m, dev, xen } = setup({ memory: 4 * GIB });
    const size = 64 * 1024;
    const free = m.mm.stats().freePages;
    const buf = dmaAllocCoherent(dev, size);
    if (buf === null) throw new Error('dmaAllocCoherent');
    const phys = m.mm.virtToPhys(buf.cpuAddr);
    expect(xen.p2m.isMachineContiguous(phys, size)).toBe(true);
    expect(buf.dmaHandle).toBe(xen.p2m.physToMachine(phys));
    expect(buf.dmaHandle + size).toBeLessThanOrEqual(2 ** 32);
    dev.hw.dmaWrite(buf.dmaHandle, pattern(size, 5));
    expect(firstDifference(m.cpu.read(buf.cpuAddr, size), pattern(size, 5))).toBe(-1);
    const exchanged = xen.remapped.size;
    dmaFreeCoherent(dev, size, buf.cpuAddr, buf.dmaHandle);
    expect(xen.remapped.size).toBe(exchanged - 1);
    expect(m.mm.stats().freePages).toBe(free);
  });

  it('maps sg lists entry by entry, bouncing the entries that need it', () => {
    const { m, dev, xen } = setup();
    const split = findPair(m, xen, false);
    const single = m.mm.allocPages(0);
    if (single === null) throw new Error('allocPages');
    const sgl = [
      { pfn: split, offset: 0, length: 2 * PAGE, dmaAddress: 0, dmaLength: 0 },
      { pfn: single, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 },
    ];
    expect(dmaMapSg(dev, sgl, 2, DMA_FROM_DEVICE)).toBe(2);
    expect(xen.isXenSwiotlbBuffer((sgl[0] as { dmaAddress: number }).dmaAddress)).toBe(true);
    expect((sgl[1] as { dmaAddress: number }).dmaAddress).toBe(xen.p2m.pfnToMfn(single) * PAGE);
    dev.hw.dmaWrite((sgl[0] as { dmaAddress: number }).dmaAddress, pattern(2 * PAGE, 6));
    dmaUnmapSg(dev, sgl, 2, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(split), 2 * PAGE), pattern(2 * PAGE, 6))).toBe(-1);
  });

  it('reports a failed mapping as DMA_ERROR_CODE (0)', () => {
    const { m, dev } = setup({ swiotlb: { size: 256 * 1024 } });
    const block = m.mm.allocPages(7);
    if (block === null) throw new Error('allocPages');
    const addr = dmaMapPage(dev, block, 0, 128 * PAGE, DMA_TO_DEVICE);
    // Not machine-contiguous, and larger than a bounce segment: swiotlb cannot take it.
    expect(addr).toBe(XEN_DMA_ERROR_CODE);
    expect(dmaMappingError(dev, addr)).not.toBe(0);
  });

  it('without xen-swiotlb hands devices pseudo-physical addresses, which reach the wrong memory', () => {
    const m = createMachine({ platform: 'xen-pv', swiotlb: false });
    const dev = m.createDevice({ name: 'eth0' });
    expect(getDmaOps(dev).name).toBe('dma-direct');
    const xen = xenOf(dev);
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    const data = pattern(PAGE, 7);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_TO_DEVICE);
    expect(addr).toBe(pfn * PAGE);
    // Machine frame `pfn` is someone else's, or another page of this guest.
    let seen: Uint8Array | DmaFault;
    try {
      seen = dev.hw.dmaRead(addr, PAGE);
    } catch (fault) {
      seen = fault as DmaFault;
    }
    if (seen instanceof DmaFault) expect(xen.p2m.mfnToPfn(pfn)).toBe(-1);
    else expect(firstDifference(seen, data)).not.toBe(-1);
  });

  it('checks the platform’s options', () => {
    expect(() => createMachine({ platform: 'xen-pv', iommu: 'intel-iommu' })).toThrow(/Xen owns it/);
    expect(() => createMachine({ platform: 'xen-pv', swiotlb: { dynamic: true } })).toThrow(/xen-swiotlb/);
    expect(() => createMachine({ xenHostMemory: 8 * GIB })).toThrow(/platform: 'xen-pv'/);
    expect(() => createMachine({ platform: 'xen-pv', xenHostMemory: GIB })).toThrow(/cannot hold Xen/);
    expect(xenOf(createMachine({ platform: 'xen-pv', xenHostMemory: 8 * GIB }).createDevice({ name: 'x' })).p2m.hostPages).toBe((8 * GIB) / PAGE);
  });
});
