import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSingle,
  dmaMappingError,
  dmaUnmapPage,
  dmaUnmapSingle,
  ENOMEM,
  type Machine,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { firstDifference, pattern } from '@kdma/testkit';
import { Calgary, CALGARY_DMA_ERROR_CODE, CALGARY_EMERGENCY_PAGES, createMachine, findIommuTable, TCE_RPN_MASK, type CalgaryPhb } from './index.js';

const PAGE = 4096;
const MIB = 2 ** 20;
const GIB = 2 ** 30;

function dmesg(m: Machine): string[] {
  return m.hw.dmesg.entries().map((entry) => entry.message);
}

function calgaryOf(m: Machine): Calgary {
  const calgary = m.iommu;
  if (!(calgary instanceof Calgary)) throw new Error('no Calgary');
  return calgary;
}

/** The TCE at `index` as the kernel wrote it: 8 bytes, big-endian. */
function tceAt(m: Machine, phb: CalgaryPhb, index: number): number {
  const view = new DataView(m.cpu.read(phb.table.kva + index * 8, 8).buffer);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

describe('IBM Calgary: TCE tables per PHB', () => {
  it('sizes the tables from RAM, reserves them at boot below 4 GiB, and turns translation on', () => {
    const m = createMachine({ iommu: 'calgary' });
    const calgary = calgaryOf(m);
    // get_order(2 GiB >> 13) = 6: 512K TCEs (4 MiB), enough for 2 GiB of DMA space.
    expect(calgary.tableSize).toBe(6);
    expect(calgary.phbs.map((phb) => phb.itSize)).toEqual([512 * 1024, 512 * 1024]);
    for (const phb of calgary.phbs) {
      expect(phb.table.phys % (4 * MIB)).toBe(0);
      expect(phb.table.phys + 4 * MIB).toBeLessThanOrEqual(2 * GIB);
      expect(m.mm.pageState(phb.table.phys / PAGE)).toBe('reserved');
    }
    expect(dmesg(m)).toEqual(
      expect.arrayContaining([
        'PCI-DMA: Calgary IOMMU detected.',
        'PCI-DMA: Calgary TCE table spec is 6',
        'Calgary: enabling translation on Calgary PHB 0x1',
        'Calgary: enabling translation on Calgary PHB 0x2',
        'Calgary: errant DMAs will now be prevented on this bus.',
      ]),
    );
    // With 8 GiB (9 GiB of address space) the largest table, 1M TCEs: the PCI hole is the PHB's MMIO.
    const big = calgaryOf(createMachine({ iommu: 'calgary', memory: 8 * GIB, calgaryPhbs: 1 }));
    expect(big.tableSize).toBe(7);
    const phb = big.phbs[0] as CalgaryPhb;
    expect(phb.itSize).toBe(1024 * 1024);
    expect(phb.itMap[(3 * GIB) / PAGE]).toBe(1);
    expect(phb.itMap[(4 * GIB) / PAGE - 1]).toBe(1);
    expect(phb.itMap[(640 * 1024) / PAGE]).toBe(1);
    expect(phb.itMap[CALGARY_EMERGENCY_PAGES]).toBe(0);
  });

  it('gives each device behind a PHB calgary_dma_ops, and writes TCEs with the real page number and R/W bits', () => {
    const m = createMachine({ iommu: 'calgary' });
    const a = m.createDevice({ name: 'eth0' });
    const b = m.createDevice({ name: 'eth1' });
    const legacy = m.createDevice({ name: 'ide', iommu: false });
    expect(getDmaOps(a).name).toBe('calgary_dma_ops');
    expect(getDmaOps(legacy).name).toBe('dma-direct');
    const phbA = findIommuTable(a);
    const phbB = findIommuTable(b);
    expect(phbA).not.toBe(phbB);
    const pfn = m.mm.allocPages(1);
    if (pfn === null) throw new Error('allocPages');
    const data = pattern(2 * PAGE, 1);
    m.cpu.write(m.mm.pageAddress(pfn), data);
    const tx = dmaMapPage(a, pfn, 0x10, 2 * PAGE - 0x10, DMA_TO_DEVICE);
    // The first TCE after DMA_ERROR_CODE's emergency pages; each PHB has its own table.
    expect(tx).toBe(CALGARY_EMERGENCY_PAGES * PAGE + 0x10);
    expect(dmaMapPage(b, pfn, 0, PAGE, DMA_FROM_DEVICE)).toBe(CALGARY_EMERGENCY_PAGES * PAGE);
    expect(tceAt(m, phbA, CALGARY_EMERGENCY_PAGES)).toBe(pfn * PAGE + 1);
    expect(tceAt(m, phbA, CALGARY_EMERGENCY_PAGES + 1)).toBe((pfn + 1) * PAGE + 1);
    expect(tceAt(m, phbB, CALGARY_EMERGENCY_PAGES)).toBe(pfn * PAGE + 3);
    expect(TCE_RPN_MASK).toBe(0x0000_ffff_ffff_f000);
    expect(firstDifference(a.hw.dmaRead(tx, 2 * PAGE - 0x10), data.subarray(0x10))).toBe(-1);
    // DMA_TO_DEVICE: the TCE lets the device read only.
    expect(() => a.hw.dmaWrite(tx, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission' }));
    dmaUnmapPage(a, tx, 2 * PAGE - 0x10, DMA_TO_DEVICE);
    expect(tceAt(m, phbA, CALGARY_EMERGENCY_PAGES)).toBe(0);
    // A device outside translation sees physical addresses.
    expect(dmaMapPage(legacy, pfn, 0, PAGE, DMA_TO_DEVICE)).toBe(pfn * PAGE);
  });

  it('backs coherent buffers with TCEs (any zone), freeing both', () => {
    const m = createMachine({ iommu: 'calgary', memory: 8 * GIB });
    const dev = m.createDevice({ name: 'qla' });
    const free = m.mm.stats().freePages;
    const buf = dmaAllocCoherent(dev, 3 * PAGE);
    if (buf === null) throw new Error('dmaAllocCoherent');
    expect(m.mm.virtToPhys(buf.cpuAddr)).toBeGreaterThanOrEqual(4 * GIB);
    expect(buf.dmaHandle).toBe(CALGARY_EMERGENCY_PAGES * PAGE);
    dev.hw.dmaWrite(buf.dmaHandle, pattern(3 * PAGE, 2));
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 3 * PAGE), pattern(3 * PAGE, 2))).toBe(-1);
    dmaFreeCoherent(dev, 3 * PAGE, buf.cpuAddr, buf.dmaHandle);
    expect(m.mm.stats().freePages).toBe(free);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('stops a stray DMA, and two seconds later the watchdog reports it and disables the bus', () => {
    const m = createMachine({ iommu: 'calgary' });
    const dev = m.createDevice({ name: 'eth0' });
    const other = m.createDevice({ name: 'eth1' });
    const kva = m.mm.kmalloc(PAGE);
    if (kva === null) throw new Error('kmalloc');
    const addr = dmaMapSingle(dev, kva, PAGE, DMA_BIDIRECTIONAL);
    const otherAddr = dmaMapSingle(other, kva, PAGE, DMA_BIDIRECTIONAL);
    // An address nothing maps, and one only the other PHB's table maps.
    expect(() => dev.hw.dmaWrite(addr + 16 * PAGE, new Uint8Array(8))).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.iommu?.stats().faults).toBe(1);
    expect(dev.hw.dmaRead(addr, 8)).toHaveLength(8);
    m.clock.advance(1.9e9);
    expect(dmesg(m).some((line) => line.startsWith('Calgary: DMA error'))).toBe(false);
    m.clock.advance(0.1e9);
    expect(dmesg(m).at(-1)).toBe('Calgary: DMA error on Calgary PHB 0x1, 0x00000001@CSR 0x00000000@PLSSR');
    // The slots are disabled: even a mapped address is gone for this bus, not for the other.
    expect(() => dev.hw.dmaRead(addr, 8)).toThrow(DmaFault);
    expect(other.hw.dmaRead(otherAddr, 8)).toHaveLength(8);
    dmaUnmapSingle(dev, addr, PAGE, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(other, otherAddr, PAGE, DMA_BIDIRECTIONAL);
  });

  it('fails a mapping with DMA_ERROR_CODE (0) when the table is full, and refuses to unmap it', () => {
    const m = createMachine({ iommu: 'calgary', calgaryTableSize: 0, calgaryPhbs: 1 });
    const calgary = calgaryOf(m);
    expect((calgary.phbs[0] as CalgaryPhb).itSize).toBe(8192);
    const dev = m.createDevice({ name: 'hba' });
    const block = m.mm.allocPages(10);
    if (block === null) throw new Error('allocPages');
    let addr = 0;
    let maps = 0;
    for (;;) {
      addr = dmaMapPage(dev, block, 0, 1024 * PAGE, DMA_TO_DEVICE);
      if (dmaMappingError(dev, addr) !== 0) break;
      maps++;
    }
    // 8192 TCEs less 32 emergency pages, 96 for 640 KiB–1 MiB and the last: 7 runs of 1024.
    expect(maps).toBe(7);
    expect(addr).toBe(CALGARY_DMA_ERROR_CODE);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(dmesg(m)).toEqual(expect.arrayContaining(['Calgary: IOMMU full.', expect.stringMatching(/^Calgary: failed to allocate 1024 pages in iommu [0-9a-f]+$/)]));
    const bitmap = (calgary.phbs[0] as CalgaryPhb).itMap.slice();
    dmaUnmapPage(dev, CALGARY_DMA_ERROR_CODE, PAGE, DMA_TO_DEVICE);
    expect(dmesg(m).at(-1)).toBe('hba: Calgary: driver tried unmapping bad DMA address 0x0');
    expect((calgary.phbs[0] as CalgaryPhb).itMap).toEqual(bitmap);
  });

  it('checks its options', () => {
    expect(() => createMachine({ iommu: 'calgary', calgaryTableSize: 8 })).toThrow(RangeError);
    expect(() => createMachine({ calgaryPhbs: 2 })).toThrow(/applies to iommu: 'calgary'/);
    expect(() => createMachine({ iommu: 'calgary', memory: 96 * MIB, calgaryPhbs: 16, calgaryTableSize: 7 })).toThrow(/no room below 4 GiB/);
  });
});
