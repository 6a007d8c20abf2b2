import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaGetRequiredMask,
  dmaMapPage,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaUnmapPage,
  dmaUnmapSgtable,
  dmaUnmapSingle,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { DmaFault } from '@kdma/hw';
import { PAGE_OFFSET } from '@kdma/mm';
import { sgAllocTableFromPages } from '@kdma/scatterlist';
import { firstDifference, pattern, provokeDmaDebugError } from '@kdma/testkit';
import {
  arch,
  createMachine,
  getIommuTableBase,
  IOMMU_PAGE_SIZE,
  iommuRangeAlloc,
  powerpcState,
  TCE_PCI_READ,
  TCE_PCI_WRITE,
  VIO_CMO_MIN_ENT,
  vioCmoOf,
  type IommuTable,
} from './index.js';
import { MIB, must } from './test-machines.js';

function table(dev: Parameters<typeof getIommuTableBase>[0]): IommuTable {
  const tbl = getIommuTableBase(dev);
  if (tbl === null) throw new Error('no table');
  return tbl;
}

function kmallocWith(m: ReturnType<typeof createMachine>, size: number, seed: number): number {
  const kva = must(m.mm.kmalloc(size), 'kmalloc');
  m.cpu.write(kva, pattern(size, seed));
  return kva;
}

