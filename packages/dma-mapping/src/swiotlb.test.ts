import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import { sgAllocTableFromPages, type SgTable } from '@kdma/scatterlist';
import {
  DMA_MAPPING_ERROR,
  ENOMEM,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaSetMinAlignMask,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSgtable,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
  type Machine,
} from './index.js';
import { buildMachine, MachineSwiotlb, swiotlbDeviceInit, type ArchDescription, type MachineOptions } from './ops.js';
import { createTestMachine, nonCoherentDescription, testDescription } from './test-machine.js';

const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** RAM below and above 4 GiB, so a 32-bit device cannot reach everything. */
const SPLIT_RAM = [
  { base: 0, size: 128 * MiB },
  { base: 4 * GiB, size: 128 * MiB },
];

/** The test PC, whose devices may have restricted pools (the call machine.ts makes per device). */
const restrictedDescription: ArchDescription = {
  ...testDescription,
  setupDevice: (machine, dev, options) => swiotlbDeviceInit(machine, dev, options),
};

function machine(options: MachineOptions = {}, description: ArchDescription = restrictedDescription): Machine {
  return buildMachine(description, { memoryRegions: SPLIT_RAM, ...options });
}

function pattern(length: number, start = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) % 251;
  return bytes;
}

/** A linear-map buffer above 4 GiB of `pages` pages. */
function highKva(m: Machine, order = 0): number {
  const pfn = m.mm.allocPages(order) as number;
  expect(pfn * m.pageSize).toBeGreaterThanOrEqual(4 * GiB);
  return m.mm.pageAddress(pfn);
}

function lastLog(m: Machine): string | undefined {
  return m.hw.dmesg.entries().at(-1)?.message;
}

describe('swiotlbInit (the machine builder)', () => {
  it('has no pool unless asked or the arch wants one', () => {
    expect(createTestMachine().swiotlb).toBeNull();
    expect(machine({ swiotlb: false }).swiotlb).toBeNull();
    const m = machine({ swiotlb: { size: 1 * MiB } });
    expect(m.swiotlb).toBeInstanceOf(MachineSwiotlb);
    expect(m.swiotlb?.stats()).toEqual({ totalSlots: 512, usedSlots: 0, highWaterSlots: 0, bouncedToDevice: 0, bouncedFromDevice: 0, failures: 0 });
    const byArch = buildMachine({ ...testDescription, swiotlbByDefault: (mm) => mm.maxPhysAddress > 4 * GiB }, { memoryRegions: SPLIT_RAM });
    expect(byArch.swiotlb?.stats().totalSlots).toBe(32768);
  });

  it('rejects bad swiotlb options naming them', () => {
    expect(() => machine({ swiotlb: { size: 0 } })).toThrow(/options.swiotlb.size/);
    expect(() => machine({ swiotlb: { areas: -1 } })).toThrow(/options.swiotlb.areas/);
    expect(() => machine({ swiotlb: { force: 'yes' as never } })).toThrow(/options.swiotlb.force/);
    expect(() => machine({ swiotlb: { sizes: 1 } as never })).toThrow(/options.swiotlb.sizes/);
    expect(() => machine({ swiotlb: true as never })).toThrow(/options.swiotlb/);
  });
});

