import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSg,
  dmaMappingError,
  dmaSetMaskAndCoherent,
  dmaUnmapPage,
  dmaUnmapSg,
  ENOMEM,
  type Device,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { GFP_DMA32 } from '@kdma/mm';
import { firstDifference, pattern } from '@kdma/testkit';
import { AmdGart, createMachine, EMERGENCY_PAGES, gpteDecode, gpteEncode, KernelPanic } from './index.js';

const PAGE = 4096;
const MIB = 2 ** 20;
const GIB = 2 ** 30;

function dmesg(m: Machine): string[] {
  return m.hw.dmesg.entries().map((entry) => entry.message);
}

function gartOfMachine(m: Machine): AmdGart {
  const gart = m.iommu;
  if (!(gart instanceof AmdGart)) throw new Error('no GART');
  return gart;
}

/** Pages above 4 GiB (ZONE_NORMAL is tried first), which a 32-bit device cannot reach. */
function highPages(m: Machine, order: number): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * PAGE).toBeGreaterThanOrEqual(4 * GIB);
  return pfn;
}

/** The GATT entry at `index`, as the kernel wrote it (through its mapping of the table). */
function gattEntry(m: Machine, index: number): number {
  const gart = gartOfMachine(m);
  return new DataView(m.cpu.read(gart.gattKva + index * 4, 4).buffer).getUint32(0, true);
}

describe('AMD GART: the aperture', () => {
  it('takes a 64 MiB aperture out of RAM below 4 GiB, as the kernel does when the BIOS left none', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB });
    const gart = gartOfMachine(m);
    expect(gart.apertureBase).toBe(3 * GIB - 64 * MIB);
    expect(gart.apertureSize).toBe(64 * MIB);
    expect(dmesg(m)).toEqual(
      expect.arrayContaining([
        "Your BIOS doesn't leave a aperture memory hole",
        'This costs you 64 MB of RAM',
        'Mapping aperture over 65536 KB of RAM @ bc000000',
        'PCI-DMA: aperture base @ bc000000 size 65536 KB',
        'PCI-DMA: using GART IOMMU.',
        'PCI-DMA: Reserving 64MB of IOMMU area in the AGP aperture',
      ]),
    );
    // The RAM under the aperture is the kernel's no more; and the GART replaces swiotlb.
    expect(m.mm.pageState(gart.apertureBase / PAGE)).toBe('reserved');
    expect(m.mm.pageState((gart.apertureBase + gart.apertureSize) / PAGE - 1)).toBe('reserved');
    expect(m.swiotlb).toBeNull();
    expect(m.options.reservedMemory).toEqual([{ base: gart.apertureBase, size: 64 * MIB }]);
  });

  it('is not used below 4 GiB of RAM unless forced, as gart_iommu_init decides', () => {
    const m = createMachine({ iommu: 'gart' });
    expect(m.iommu).toBeNull();
    const dev = m.createDevice({ name: 'nic' });
    expect(getDmaOps(dev).name).toBe('dma-direct');
    expect(dmesg(m)).toContain('Checking aperture...');
    expect(dmesg(m).some((line) => line.startsWith('Mapping aperture'))).toBe(false);
    expect(createMachine({ iommu: 'gart', forceIommu: true }).iommu?.name).toBe('gart');
    expect(createMachine({ iommu: 'gart', forceIommu: true, gartApertureOrder: 0 }).iommu?.stats().mappedBytes).toBe(0);
  });

  it('checks its options', () => {
    expect(() => createMachine({ iommu: 'gart', gartApertureOrder: 6 })).toThrow(RangeError);
    expect(() => createMachine({ forceIommu: true })).toThrow(/applies to iommu: 'gart'/);
    expect(() => createMachine({ iommu: 'gart', gartFullflush: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => createMachine({ iommu: 'gart', iommuPassthrough: true, memory: 8 * GIB })).toThrow(/iommuPassthrough/);
  });
});