describe('pseries: TCE tables and dma_iommu_ops', () => {
  it('gives each PCI endpoint its own 256 MiB window, entry 0 reserved, small and large areas split at 3/4', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'e1000' });
    expect(getDmaOps(dev).name).toBe('dma_iommu_ops');
    const tbl = table(dev);
    expect(tbl.itOffset).toBe(0);
    expect(tbl.itSize).toBe((256 * MIB) / IOMMU_PAGE_SIZE);
    expect(tbl.itHalfpoint).toBe((tbl.itSize * 3) / 4);
    expect(tbl.itMap[0]).toBe(1);
    expect(table(m.createDevice({ name: 'ipr' }))).not.toBe(tbl);
    expect(m.iommu?.name).toBe('tce');
  });

  it('allocates small mappings from it_hint in blocks of 16 and large ones (> 15 pages) from the top quarter', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'e1000' });
    const tbl = table(dev);
    const small = kmallocWith(m, 3 * IOMMU_PAGE_SIZE, 1);
    const a = dmaMapSingle(dev, small, 100, DMA_TO_DEVICE);
    // Entry 0 is reserved: the first small mapping takes entry 1; the hint moves to entry 16.
    expect(Math.floor(a / IOMMU_PAGE_SIZE)).toBe(1);
    expect(tbl.itHint).toBe(16);
    const b = dmaMapSingle(dev, small + 2 * IOMMU_PAGE_SIZE, 100, DMA_TO_DEVICE);
    expect(Math.floor(b / IOMMU_PAGE_SIZE)).toBe(16);
    const pfn = must(m.mm.allocPages(4), 'allocPages');
    const large = dmaMapPage(dev, pfn, 0, 16 * IOMMU_PAGE_SIZE, DMA_FROM_DEVICE);
    expect(Math.floor(large / IOMMU_PAGE_SIZE)).toBe(tbl.itHalfpoint);
    expect(tbl.itLargehint).toBe(tbl.itHalfpoint + 16);
    // 15 pages is still small.
    const fifteen = dmaMapPage(dev, pfn, 0, 15 * IOMMU_PAGE_SIZE, DMA_FROM_DEVICE);
    expect(Math.floor(fifteen / IOMMU_PAGE_SIZE)).toBe(32);
    for (const [addr, size, dir] of [
      [a, 100, DMA_TO_DEVICE],
      [b, 100, DMA_TO_DEVICE],
      [large, 16 * IOMMU_PAGE_SIZE, DMA_FROM_DEVICE],
      [fifteen, 15 * IOMMU_PAGE_SIZE, DMA_FROM_DEVICE],
    ] as const) {
      dmaUnmapSingle(dev, addr, size, dir);
    }
    expect(tbl.usedEntries()).toBe(1);
  });

  it('falls back to the other area when one is full, and fails once both are', () => {
    const m = createMachine({ tceWindowSize: 1 * MIB });
    const dev = m.createDevice({ name: 'tiny-window' });
    const tbl = table(dev);
    expect(tbl.itSize).toBe(256);
    const pfn = must(m.mm.allocPages(6), 'allocPages');
    // Large mappings of 32 pages fill [192, 255) first, then spill into the small area.
    const addrs: number[] = [];
    for (;;) {
      const addr = dmaMapPage(dev, pfn, 0, 32 * IOMMU_PAGE_SIZE, DMA_BIDIRECTIONAL);
      if (dmaMappingError(dev, addr) !== 0) break;
      addrs.push(addr);
    }
    const entries = addrs.map((addr) => addr / IOMMU_PAGE_SIZE);
    expect(entries[0]).toBe(192);
    expect(entries.slice(1).every((entry) => entry < 192)).toBe(true);
    // 7 of 8 possible: entry 0 is reserved and the last entry of each search limit is never used.
    expect(addrs).toHaveLength(6);
    expect(m.hw.dmesg.entries().some((entry) => entry.message.includes('iommu_alloc failed'))).toBe(true);
    for (const addr of addrs) dmaUnmapPage(dev, addr, 32 * IOMMU_PAGE_SIZE, DMA_BIDIRECTIONAL);
    expect(tbl.usedEntries()).toBe(1);
  });

  it('keeps allocations disjoint, inside the mask and the table, and in their area while it has room (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ pages: fc.integer({ min: 1, max: 40 }), free: fc.boolean(), alignOrder: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.constantFrom(dmaBitMask(32), 2 ** 19 - 1),
        (steps, mask) => {
          const m = createMachine({ tceWindowSize: 1 * MIB });
          const dev = m.createDevice({ name: 'prop' });
          const tbl = table(dev);
          const ioMask = Math.floor(mask / IOMMU_PAGE_SIZE);
          const live: { index: number; pages: number }[] = [];
          for (const step of steps) {
            const limitSmall = Math.min(tbl.itHalfpoint, ioMask + 1);
            const before = tbl.itMap.slice();
            const index = iommuRangeAlloc(dev, tbl, step.pages, null, ioMask, step.alignOrder);
            const align = 2 ** step.alignOrder;
            const fitsBelow = (from: number, limit: number): boolean => {
              for (let start = Math.ceil(from / align) * align; start + step.pages <= limit - 1; start += align) {
                if (before.subarray(start, start + step.pages).indexOf(1) < 0) return true;
              }
              return false;
            };
            if (index < 0) {
              expect(fitsBelow(0, Math.min(tbl.itSize, ioMask + 1))).toBe(false);
              continue;
            }
            expect(index % align).toBe(0);
            expect(index).toBeGreaterThan(0);
            expect(index + step.pages).toBeLessThanOrEqual(Math.min(tbl.itSize, ioMask + 1));
            expect(before.subarray(index, index + step.pages).indexOf(1)).toBe(-1);
            if (step.pages <= 15 && fitsBelow(0, limitSmall)) expect(index).toBeLessThan(limitSmall);
            if (step.pages > 15 && ioMask + 1 >= tbl.itSize && fitsBelow(tbl.itHalfpoint, tbl.itSize)) expect(index).toBeGreaterThanOrEqual(tbl.itHalfpoint);
            live.push({ index, pages: step.pages });
            if (step.free && live.length > 1) {
              const victim = live.shift() as { index: number; pages: number };
              tbl.itMap.fill(0, victim.index, victim.index + victim.pages);
            }
          }
          const used = live.reduce((sum, alloc) => sum + alloc.pages, 1);
          expect(tbl.usedEntries()).toBe(used);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('uses 4 KiB IO pages under 64 KiB kernel pages, aligning whole pages to 64 KiB in bus space', () => {
    const m = createMachine({ pageSize: 65536 });
    const dev = m.createDevice({ name: 'e1000' });
    const tbl = table(dev);
    const pfn = must(m.mm.allocPages(0), 'allocPages');
    const whole = dmaMapPage(dev, pfn, 0, 65536, DMA_TO_DEVICE);
    expect(whole % 65536).toBe(0);
    expect(tbl.usedEntries()).toBe(1 + 16);
    const small = dmaMapPage(dev, pfn, 0x1234, 100, DMA_TO_DEVICE);
    expect(small % IOMMU_PAGE_SIZE).toBe(0x234);
    expect(tbl.usedEntries()).toBe(1 + 16 + 1);
    const entry = tbl.hw.entryAt(small);
    expect(entry?.paddr).toBe(pfn * 65536 + 0x1000);
    dmaUnmapPage(dev, whole, 65536, DMA_TO_DEVICE);
    dmaUnmapPage(dev, small, 100, DMA_TO_DEVICE);
  });

  it('installs the TCEs on the device: read-only for TO_DEVICE, faults on stray and stale addresses', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'e1000' });
    const other = m.createDevice({ name: 'ipr' });
    const kva = kmallocWith(m, 4096, 2);
    const addr = dmaMapSingle(dev, kva, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(table(dev).hw.entryAt(addr)?.flags).toBe(TCE_PCI_READ);
    expect(firstDifference(dev.hw.dmaRead(addr, 4096), pattern(4096, 2))).toBe(-1);
    // TO_DEVICE: "proto_tce = TCE_PCI_READ" only.
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(8))).toThrow(expect.objectContaining({ kind: 'permission' }));
    // Another endpoint's window has no such TCE.
    expect(() => other.hw.dmaRead(addr, 8)).toThrow(expect.objectContaining({ kind: 'translation' }));
    // Nothing is mapped beyond.
    expect(() => dev.hw.dmaRead(addr + 64 * 4096, 8)).toThrow(DmaFault);
    dmaUnmapSingle(dev, addr, 4096, DMA_TO_DEVICE);
    expect(() => dev.hw.dmaRead(addr, 8)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.iommu?.stats().faults).toBe(4);
    expect(m.hw.faults).toHaveLength(4);
    expect(m.hw.dmesg.entries().filter((entry) => entry.message.startsWith('EEH:'))).toHaveLength(4);
    expect(m.dmaDebug?.errors()).toEqual([]);

    const rx = kmallocWith(m, 4096, 3);
    const rxAddr = dmaMapSingle(dev, rx, 4096, DMA_FROM_DEVICE);
    expect(table(dev).hw.entryAt(rxAddr)?.flags).toBe(TCE_PCI_READ | TCE_PCI_WRITE);
    dmaUnmapSingle(dev, rxAddr, 4096, DMA_FROM_DEVICE);
  });

  it('writes TCEs with H_PUT_TCE, H_PUT_TCE_INDIRECT and clears them with H_STUFF_TCE', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'e1000' });
    const { hcalls } = powerpcState(m).pseries as NonNullable<ReturnType<typeof powerpcState>['pseries']>;
    const pfn = must(m.mm.allocPages(2), 'allocPages');
    const one = dmaMapPage(dev, pfn, 0, 4096, DMA_TO_DEVICE);
    const four = dmaMapPage(dev, pfn, 0, 4 * 4096, DMA_TO_DEVICE);
    expect(hcalls).toEqual({ H_PUT_TCE: 1, H_PUT_TCE_INDIRECT: 1, H_STUFF_TCE: 0 });
    dmaUnmapPage(dev, one, 4096, DMA_TO_DEVICE);
    dmaUnmapPage(dev, four, 4 * 4096, DMA_TO_DEVICE);
    expect(hcalls.H_STUFF_TCE).toBe(2);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('merges scattered pages into one DMA segment (virtual merging) and maps them back out', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'ipr' });
    const pfns = [0, 1, 2].map(() => {
      const pfn = must(m.mm.allocPages(0), 'allocPages');
      must(m.mm.allocPages(0), 'spacer');
      return pfn;
    });
    const sgt = sgAllocTableFromPages(pfns, 0, 3 * 4096, undefined, 4096);
    if (typeof sgt === 'number') throw new Error('sg table');
    expect(sgt.origNents).toBe(3);
    expect(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toBe(0);
    expect(sgt.nents).toBe(1);
    expect(sgt.sgl[0]?.dmaLength).toBe(3 * 4096);
    expect(sgt.sgl[1]?.dmaLength).toBe(0);
    expect(sgt.sgl[1]?.dmaAddress).toBe(DMA_MAPPING_ERROR);
    dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect(table(dev).usedEntries()).toBe(1);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('refuses a segment longer than the device’s segment boundary (the kit’s dma-debug scene)', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'page-boundary', segmentBoundaryMask: 4095, maxSegmentSize: 4 * 4096 });
    const pfn = must(m.mm.allocPages(1), 'allocPages');
    const sgt = sgAllocTableFromPages([pfn, pfn + 1], 64, 4096, undefined, 4096);
    if (typeof sgt === 'number') throw new Error('sg table');
    expect(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toBe(-EIO);
    expect(m.hw.dmesg.entries().some((entry) => entry.message.includes('iommu_alloc failed'))).toBe(true);
    expect(m.dmaDebug?.errors()).toEqual([]);
    expect(table(dev).usedEntries()).toBe(1);
  });

  it('makes the kit declare that refusal: the scene fails without it, and fails where ops declared to refuse map instead', () => {
    const boundary = 'sg-segment-across-boundary';
    const pseries = { arch, createMachine, machineOptions: { platform: 'pseries' } };
    expect(() => provokeDmaDebugError(pseries, boundary)).toThrow(/dma_iommu_ops refused a segment across the device's boundary/);
    expect(() => provokeDmaDebugError({ ...pseries, kernelRefuses: { segmentAcrossBoundary: { dma_iommu_ops: 'always' } } }, boundary)).not.toThrow();
    // dma_direct_ops maps the segment as it is (dma-debug reports it): declaring a refusal fails.
    const powermac = { arch, createMachine, machineOptions: { platform: 'powermac' } };
    expect(() => provokeDmaDebugError(powermac, boundary)).not.toThrow();
    expect(() => provokeDmaDebugError({ ...powermac, kernelRefuses: { segmentAcrossBoundary: { dma_direct_ops: 'always' } } }, boundary)).toThrow(
      /dma_direct_ops mapped a segment longer than the device's boundary window/,
    );
    // A declaration must name ops of the arch.
    expect(() => provokeDmaDebugError({ ...pseries, kernelRefuses: { segmentAcrossBoundary: { gart_dma_ops: 'always' } } }, boundary)).toThrow(TypeError);
  });

  it('limits a 24-bit device to the first 16 MiB of its window and reports the window as the required mask', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'isa-bridge', dmaBits: 24 });
    expect(dmaSetMaskAndCoherent(dev, dmaBitMask(24))).toBe(0);
    const buf = must(dmaAllocCoherent(dev, 8192), 'dmaAllocCoherent');
    expect(buf.dmaHandle + 8191).toBeLessThanOrEqual(dmaBitMask(24));
    // Coherent IOVAs are aligned to their size (get_iommu_order).
    expect(buf.dmaHandle % 8192).toBe(0);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);
    expect(dmaGetRequiredMask(dev)).toBe(2 ** 29 - 1);
  });
});