describe('dma-direct bouncing through swiotlb', () => {
  it('bounces what a 32-bit device cannot reach, both ways', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'e1000', dmaBits: 32 });
    dev.dmaSkipSync = true;
    const tx = highKva(m);
    m.cpu.write(tx, pattern(1500, 7));
    const addr = dmaMapSingle(dev, tx, 1500, DMA_TO_DEVICE);
    expect(addr).not.toBe(DMA_MAPPING_ERROR);
    expect(addr).toBeLessThan(4 * GiB);
    expect(dev.dmaSkipSync).toBe(false); // dma_reset_need_sync
    expect(dev.hw.dmaRead(addr, 1500)).toEqual(pattern(1500, 7));
    dmaUnmapSingle(dev, addr, 1500, DMA_TO_DEVICE);

    const rx = highKva(m);
    const raddr = dmaMapSingle(dev, rx, 2048, DMA_FROM_DEVICE);
    expect(raddr).toBeLessThan(4 * GiB);
    dev.hw.dmaWrite(raddr, pattern(2048, 99));
    expect(m.cpu.read(rx, 16)).toEqual(new Uint8Array(16)); // still in the bounce buffer
    dmaUnmapSingle(dev, raddr, 2048, DMA_FROM_DEVICE);
    expect(m.cpu.read(rx, 2048)).toEqual(pattern(2048, 99));
    expect(m.swiotlb?.stats()).toMatchObject({ usedSlots: 0, bouncedToDevice: 1500 + 2048, bouncedFromDevice: 2048 });
  });

  it('does not bounce what the device reaches, unless forced', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'nvme', dmaBits: 64 });
    const buf = highKva(m);
    const addr = dmaMapSingle(dev, buf, 4096, DMA_TO_DEVICE);
    expect(addr).toBe(m.mm.virtToPhys(buf));
    dmaUnmapSingle(dev, addr, 4096, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0);

    const forced = machine({ swiotlb: { size: 1 * MiB, force: true } });
    const dev2 = forced.createDevice({ name: 'nvme', dmaBits: 64 });
    const low = forced.mm.kmalloc(512) as number;
    forced.cpu.write(low, pattern(512));
    const a2 = dmaMapSingle(dev2, low, 512, DMA_BIDIRECTIONAL);
    expect(a2).not.toBe(forced.mm.virtToPhys(low));
    expect(forced.swiotlb?.isBuffer(dev2, a2)).toBe(true);
    expect(dev2.hw.dmaRead(a2, 512)).toEqual(pattern(512));
    dmaUnmapSingle(dev2, a2, 512, DMA_BIDIRECTIONAL);
  });

  it('syncs through the bounce buffer', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'ring' });
    const buf = highKva(m);
    const addr = dmaMapSingle(dev, buf, 256, DMA_BIDIRECTIONAL);
    dev.hw.dmaWrite(addr, pattern(256, 5));
    dmaSyncSingleForCpu(dev, addr, 256, DMA_BIDIRECTIONAL);
    expect(m.cpu.read(buf, 256)).toEqual(pattern(256, 5));
    m.cpu.write(buf, pattern(256, 60));
    expect(dev.hw.dmaRead(addr, 4)).toEqual(pattern(4, 5));
    dmaSyncSingleForDevice(dev, addr, 256, DMA_BIDIRECTIONAL);
    expect(dev.hw.dmaRead(addr, 256)).toEqual(pattern(256, 60));
    dmaUnmapSingleAttrs(dev, addr, 256, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    expect(m.cpu.read(buf, 256)).toEqual(pattern(256, 60));
  });

  it('fails a 300 KiB mapping with "swiotlb buffer is full" and leaks nothing', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: '0000:03:00.0' });
    const buf = highKva(m, 7);
    const free = m.mm.stats().freePages;
    const addr = dmaMapSingle(dev, buf, 300 * KiB, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(lastLog(m)).toBe('0000:03:00.0: swiotlb buffer is full (sz: 307200 bytes), total 512 (slots), used 0 (slots)');
    expect(m.swiotlb?.stats()).toMatchObject({ usedSlots: 0, failures: 1 });
    expect(m.mm.stats().freePages).toBe(free);
  });

  it('keeps the low 12 bits of the address with min_align_mask 0xfff', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'nvme0' });
    dmaSetMinAlignMask(dev, 0xfff);
    const page = highKva(m, 1);
    for (const offset of [0x10, 0x208, 0x800, 0xa48]) {
      m.cpu.write(page + offset, pattern(600, offset % 100));
      const addr = dmaMapSingle(dev, page + offset, 600, DMA_TO_DEVICE);
      expect(addr).toBeLessThan(4 * GiB);
      expect(addr % 4096).toBe(offset);
      expect(dev.hw.dmaRead(addr, 600)).toEqual(pattern(600, offset % 100));
      dmaUnmapSingle(dev, addr, 600, DMA_TO_DEVICE);
    }
  });

  it('reports swiotlb\'s limit as the max mapping size of a device that may bounce', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const narrow = m.createDevice({ name: 'narrow', dmaBits: 32 });
    const wide = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaMaxMappingSize(narrow)).toBe(262144);
    dmaSetMinAlignMask(narrow, 0xfff);
    expect(dmaMaxMappingSize(narrow)).toBe(258048);
    expect(dmaMaxMappingSize(wide)).toBe(Number.MAX_SAFE_INTEGER);
    const forced = machine({ swiotlb: { size: 1 * MiB, force: true } });
    expect(dmaMaxMappingSize(forced.createDevice({ name: 'wide', dmaBits: 64 }))).toBe(262144);
    expect(dmaMaxMappingSize(createTestMachine().createDevice({ name: 'any' }))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('maps every sg entry through its own bounce buffer', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'ahci' });
    const pfns = [0, 1, 2].map(() => m.mm.allocPages(0) as number);
    pfns.forEach((pfn, i) => m.cpu.write(m.mm.pageAddress(pfn), pattern(4096, i * 30)));
    const sgt = sgAllocTableFromPages(pfns, 0, 3 * 4096, 4096, 4096) as SgTable;
    expect(sgt.nents).toBe(3);
    expect(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toBe(0);
    sgt.sgl.slice(0, sgt.nents).forEach((sg, i) => {
      expect(sg.dmaAddress).toBeLessThan(4 * GiB);
      expect(dev.hw.dmaRead(sg.dmaAddress, 4096)).toEqual(pattern(4096, i * 30));
    });
    dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('refuses a slot the device cannot reach after all ("swiotlb addr … overflow")', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const isa = m.createDevice({ name: 'isa', dmaBits: 24 }); // 16 MiB: below the pool
    const buf = highKva(m);
    const addr = dmaMapSingle(isa, buf, 64, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    expect(lastLog(m)).toMatch(/^isa: swiotlb addr 0x[0-9a-f]{16}\+64 overflow \(mask ffffff, bus limit 0\)\.$/);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('bounces through the cache on a non-coherent machine', () => {
    const m = buildMachine(nonCoherentDescription, { memory: 64 * MiB, swiotlb: { size: 1 * MiB, force: true } });
    const dev = m.createDevice({ name: 'mmc' });
    const buf = m.mm.kmalloc(4096) as number;
    m.cpu.write(buf, pattern(4096, 3)); // dirty lines only
    const addr = dmaMapSingle(dev, buf, 4096, DMA_TO_DEVICE);
    expect(m.swiotlb?.isBuffer(dev, addr)).toBe(true);
    expect(dev.hw.dmaRead(addr, 4096)).toEqual(pattern(4096, 3));
    dmaUnmapSingle(dev, addr, 4096, DMA_TO_DEVICE);

    const rx = dmaMapSingle(dev, buf, 4096, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(rx, pattern(4096, 200));
    dmaUnmapSingle(dev, rx, 4096, DMA_FROM_DEVICE);
    expect(m.cpu.read(buf, 4096)).toEqual(pattern(4096, 200));
  });

  it('gives no dma-debug report on correct use, and still reports misuse of the original buffer', () => {
    const m = machine({ swiotlb: { size: 1 * MiB }, dmaDebug: true });
    const dev = m.createDevice({ name: 'eth0' });
    const buf = highKva(m);
    m.cpu.write(buf, pattern(1024));
    const tx = dmaMapSingle(dev, buf, 1024, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, tx)).toBe(0);
    expect(dev.hw.dmaRead(tx, 1024)).toEqual(pattern(1024));
    dmaUnmapSingle(dev, tx, 1024, DMA_TO_DEVICE);

    const rx = dmaMapSingle(dev, buf, 1024, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, rx)).toBe(0);
    dev.hw.dmaWrite(rx, pattern(1024, 40));
    dmaSyncSingleForCpu(dev, rx, 1024, DMA_BIDIRECTIONAL);
    expect(m.cpu.read(buf, 1024)).toEqual(pattern(1024, 40));
    m.cpu.write(buf, pattern(1024, 41));
    dmaSyncSingleForDevice(dev, rx, 1024, DMA_BIDIRECTIONAL);
    dev.hw.dmaWrite(rx, pattern(16, 42));
    dmaUnmapSingle(dev, rx, 1024, DMA_BIDIRECTIONAL);
    expect(m.cpu.read(buf, 16)).toEqual(pattern(16, 42));

    const pfns = [m.mm.allocPages(0) as number, m.mm.allocPages(0) as number];
    const sgt = sgAllocTableFromPages(pfns, 0, 8192, 4096, 4096) as SgTable;
    expect(dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE)).toBe(0);
    dmaUnmapSgtable(dev, sgt, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors()).toEqual([]);

    const again = dmaMapSingle(dev, buf, 1024, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, again)).toBe(0);
    m.cpu.write(buf, pattern(8)); // the CPU touches a buffer the device owns
    dmaUnmapSingle(dev, again, 1024, DMA_FROM_DEVICE);
    expect(m.dmaDebug?.errors().map((e) => e.kind)).toEqual(['cpu-access-device-owned']);
  });
});