describe('AMD GART: gart_dma_ops', () => {
  it('maps high memory into the aperture through the flat GATT, and bypasses what the device reaches', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB });
    const gart = gartOfMachine(m);
    const dev = m.createDevice({ name: 'sata', dmaBits: 32 });
    expect(getDmaOps(dev).name).toBe('gart_dma_ops');
    const pfn = highPages(m, 1);
    const data = pattern(2 * PAGE, 1);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const addr = dmaMapPage(dev, pfn, 0x80, 2 * PAGE - 0x80, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    // The first entry after the emergency pages, the page offset kept.
    expect(addr).toBe(gart.apertureBase + EMERGENCY_PAGES * PAGE + 0x80);
    expect(gattEntry(m, EMERGENCY_PAGES)).toBe(gpteEncode(pfn * PAGE));
    expect(gattEntry(m, EMERGENCY_PAGES + 1)).toBe(gpteEncode((pfn + 1) * PAGE));
    expect(gpteDecode(gattEntry(m, EMERGENCY_PAGES + 1))).toBe((pfn + 1) * PAGE);
    // GPTE_ENCODE: bits 32-39 of the address in bits 4-11, valid and coherent.
    expect(gpteEncode(0x12_3456_7000)).toBe(0x3456_7000 + 0x12 * 16 + 3);
    expect(firstDifference(dev.hw.dmaRead(addr, 2 * PAGE - 0x80), data.subarray(0x80))).toBe(-1);
    expect(gart.stats().mappedBytes).toBe(2 * PAGE);
    dmaUnmapPage(dev, addr, 2 * PAGE - 0x80, DMA_TO_DEVICE);
    expect(gattEntry(m, EMERGENCY_PAGES)).toBe(gart.unmappedEntry);
    expect(gart.stats().mappedBytes).toBe(0);

    // Memory the device reaches is not remapped (need_iommu is false): the bus address is physical.
    const low = m.mm.allocPages(0, GFP_DMA32);
    if (low === null) throw new Error('allocPages');
    expect(dmaMapPage(dev, low, 0, PAGE, DMA_FROM_DEVICE)).toBe(low * PAGE);
    const wide = m.createDevice({ name: 'nvme', dmaBits: 64 });
    expect(dmaSetMaskAndCoherent(wide, dmaBitMask(64))).toBe(0);
    expect(dmaMapPage(wide, pfn, 0, PAGE, DMA_TO_DEVICE)).toBe(pfn * PAGE);
  });

  it('translates every device’s accesses inside the aperture, and none outside it', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB });
    const dev = m.createDevice({ name: 'nic' });
    const other = m.createDevice({ name: 'sound' });
    const pfn = highPages(m, 0);
    const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_FROM_DEVICE);
    const frame = pattern(PAGE, 2);
    dev.hw.dmaWrite(addr, frame);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), PAGE), frame)).toBe(-1);
    // One GATT for the whole northbridge: another device reaches the same page (no isolation).
    expect(firstDifference(other.hw.dmaRead(addr, PAGE), frame)).toBe(-1);
    // Outside the aperture a bus address is a physical address.
    const low = m.mm.allocPages(0, GFP_DMA32);
    if (low === null) throw new Error('allocPages');
    other.hw.dmaWrite(low * PAGE, pattern(64, 3));
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(low), 64), pattern(64, 3))).toBe(-1);
    // An entry never handed out (an emergency page) is not valid: the access faults.
    expect(() => dev.hw.dmaRead(gartOfMachine(m).apertureBase, 4)).toThrow(DmaFault);
    expect(m.iommu?.stats().faults).toBe(1);
  });

  it('with nofullflush, flushes the GART-TLB only when the allocator wraps: until then an unmapped entry still reaches its old page', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB, gartApertureOrder: 0, gartFullflush: false });
    const gart = gartOfMachine(m);
    expect(gart.iommuPages).toBe(8192);
    const dev = m.createDevice({ name: 'hba' });
    const pfn = highPages(m, 6);
    const data = pattern(64 * PAGE, 4);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const flushes = gart.stats().flushes;
    // Entries 32..8190 can be handed out (iommu_area_alloc never uses the last): 127 runs of 64.
    let last = 0;
    for (let i = 0; i < 127; i++) {
      last = dmaMapPage(dev, pfn, 0, 64 * PAGE, DMA_TO_DEVICE);
      expect(last).toBe(gart.apertureBase + (EMERGENCY_PAGES + 64 * i) * PAGE);
      expect(firstDifference(dev.hw.dmaRead(last, 64 * PAGE), data)).toBe(-1);
      dmaUnmapPage(dev, last, 64 * PAGE, DMA_TO_DEVICE);
    }
    expect(gart.stats().flushes).toBe(flushes);
    // Unmapped, but the GART-TLB still has the entries: the device reads the old page.
    expect(gattEntry(m, (last - gart.apertureBase) / PAGE)).toBe(gart.unmappedEntry);
    expect(firstDifference(dev.hw.dmaRead(last, PAGE), data.subarray(0, PAGE))).toBe(-1);
    // The next run does not fit before the end: the allocator wraps to the start and flushes.
    const wrapped = dmaMapPage(dev, pfn, 0, 64 * PAGE, DMA_TO_DEVICE);
    expect(wrapped).toBe(gart.apertureBase + EMERGENCY_PAGES * PAGE);
    expect(gart.stats().flushes).toBe(flushes + 1);
    // Now the old address reaches the scratch page: zeros, and writes land there.
    expect(dev.hw.dmaRead(last, PAGE).every((b) => b === 0)).toBe(true);
    dev.hw.dmaWrite(last, new Uint8Array(PAGE).fill(0xee));
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), 64 * PAGE), data)).toBe(-1);
    expect(gart.stats().pendingFlushes).toBe(0);
  });

  it('with fullflush (the default), flushes on every mapping', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB });
    const gart = gartOfMachine(m);
    const dev = m.createDevice({ name: 'hba' });
    const a = highPages(m, 0);
    m.cpu.write(m.mm.pageAddress(a), pattern(PAGE, 5));
    const before = gart.stats().flushes;
    const addrA = dmaMapPage(dev, a, 0, PAGE, DMA_TO_DEVICE);
    dev.hw.dmaRead(addrA, PAGE);
    dmaUnmapPage(dev, addrA, PAGE, DMA_TO_DEVICE);
    const addrB = dmaMapPage(dev, highPages(m, 0), 0, PAGE, DMA_TO_DEVICE);
    expect(addrB).toBe(addrA + PAGE);
    expect(gart.stats().flushes).toBe(before + 2);
    expect(dev.hw.dmaRead(addrA, PAGE).every((b) => b === 0)).toBe(true);
  });

  it('hands out the emergency page when the aperture is full, and panics beyond 128 KiB', () => {
    const m = createMachine({ iommu: 'gart', memory: 8 * GIB, gartApertureOrder: 0 });
    const gart = gartOfMachine(m);
    const dev = m.createDevice({ name: 'hba' });
    const block = highPages(m, 6);
    let mapped = 0;
    for (let i = 0; i < 127; i++) mapped += dmaMappingError(dev, dmaMapPage(dev, block, 0, 64 * PAGE, DMA_BIDIRECTIONAL)) === 0 ? 64 : 0;
    for (let i = 0; i < 31; i++) mapped += dmaMappingError(dev, dmaMapPage(dev, block, 0, PAGE, DMA_BIDIRECTIONAL)) === 0 ? 1 : 0;
    expect(mapped).toBe(8192 - EMERGENCY_PAGES - 1);
    const victim = highPages(m, 0);
    m.cpu.write(m.mm.pageAddress(victim), pattern(PAGE, 6));
    const addr = dmaMapPage(dev, victim, 0, PAGE, DMA_FROM_DEVICE);
    expect(addr).toBe(gart.badDmaAddr);
    expect(addr).toBe(gart.apertureBase);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(dmesg(m)).toContain('hba: PCI-DMA: Out of IOMMU space for 4096 bytes');
    // A driver that does not check: its device DMAs to the emergency page, whose entry is not
    // valid, so nothing is written anywhere.
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(PAGE))).toThrow(DmaFault);
    expect(firstDifference(m.cpu.read(m.mm.pageAddress(victim), PAGE), pattern(PAGE, 6))).toBe(-1);
    const before = gart.bitmap.slice();
    dmaUnmapPage(dev, addr, PAGE, DMA_FROM_DEVICE);
    expect(gart.bitmap).toEqual(before);
    // More than the emergency pages: "Memory would be corrupted".
    const big = highPages(m, 6);
    expect(() => dmaMapPage(dev, big, 0, 64 * PAGE, DMA_FROM_DEVICE)).toThrow(KernelPanic);
    expect(dmesg(m).at(-1)).toBe('Kernel panic - not syncing: PCI-DMA: Memory would be corrupted');
  });

  it('with iommu=force maps everything through the aperture, merges sg lists and backs coherent buffers', () => {
    const m = createMachine({ iommu: 'gart', forceIommu: true });
    const gart = gartOfMachine(m);
    const dev = m.createDevice({ name: 'raid' });
    const inAperture = (addr: number): boolean => addr >= gart.apertureBase && addr < gart.apertureBase + gart.apertureSize;
    const low = m.mm.allocPages(0, GFP_DMA32);
    if (low === null) throw new Error('allocPages');
    expect(inAperture(dmaMapPage(dev, low, 0, PAGE, DMA_TO_DEVICE))).toBe(true);
    const pfns = [0, 1, 2].map(() => {
      const pfn = m.mm.allocPages(0);
      m.mm.allocPages(0);
      if (pfn === null) throw new Error('allocPages');
      return pfn;
    });
    const sgl = pfns.map((pfn) => ({ pfn, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSg(dev, sgl, 3, DMA_FROM_DEVICE)).toBe(1);
    const seg = sgl[0] as { dmaAddress: number; dmaLength: number };
    expect(seg.dmaLength).toBe(3 * PAGE);
    expect((sgl[1] as { dmaLength: number }).dmaLength).toBe(0);
    const frame = pattern(3 * PAGE, 7);
    dev.hw.dmaWrite(seg.dmaAddress, frame);
    pfns.forEach((pfn, i) => expect(firstDifference(m.cpu.read(m.mm.pageAddress(pfn), PAGE), frame.subarray(i * PAGE, (i + 1) * PAGE))).toBe(-1));
    dmaUnmapSg(dev, sgl, 3, DMA_FROM_DEVICE);

    const buf = dmaAllocCoherent(dev, 3 * PAGE);
    if (buf === null) throw new Error('dmaAllocCoherent');
    expect(inAperture(buf.dmaHandle)).toBe(true);
    // Aligned to its size in the aperture (align_mask = 2^order - 1).
    expect(((buf.dmaHandle - gart.apertureBase) / PAGE) % 4).toBe(0);
    dev.hw.dmaWrite(buf.dmaHandle, pattern(3 * PAGE, 8));
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 3 * PAGE), pattern(3 * PAGE, 8))).toBe(-1);
    const free = m.mm.stats().freePages;
    dmaFreeCoherent(dev, 3 * PAGE, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats().freePages).toBe(free + 4);
  });

  it('refuses to hand a device an aperture beyond its mask (the kernel did, and the device could not reach it)', () => {
    const m = createMachine({ iommu: 'gart', forceIommu: true });
    const dev: Device = m.createDevice({ name: 'isa', dmaBits: 24 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    const pfn = m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    expect(dmaMapPage(dev, pfn, 0, PAGE, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(dmesg(m).at(-1)).toMatch(/^isa: PCI-DMA: GART aperture 0x[0-9a-f]+-0x[0-9a-f]+ is beyond the DMA mask 0xffffff$/);
    // Its coherent buffers come from ZONE_DMA, as GFP_DMA sent them to dma_generic_alloc_coherent.
    const buf = dmaAllocCoherent(dev, PAGE);
    expect(buf !== null && buf.dmaHandle < 16 * MIB).toBe(true);
  });
});
