import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaMapPageAttrs,
  dmaMapSgAttrs,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapPageAttrs,
  dmaUnmapSgAttrs,
  type Device,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import {
  createMachine,
  IOMMU_INVALID_PTE,
  mkIommuPte,
  TSUNAMI_DAC_OFFSET,
  TSUNAMI_DIRECT_MAP_BASE,
  TSUNAMI_SG_ISA_BASE,
  TSUNAMI_SG_PCI_BASE,
  tsunamiOf,
  type TsunamiPchip,
} from './index.js';

const PAGE = 8192;
const MIB = 2 ** 20;
const GIB = 2 ** 30;

function hose(m: Machine): TsunamiPchip {
  const found = tsunamiOf(m);
  if (found === null) throw new Error('no pchip');
  return found;
}

/** Takes the memory below 2 GiB (the allocator hands out low pages first), so what follows is above. */
function fillBelow2G(m: Machine): void {
  for (const order of [10, 0]) {
    for (;;) {
      const pfn = m.mm.allocPages(order);
      if (pfn === null) throw new Error('allocPages');
      if (pfn * PAGE >= 2 * GIB) {
        m.mm.freePages(pfn, order);
        break;
      }
    }
  }
}

/** A page above 2 GiB (after `fillBelow2G`). */
function highPage(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * PAGE).toBeGreaterThanOrEqual(2 * GIB);
  return pfn;
}

/** A page below 2 GiB, apart from the last one (a spacer page in between). */
function lowPage(m: Machine): number {
  const pfn = m.mm.allocPages(0);
  m.mm.allocPages(0);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * PAGE).toBeLessThan(2 * GIB);
  return pfn;
}

function device(m: Machine, name: string, bits: number): Device {
  const dev = m.createDevice({ name, dmaBits: Math.min(bits, 64) });
  expect(dmaSetMaskAndCoherent(dev, dmaBitMask(bits))).toBe(0);
  return dev;
}

function map(dev: Device, pfn: number, size = 512): number {
  const addr = dmaMapPageAttrs(dev, pfn, 0, size, DMA_BIDIRECTIONAL);
  expect(dmaMappingError(dev, addr)).toBe(0);
  return addr;
}