describe('a dynamic swiotlb on a machine', () => {
  it('keeps mapping when the pool is full, and grows it on the next tick', () => {
    const m = machine({ swiotlb: { size: 256 * KiB, areas: 1, dynamic: true } });
    const dev = m.createDevice({ name: 'xhci' });
    const big = highKva(m, 6);
    const full = dmaMapSingle(dev, big, 256 * KiB, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, full)).toBe(0);
    const small = highKva(m);
    const extra = dmaMapSingle(dev, small, 512, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, extra)).toBe(0);
    expect(m.swiotlb?.stats()).toMatchObject({ totalSlots: 129, usedSlots: 129 });
    dmaUnmapSingle(dev, extra, 512, DMA_TO_DEVICE);
    m.clock.advance(1);
    expect(m.swiotlb?.stats().totalSlots).toBe(256);
    dmaUnmapSingle(dev, full, 256 * KiB, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });
});

describe('a restricted DMA pool', () => {
  it('makes its device bounce everything through memory of its own', () => {
    const m = machine({ swiotlb: { size: 1 * MiB } });
    const dev = m.createDevice({ name: 'wifi', dmaBits: 64, restrictedPool: 1 * MiB });
    const other = m.createDevice({ name: 'gpu', dmaBits: 64 });
    const backend = m.swiotlb as MachineSwiotlb;
    const pool = backend.memOf(dev)!.defpool!;
    expect(backend.memOf(dev)).not.toBe(backend.defaultMem);
    expect(backend.isForceBounce(dev)).toBe(true);
    expect(backend.isForceBounce(other)).toBe(false);

    const buf = m.mm.kmalloc(1500) as number;
    m.cpu.write(buf, pattern(1500));
    const addr = dmaMapSingle(dev, buf, 1500, DMA_TO_DEVICE);
    expect(pool.contains(addr)).toBe(true);
    expect(dev.hw.dmaRead(addr, 1500)).toEqual(pattern(1500));
    expect(dmaMapSingle(other, buf, 1500, DMA_TO_DEVICE)).toBe(m.mm.virtToPhys(buf));
    dmaUnmapSingle(dev, addr, 1500, DMA_TO_DEVICE);
    expect(m.swiotlb?.stats().bouncedToDevice).toBe(0); // the default pool was not used

    // Its coherent buffers come from the pool too (swiotlb_alloc), zeroed, and go back to it.
    const coherent = dmaAllocCoherent(dev, 8192)!;
    expect(pool.contains(coherent.dmaHandle)).toBe(true);
    expect(m.cpu.read(coherent.cpuAddr, 8192).every((b) => b === 0)).toBe(true);
    expect(backend.memOf(dev)!.stats().usedSlots).toBe(4);
    dmaFreeCoherent(dev, 8192, coherent.cpuAddr, coherent.dmaHandle);
    expect(backend.memOf(dev)!.stats().usedSlots).toBe(0);
  });

  it('gives a machine without a default pool a swiotlb, and fails a pool that does not fit', () => {
    const m = machine();
    expect(m.swiotlb).toBeNull();
    const dev = m.createDevice({ name: 'wifi', restrictedPool: 64 * KiB });
    expect(m.swiotlb).not.toBeNull();
    expect(m.swiotlb?.isActive(dev)).toBe(true);
    expect(m.swiotlb?.isActive(m.createDevice({ name: 'plain' }))).toBe(false);
    expect(m.swiotlb?.stats().totalSlots).toBe(0);
    const buf = m.mm.kmalloc(100) as number;
    const addr = dmaMapSingle(dev, buf, 100, DMA_FROM_DEVICE);
    expect(addr).not.toBe(m.mm.virtToPhys(buf));
    dmaUnmapSingle(dev, addr, 100, DMA_FROM_DEVICE);
    swiotlbDeviceInit(m, dev, { name: 'wifi', restrictedPool: 64 * KiB }); // once per device
    expect(() => m.createDevice({ name: 'huge', restrictedPool: 1 * GiB })).toThrow(/options.restrictedPool/);
    expect(() => m.createDevice({ name: 'tiny', restrictedPool: 100 })).toThrow(/options.restrictedPool/);
  });
});

