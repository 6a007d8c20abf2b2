import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_NO_WARN, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import { Hardware } from '@kdma/hw';
import { Mm, NORMAL_ONLY_ZONES, X86_64_ZONES } from '@kdma/mm';
import { IO_TLB_DEFAULT_SIZE, SWIOTLB_MAP_ERROR } from './io-tlb.js';
import {
  isSwiotlbBuffer,
  isSwiotlbForAlloc,
  isSwiotlbForceBounce,
  swiotlbAlloc,
  swiotlbFree,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
} from './map.js';
import { swiotlbInit, swiotlbInitRestricted } from './swiotlb-init.js';
import { GiB, KiB, MiB, expectBytes, highBuffer, pattern, testMachine, testPool } from './test-machine.js';
import { swiotlbDevice } from './types.js';

describe('swiotlbInit', () => {
  it('makes the default 64 MiB pool below 4 GiB, one area per CPU', () => {
    const m = testMachine({ lowMemory: 256 * MiB });
    const mem = swiotlbInit(m.hw, m.mm, { zones: X86_64_ZONES })!;
    const pool = mem.defpool!;
    expect(pool.nslabs).toBe(IO_TLB_DEFAULT_SIZE / 2048);
    expect(pool.nslabs).toBe(32768);
    expect(pool.nareas).toBe(2);
    expect(pool.end).toBeLessThanOrEqual(4 * GiB);
    expect(pool.start % 4096).toBe(0);
    expect(mem.stats()).toEqual({ totalSlots: 32768, usedSlots: 0, highWaterSlots: 0, bouncedToDevice: 0, bouncedFromDevice: 0, failures: 0 });
    const log = m.hw.dmesg.entries().map((e) => e.message);
    expect(log).toContain('software IO TLB: area num 2.');
    expect(log).toContain(`software IO TLB: mapped [mem 0x${pool.start.toString(16).padStart(16, '0')}-0x${pool.end.toString(16).padStart(16, '0')}] (64MB)`);
  });

  it('sizes as the kernel does: whole segments, a power of two, a segment per area', () => {
    const slots = (size: number, areas?: number, cpus = 2): [number, number] => {
      const m = testMachine({ cpus });
      const mem = swiotlbInit(m.hw, m.mm, { size, zones: X86_64_ZONES, ...(areas === undefined ? {} : { areas }) })!;
      return [mem.defpool!.nslabs, mem.defpool!.nareas];
    };
    expect(slots(256 * KiB, 1)).toEqual([128, 1]);
    expect(slots(256 * KiB)).toEqual([256, 2]); // at least a segment per area
    expect(slots(256 * KiB, undefined, 4)).toEqual([512, 4]);
    expect(slots(3 * MiB, 2)).toEqual([2048, 2]); // 1536 slots rounded up to a power of two
    expect(slots(1000, 0)).toEqual([128, 1]); // areas 0 is 1
    expect(slots(1 * MiB, 3)).toEqual([512, 4]); // areas rounded up to a power of two
  });

  it('halves the pool when memory below the limit is short, and gives up below 1 MiB', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 24 * MiB }, { base: 4 * GiB, size: 64 * MiB }] });
    const mm = new Mm(hw, { zones: X86_64_ZONES, kernelImageSize: 4 * MiB });
    const mem = swiotlbInit(hw, mm, { size: 16 * MiB, zones: X86_64_ZONES })!;
    expect(mem.defpool!.nslabs).toBe(4096); // ZONE_DMA32 holds 8 MiB: two max-order blocks in a row
    expect(mem.defpool!.start).toBe(16 * MiB);
    expect(hw.dmesg.entries().map((e) => e.message)).toContain('software IO TLB: SWIOTLB bounce buffer size adjusted 8192 -> 4096 slabs');

    const tiny = new Hardware({ memoryRegions: [{ base: 4 * GiB, size: 64 * MiB }] });
    const none = swiotlbInit(tiny, new Mm(tiny, { zones: X86_64_ZONES, kernelImageSize: 4 * MiB }), { zones: X86_64_ZONES });
    expect(none).toBeNull();
    expect(tiny.dmesg.entries().at(-1)?.message).toBe('software IO TLB: No low mem');
  });

  it('finds low memory from mm\'s zone names when not given the arch\'s zones', () => {
    const m = testMachine();
    const mem = swiotlbInit(m.hw, m.mm, { size: 1 * MiB })!;
    expect(mem.defpool!.end).toBeLessThanOrEqual(4 * GiB);
    expect(m.mm.zoneOf(mem.defpool!.start / 4096)).toBe('DMA32');
  });

  it('rejects bad options naming them', () => {
    const m = testMachine();
    expect(() => swiotlbInit(m.hw, m.mm, { size: 0 })).toThrow(/options.size/);
    expect(() => swiotlbInit(m.hw, m.mm, { areas: 1.5 })).toThrow(/options.areas/);
    expect(() => swiotlbInit(m.hw, m.mm, { force: 1 as never })).toThrow(/options.force/);
    expect(() => swiotlbInit(m.hw, m.mm, null as never)).toThrow(/options/);
  });
});