describe('pseries: VIO and Cooperative Memory Overcommit', () => {
  it('gives VIO devices their own window on dma_iommu_ops without CMO', () => {
    const m = createMachine({ defaultBus: 'vio' });
    const dev = m.createDevice({ name: 'ibmveth' });
    expect(getDmaOps(dev).name).toBe('dma_iommu_ops');
    expect(() => m.createDevice({ name: 'x', vioDesiredDma: 4 * MIB })).toThrow(RangeError);
  });

  it('charges mappings against the entitlement and fails with DMA_MAPPING_ERROR once it is spent', () => {
    const m = createMachine({ cmo: 4 * MIB, dmaDebug: true });
    const dev = m.createDevice({ name: 'ibmvscsi', bus: 'vio', vioDesiredDma: 8 * MIB });
    expect(getDmaOps(dev).name).toBe('vio_dma_mapping_ops');
    const cmo = vioCmoOf(dev);
    // vio_cmo_balance: the minimum, plus what the partition has beyond its minimum and the spare.
    expect(cmo.desired).toBe(8 * MIB);
    expect(cmo.entitled).toBe(4 * MIB - VIO_CMO_MIN_ENT);
    const chunk = 64 * 1024;
    const pfn = must(m.mm.allocPages(10), 'allocPages');
    const addrs: number[] = [];
    let failed = DMA_MAPPING_ERROR + 1;
    for (let i = 0; i < 64; i++) {
      const addr = dmaMapPage(dev, pfn + i * 16, 0, chunk, DMA_TO_DEVICE);
      if (dmaMappingError(dev, addr) !== 0) {
        failed = addr;
        break;
      }
      addrs.push(addr);
    }
    expect(failed).toBe(DMA_MAPPING_ERROR);
    expect(addrs.length * chunk).toBeLessThanOrEqual(cmo.entitled);
    expect(addrs.length * chunk + chunk).toBeGreaterThan(cmo.entitled);
    expect(cmo.allocsFailed).toBe(1);
    expect(cmo.allocated).toBe(addrs.length * chunk);
    // Giving one back lets the next one through.
    dmaUnmapPage(dev, addrs.pop() as number, chunk, DMA_TO_DEVICE);
    const again = dmaMapPage(dev, pfn, 0, chunk, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, again)).toBe(0);
    addrs.push(again);
    for (const addr of addrs) dmaUnmapPage(dev, addr, chunk, DMA_TO_DEVICE);
    expect(cmo.allocated).toBe(0);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('adds VIO devices from the excess pool, then the spare, and refuses one more', () => {
    const m = createMachine({ cmo: 2 * VIO_CMO_MIN_ENT, defaultBus: 'vio' });
    const cmo = powerpcState(m).cmo;
    m.createDevice({ name: 'ibmveth' });
    expect(cmo?.spare).toBe(VIO_CMO_MIN_ENT);
    m.createDevice({ name: 'ibmvscsi' });
    expect(cmo?.spare).toBe(0);
    expect(() => m.createDevice({ name: 'hvcs' })).toThrow(/insufficient free entitlement/);
    expect(m.hw.dmesg.entries().some((entry) => entry.message.includes('Need 1562624, have 0'))).toBe(true);
  });
});

describe('pseries: ibmebus', () => {
  it('hands out the kernel virtual address as the DMA address and translates it on the GX bus', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'ehca', bus: 'ibmebus' });
    expect(getDmaOps(dev).name).toBe('ibmebus_dma_ops');
    const kva = kmallocWith(m, 512, 4);
    const addr = dmaMapSingle(dev, kva, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(kva);
    expect(addr).toBeGreaterThanOrEqual(PAGE_OFFSET);
    expect(firstDifference(dev.hw.dmaRead(addr, 512), pattern(512, 4))).toBe(-1);
    dmaUnmapSingle(dev, addr, 512, DMA_TO_DEVICE);
    const buf = must(dmaAllocCoherent(dev, 1000), 'dmaAllocCoherent');
    expect(buf.dmaHandle).toBe(buf.cpuAddr);
    dev.hw.dmaWrite(buf.dmaHandle, pattern(1000, 5));
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 1000), pattern(1000, 5))).toBe(-1);
    dmaFreeCoherent(dev, 1000, buf.cpuAddr, buf.dmaHandle);
    // A physical address is no address on the GX bus.
    expect(() => dev.hw.dmaRead(m.mm.virtToPhys(kva), 8)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('accepts only a 64-bit mask (the kit’s 32-bit device gets -EIO)', () => {
    const m = createMachine({ defaultBus: 'ibmebus' });
    const dev = m.createDevice({ name: 'ehea' });
    expect(dev.dmaMask).toBe(dmaBitMask(64));
    expect(dmaSetMask(dev, dmaBitMask(32))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(64))).toBe(0);
    expect(dmaGetRequiredMask(dev)).toBe(dmaBitMask(64));
  });
});