describe('alpha tsunami: alpha_pci_ops picks the window, DAC or the arena by address and mask', () => {
  it('maps low memory through the direct window at 2 GiB, high memory through sg_pci, and DAC for a 64-bit device', () => {
    const m = createMachine();
    expect(m.iommu?.name).toBe('pci-iommu');
    const dev32 = device(m, 'tulip', 32);
    expect(getDmaOps(dev32).name).toBe('alpha_pci_ops');
    const low = lowPage(m);
    expect(map(dev32, low)).toBe(TSUNAMI_DIRECT_MAP_BASE + low * PAGE);
    fillBelow2G(m);
    const high = highPage(m);
    const data = pattern(PAGE, 1);
    m.cpu.write(m.mm.pageAddress(high), data);
    const viaArena = map(dev32, high, PAGE);
    expect(viaArena).toBe(TSUNAMI_SG_PCI_BASE);
    expect(hose(m).sgPci.ptes[0]).toBe(mkIommuPte(high * PAGE, PAGE));
    expect(firstDifference(dev32.hw.dmaRead(viaArena, PAGE), data)).toBe(-1);
    const dev64 = device(m, 'qlogic', 64);
    expect(map(dev64, high)).toBe(TSUNAMI_DAC_OFFSET + high * PAGE);
    expect(firstDifference(dev64.hw.dmaRead(TSUNAMI_DAC_OFFSET + high * PAGE, PAGE), data)).toBe(-1);
    // A 40-bit mask does not reach the DAC bit: the arena again.
    const dev40 = device(m, 'dev40', 40);
    expect(map(dev40, high)).toBeLessThan(TSUNAMI_DIRECT_MAP_BASE);
    expect(hose(m).tsunamiStats()).toMatchObject({ directAccesses: 0, dacAccesses: 1, sgAccesses: 1 });
  });

  it('sends a device that cannot reach 2 GiB + the buffer to an arena: sg_pci for 31 bits, the ISA window for 24', () => {
    const m = createMachine();
    const dev31 = device(m, 'dev31', 31);
    const low = lowPage(m);
    const a = map(dev31, low);
    expect(a).toBeGreaterThanOrEqual(TSUNAMI_SG_PCI_BASE);
    expect(a).toBeLessThan(TSUNAMI_DIRECT_MAP_BASE);
    const isa = device(m, 'floppy', 24);
    const b = map(isa, low);
    expect(b).toBeGreaterThanOrEqual(TSUNAMI_SG_ISA_BASE);
    expect(b + 512).toBeLessThanOrEqual(2 * TSUNAMI_SG_ISA_BASE);
    // alpha_pci_supported: the ISA window is the smallest thing a mask can reach.
    expect(dmaSetMask(isa, dmaBitMask(23))).toBe(-EIO);
  });

  it('allocates arena PTEs 4 at a time from next_entry, marking them IOMMU_INVALID_PTE until filled', () => {
    const m = createMachine();
    const dev = device(m, 'dev', 32);
    const arena = hose(m).sgPci;
    fillBelow2G(m);
    const a = map(dev, highPage(m), 3 * PAGE);
    expect(arena.nextEntry).toBe(3);
    const b = map(dev, highPage(m));
    expect([a, b]).toEqual([TSUNAMI_SG_PCI_BASE, TSUNAMI_SG_PCI_BASE + 4 * PAGE]);
    expect(arena.alloc(null, 1, 0)).toBe(8);
    expect(arena.ptes[8]).toBe(IOMMU_INVALID_PTE);
  });

  it('keeps translating a freed PTE from its TLB until the arena wraps and invalidates it', () => {
    const m = createMachine();
    const dev = device(m, 'tape', 24);
    const isa = hose(m).sgIsa;
    const pfn = lowPage(m);
    const data = pattern(PAGE, 7);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const first = map(dev, pfn, PAGE);
    expect(firstDifference(dev.hw.dmaRead(first, PAGE), data)).toBe(-1);
    dmaUnmapPageAttrs(dev, first, PAGE, DMA_BIDIRECTIONAL);
    // Below next_entry: no tbi. The PTE is 0, but the TLB still has it.
    expect(isa.ptes[0]).toBe(0);
    expect(firstDifference(dev.hw.dmaRead(first, PAGE), data)).toBe(-1);
    expect(hose(m).tsunamiStats().tbia + hose(m).tsunamiStats().tbiv).toBe(0);
    // Most of the 1024-entry ISA window, then a small mapping near its end.
    const big = m.mm.allocPages(10);
    if (big === null) throw new Error('allocPages');
    const chunk = 1016 * PAGE;
    const filler = map(dev, big, chunk);
    expect(filler).toBe(TSUNAMI_SG_ISA_BASE + 4 * PAGE);
    const late = map(dev, lowPage(m), 512);
    expect(late).toBe(TSUNAMI_SG_ISA_BASE + 1020 * PAGE);
    // The next search runs off the end: TLBIA, and entry 0 is reused.
    const again = map(dev, lowPage(m), 512);
    expect(again).toBe(TSUNAMI_SG_ISA_BASE);
    expect(isa.nextEntry).toBe(1);
    expect(hose(m).tsunamiStats()).toMatchObject({ tbia: 1, tbiv: 0 });
    // Entries freed at or above next_entry may be in the TLB: invalidated at once — one tag
    // (TLBIV) for a range inside a 64 KiB block, everything (TLBIA) for a larger one.
    dmaUnmapPageAttrs(dev, late, 512, DMA_BIDIRECTIONAL);
    expect(hose(m).tsunamiStats()).toMatchObject({ tbia: 1, tbiv: 1 });
    dmaUnmapPageAttrs(dev, filler, chunk, DMA_BIDIRECTIONAL);
    expect(hose(m).tsunamiStats()).toMatchObject({ tbia: 2, tbiv: 1 });
    dmaUnmapPageAttrs(dev, again, 512, DMA_BIDIRECTIONAL);
    expect(() => dev.hw.dmaRead(first, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
  });

  it('merges physically contiguous sg entries behind the direct window, and page-aligned scattered ones in the arena', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = device(m, 'aic7xxx', 32);
    dev.dmaParms.maxSegmentSize = 2 ** 20;
    const pair = m.mm.allocPages(1);
    if (pair === null || pair * PAGE >= 2 * GIB) throw new Error('want low pages');
    // One physically contiguous run: one segment, direct.
    const contiguous: Scatterlist[] = [0, 1].map((i) => ({ pfn: pair + i, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 }));
    expect(dmaMapSgAttrs(dev, contiguous, 2, DMA_TO_DEVICE)).toBe(1);
    expect(contiguous.map((s) => [s.dmaAddress, s.dmaLength])).toEqual([
      [TSUNAMI_DIRECT_MAP_BASE + pair * PAGE, 2 * PAGE],
      [expect.any(Number), 0],
    ]);
    dmaUnmapSgAttrs(dev, contiguous, 2, DMA_TO_DEVICE);
    // Scattered but page-aligned: virtually merged into one arena segment, although each page
    // alone would have gone through the direct window.
    const pages = [lowPage(m), lowPage(m), lowPage(m)];
    const scattered: Scatterlist[] = pages.map((pfn) => ({ pfn, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 }));
    const data = pattern(3 * PAGE, 4);
    pages.forEach((pfn, i) => m.cpu.write(m.mm.pageAddress(pfn), data.subarray(i * PAGE, (i + 1) * PAGE)));
    expect(dmaMapSgAttrs(dev, scattered, 3, DMA_TO_DEVICE)).toBe(1);
    const first = scattered[0] as Scatterlist;
    expect(first.dmaAddress).toBe(TSUNAMI_SG_PCI_BASE);
    expect(first.dmaLength).toBe(3 * PAGE);
    expect(firstDifference(dev.hw.dmaRead(first.dmaAddress, 3 * PAGE), data)).toBe(-1);
    dmaUnmapSgAttrs(dev, scattered, 3, DMA_TO_DEVICE);
    // Not page-aligned at the seam: separate segments, each direct.
    const odd: Scatterlist[] = [
      { pfn: pages[0] as number, offset: 0, length: 100, dmaAddress: 0, dmaLength: 0 },
      { pfn: pages[2] as number, offset: 0, length: 100, dmaAddress: 0, dmaLength: 0 },
    ];
    expect(dmaMapSgAttrs(dev, odd, 2, DMA_FROM_DEVICE)).toBe(2);
    expect(odd.map((s) => s.dmaAddress)).toEqual(odd.map((s) => TSUNAMI_DIRECT_MAP_BASE + s.pfn * PAGE));
    dmaUnmapSgAttrs(dev, odd, 2, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('maps coherent memory without DAC: high pages of a 64-bit device go through the arena', () => {
    const m = createMachine();
    const dev64 = device(m, 'dev64', 64);
    fillBelow2G(m);
    const buf = dmaAllocCoherent(dev64, 2 * PAGE);
    if (buf === null) throw new Error('alloc');
    expect(m.mm.virtToPhys(buf.cpuAddr)).toBeGreaterThanOrEqual(2 * GIB);
    expect(buf.dmaHandle).toBe(TSUNAMI_SG_PCI_BASE);
    const data = pattern(2 * PAGE, 5);
    dev64.hw.dmaWrite(buf.dmaHandle, data);
    expect(firstDifference(m.cpu.read(buf.cpuAddr, data.length), data)).toBe(-1);
  });

  it('faults on an arena PTE that is not valid and lets nothing claim an address outside the windows', () => {
    const m = createMachine();
    const dev = device(m, 'dev', 32);
    expect(() => dev.hw.dmaRead(TSUNAMI_SG_PCI_BASE + 100 * PAGE, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(() => dev.hw.dmaRead(0x2000_0000, 4)).toThrow(expect.objectContaining({ kind: 'bus' }));
    expect(m.iommu?.stats().faults).toBe(2);
  });

  it('sizes sg_pci for memory and fails a mapping when the arena is full', () => {
    const m = createMachine({ memory: 256 * MIB });
    expect(hose(m).sgPci.size).toBe(256 * MIB);
    const dev = device(m, 'dev31', 31);
    const pfn = m.mm.allocPages(10);
    if (pfn === null) throw new Error('allocPages');
    // 8 MiB a mapping: 32 of them fill 256 MiB.
    for (let i = 0; i < 32; i++) map(dev, pfn, 1024 * PAGE);
    expect(dmaMapPageAttrs(dev, pfn, 0, PAGE, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('pci_map_single failed: could not allocate dma page tables');
  });
});