describe('a dynamic swiotlb (CONFIG_SWIOTLB_DYNAMIC)', () => {
  it('maps into a transient pool when full, and grows a pool on the next clock tick', () => {
    const m = testPool({ size: 256 * KiB, areas: 1, dynamic: true });
    const dev = swiotlbDevice(m.mem, { name: 'usb', dmaMask: 2 ** 32 - 1 });
    const orig = highBuffer(m, 256 * KiB);
    const big = swiotlbTblMapSingle(dev, orig, 256 * KiB, 0, DMA_TO_DEVICE, 0);
    expect(big).not.toBe(SWIOTLB_MAP_ERROR);
    const free = m.mm.stats().freePages;

    m.hw.cpuWrite(orig, pattern(3000, 8), 'normal');
    const tlb = swiotlbTblMapSingle(dev, orig, 3000, 0, DMA_BIDIRECTIONAL, 0);
    expect(tlb).not.toBe(SWIOTLB_MAP_ERROR);
    expect(tlb).toBeLessThan(4 * GiB);
    expect(dev.ioTlbPools).toHaveLength(1);
    expect(isSwiotlbBuffer(dev, tlb)).toBe(true);
    expectBytes(m.hw.cpuRead(tlb, 3000, 'normal'), pattern(3000, 8));
    expect(m.mem.stats()).toMatchObject({ totalSlots: 130, usedSlots: 130 });
    m.hw.cpuWrite(tlb, pattern(3000, 60), 'normal');
    swiotlbTblUnmapSingle(dev, tlb, 3000, DMA_BIDIRECTIONAL, 0);
    expectBytes(m.hw.cpuRead(orig, 3000, 'normal'), pattern(3000, 60));
    expect(dev.ioTlbPools).toHaveLength(0);
    expect(m.mem.stats()).toMatchObject({ totalSlots: 128, usedSlots: 128 });
    expect(m.mm.stats().freePages).toBe(free);

    // The worker queued by the first overflow runs on the next tick and adds a default-sized pool.
    m.hw.clock.advance(1);
    expect(m.mem.pools).toHaveLength(2);
    expect(m.mem.stats().totalSlots).toBe(256);
    const next = swiotlbTblMapSingle(dev, orig, 3000, 0, DMA_TO_DEVICE, 0);
    expect(m.mem.pools[0]!.contains(next)).toBe(true);
    expect(dev.ioTlbPools).toHaveLength(0);
    swiotlbTblUnmapSingle(dev, next, 3000, DMA_TO_DEVICE, 0);
    swiotlbTblUnmapSingle(dev, big, 256 * KiB, DMA_TO_DEVICE, 0);
    expect(m.mem.stats().usedSlots).toBe(0);
  });

  it('still refuses more than a segment', () => {
    const m = testPool({ size: 256 * KiB, dynamic: true });
    const dev = swiotlbDevice(m.mem);
    expect(swiotlbTblMapSingle(dev, 4 * GiB, 300 * KiB, 0, DMA_TO_DEVICE, DMA_ATTR_NO_WARN)).toBe(SWIOTLB_MAP_ERROR);
    expect(m.mem.stats().totalSlots).toBe(256);
  });
});

describe('a restricted DMA pool', () => {
  it('forces bouncing through memory of its own and serves coherent allocations', () => {
    const m = testMachine();
    const mem = swiotlbInitRestricted(m.hw, m.mm, { name: 'wifi-pool', size: 1 * MiB, physLimit: 2 ** 32 - 1, zones: X86_64_ZONES })!;
    expect(m.hw.dmesg.entries().at(-1)?.message).toMatch(/^Reserved memory: created restricted DMA pool at 0x[0-9a-f]{16}, size 1 MiB$/);
    const dev = swiotlbDevice(mem, { name: 'wlan0' });
    expect(isSwiotlbForceBounce(dev)).toBe(true);
    expect(isSwiotlbForAlloc(dev)).toBe(true);
    const pool = mem.defpool!;
    expect(pool.nareas).toBe(1);
    expect(pool.nslabs).toBe(512);

    const orig = highBuffer(m, 4 * KiB);
    const tlb = swiotlbTblMapSingle(dev, orig, 1500, 0, DMA_FROM_DEVICE, 0);
    expect(pool.contains(tlb)).toBe(true);

    const page = swiotlbAlloc(dev, 3 * 4096)!;
    expect(pool.contains(page)).toBe(true);
    expect(page % (4 * 4096)).toBe(0); // aligned to its order
    expect(mem.stats().usedSlots).toBe(1 + 6);
    expect(swiotlbFree(dev, page)).toBe(true);
    expect(swiotlbFree(dev, orig)).toBe(false);
    swiotlbTblUnmapSingle(dev, tlb, 1500, DMA_FROM_DEVICE, 0);
    expect(mem.stats().usedSlots).toBe(0);
    expect(swiotlbAlloc(dev, 2 * MiB)).toBeNull();
  });

  it('lies below the limit it is given, on any zone layout', () => {
    const hw = new Hardware({ memoryRegions: [{ base: 0, size: 64 * MiB }, { base: 4 * GiB, size: 64 * MiB }] });
    const mm = new Mm(hw, { zones: NORMAL_ONLY_ZONES, kernelImageSize: 4 * MiB });
    const mem = swiotlbInitRestricted(hw, mm, { name: 'p', size: 64 * KiB, physLimit: 2 ** 32 - 1 })!;
    expect(mem.defpool!.end).toBeLessThanOrEqual(4 * GiB);
    expect(() => swiotlbInitRestricted(hw, mm, { name: 'p', size: 100 })).toThrow(/options.size/);
  });
});