describe('the CVE-2022-0854 leak, through the DMA API', () => {
  function deviceSees(leakyBounce: boolean): Uint8Array {
    const m = machine({ swiotlb: { size: 256 * KiB, areas: 1, leakyBounce } });
    const dev = m.createDevice({ name: 'sdb', dmaBits: 32 });
    const secret = highKva(m, 6);
    m.cpu.write(secret, new Uint8Array(256 * KiB).fill(0x5e));
    const a = dmaMapSingle(dev, secret, 256 * KiB, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 256 * KiB, DMA_TO_DEVICE);
    const rx = highKva(m);
    const b = dmaMapSingle(dev, rx, 4096, DMA_FROM_DEVICE);
    const seen = dev.hw.dmaRead(b, 4096);
    dmaUnmapSingle(dev, b, 4096, DMA_FROM_DEVICE);
    return seen;
  }

  it('shows an earlier mapping\'s bytes to the device before the fix, and not after', () => {
    expect(deviceSees(true).every((b) => b === 0x5e)).toBe(true);
    expect(deviceSees(false).every((b) => b === 0)).toBe(true);
  });
});

describe('dmaBitMask', () => {
  it('is what a 32-bit device gets', () => {
    expect(machine().createDevice({ name: 'x' }).dmaMask).toBe(dmaBitMask(32));
  });
});
