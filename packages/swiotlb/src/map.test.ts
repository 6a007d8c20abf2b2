import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '@kdma/dma-attrs';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, SWIOTLB_MAP_ERROR } from './io-tlb.js';
import {
  isSwiotlbActive,
  isSwiotlbBuffer,
  isSwiotlbForceBounce,
  swiotlbMaxMappingSize,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
} from './map.js';
import { GiB, KiB, expectBytes, highBuffer, pattern, testPool } from './test-machine.js';
import { swiotlbDevice } from './types.js';

describe('swiotlbMaxMappingSize', () => {
  it('is one segment less the slots min_align_mask can skip', () => {
    expect(swiotlbMaxMappingSize(0)).toBe(262144);
    expect(swiotlbMaxMappingSize(0xfff)).toBe(258048);
    expect(swiotlbMaxMappingSize(0x7ff)).toBe(260096);
    expect(() => swiotlbMaxMappingSize(-1)).toThrow(/minAlignMask/);
  });
});

describe('swiotlbTblMapSingle / swiotlbTblUnmapSingle', () => {
  it('bounces a buffer above 4 GiB through a slot below 4 GiB and back', () => {
    const m = testPool({ size: 1024 * KiB });
    const dev = swiotlbDevice(m.mem, { name: 'nic' });
    const orig = highBuffer(m, 8 * KiB);
    m.hw.cpuWrite(orig, pattern(8 * KiB, 3), 'normal');

    const tlb = swiotlbTblMapSingle(dev, orig, 8 * KiB, 0, DMA_BIDIRECTIONAL, 0);
    expect(tlb).toBeLessThan(4 * GiB);
    expect(tlb % 4096).toBe(0); // a page or more with no alignment asked: page aligned (v6.9)
    expect(isSwiotlbBuffer(dev, tlb)).toBe(true);
    expect(isSwiotlbBuffer(dev, orig)).toBe(false);
    expectBytes(m.hw.cpuRead(tlb, 8 * KiB, 'normal'), pattern(8 * KiB, 3));

    // The device writes the slot; unmap copies it back.
    m.hw.cpuWrite(tlb, pattern(8 * KiB, 77), 'normal');
    swiotlbTblUnmapSingle(dev, tlb, 8 * KiB, DMA_BIDIRECTIONAL, 0);
    expectBytes(m.hw.cpuRead(orig, 8 * KiB, 'normal'), pattern(8 * KiB, 77));
    expect(m.mem.stats()).toEqual({
      totalSlots: 512,
      usedSlots: 0,
      highWaterSlots: 4,
      bouncedToDevice: 8 * KiB,
      bouncedFromDevice: 8 * KiB,
      failures: 0,
    });
  });

  it('copies back only for FROM_DEVICE and BIDIRECTIONAL, and not with SKIP_CPU_SYNC', () => {
    const m = testPool({ size: 1024 * KiB });
    const dev = swiotlbDevice(m.mem);
    const orig = highBuffer(m, 4 * KiB);
    const cases = [
      [DMA_TO_DEVICE, 0, false],
      [DMA_FROM_DEVICE, 0, true],
      [DMA_BIDIRECTIONAL, 0, true],
      [DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC, false],
    ] as const;
    for (const [dir, attrs, copied] of cases) {
      m.hw.cpuWrite(orig, pattern(100, 1), 'normal');
      const tlb = swiotlbTblMapSingle(dev, orig, 100, 0, dir, attrs);
      m.hw.cpuWrite(tlb, pattern(100, 50), 'normal');
      swiotlbTblUnmapSingle(dev, tlb, 100, dir, attrs);
      expectBytes(m.hw.cpuRead(orig, 100, 'normal'), pattern(100, copied ? 50 : 1));
    }
  });

  it('syncs by direction, and a partial sync copies only its range', () => {
    const m = testPool({ size: 1024 * KiB });
    const dev = swiotlbDevice(m.mem);
    const orig = highBuffer(m, 4 * KiB);
    m.hw.cpuWrite(orig, pattern(4000, 1), 'normal');
    const tlb = swiotlbTblMapSingle(dev, orig, 4000, 0, DMA_BIDIRECTIONAL, 0);

    m.hw.cpuWrite(tlb, pattern(4000, 9), 'normal');
    swiotlbSyncSingleForCpu(dev, tlb + 3000, 100, DMA_BIDIRECTIONAL); // the second slot
    const now = m.hw.cpuRead(orig, 4000, 'normal');
    expectBytes(now.subarray(0, 3000), pattern(3000, 1));
    expectBytes(now.subarray(3000, 3100), pattern(4000, 9).subarray(3000, 3100));
    expectBytes(now.subarray(3100), pattern(4000, 1).subarray(3100));

    swiotlbSyncSingleForCpu(dev, tlb, 4000, DMA_TO_DEVICE); // nothing to do
    m.hw.cpuWrite(orig, pattern(4000, 20), 'normal');
    swiotlbSyncSingleForDevice(dev, tlb, 4000, DMA_FROM_DEVICE); // nothing to do
    expectBytes(m.hw.cpuRead(tlb, 10, 'normal'), pattern(10, 9));
    swiotlbSyncSingleForDevice(dev, tlb, 4000, DMA_TO_DEVICE);
    expectBytes(m.hw.cpuRead(tlb, 4000, 'normal'), pattern(4000, 20));
    swiotlbTblUnmapSingle(dev, tlb, 4000, DMA_TO_DEVICE, 0);
  });

  it('keeps the low min_align_mask bits of the original address (NVMe)', () => {
    const m = testPool({ size: 1024 * KiB });
    const nvme = swiotlbDevice(m.mem, { name: 'nvme0', minAlignMask: 0xfff });
    const base = highBuffer(m, 16 * KiB);
    for (const offset of [0, 0x200, 0x800, 0x9f0, 0xffe]) {
      const orig = base + offset;
      m.hw.cpuWrite(orig, pattern(512, offset % 200), 'normal');
      const tlb = swiotlbTblMapSingle(nvme, orig, 512, 0, DMA_TO_DEVICE, 0);
      expect(tlb % 4096).toBe(orig % 4096);
      expectBytes(m.hw.cpuRead(tlb, 512, 'normal'), pattern(512, offset % 200));
      swiotlbTblUnmapSingle(nvme, tlb, 512, DMA_TO_DEVICE, 0);
    }
    expect(m.mem.stats().usedSlots).toBe(0);
    // Without the mask the offset is lost: the bounce buffer starts at a slot.
    const plain = swiotlbDevice(m.mem);
    const tlb = swiotlbTblMapSingle(plain, base + 0x9f0, 512, 0, DMA_TO_DEVICE, 0);
    expect(tlb % IO_TLB_SIZE).toBe(0);
    swiotlbTblUnmapSingle(plain, tlb, 512, DMA_TO_DEVICE, 0);
  });

  it('honours alloc_align_mask, padding whole slots in front when min_align_mask asks for it', () => {
    const m = testPool({ size: 2048 * KiB });
    const dev = swiotlbDevice(m.mem, { minAlignMask: 0xffff });
    const base = highBuffer(m, 128 * KiB);
    const orig = base + 0x1234;
    m.hw.cpuWrite(orig, pattern(5000, 4), 'normal');
    const tlb = swiotlbTblMapSingle(dev, orig, 5000, 0xffff, DMA_TO_DEVICE, 0);
    expect(tlb % 0x10000).toBe(0x1234);
    expectBytes(m.hw.cpuRead(tlb, 5000, 'normal'), pattern(5000, 4));
    // 0x1234 + 5000 rounded to 64 KiB: 32 slots, two of them padding.
    expect(m.mem.stats().usedSlots).toBe(32);
    m.hw.cpuWrite(tlb, pattern(5000, 90), 'normal');
    swiotlbTblUnmapSingle(dev, tlb, 5000, DMA_FROM_DEVICE, 0);
    expectBytes(m.hw.cpuRead(orig, 5000, 'normal'), pattern(5000, 90));
    expect(m.mem.stats().usedSlots).toBe(0);
    expect(Array.from(m.mem.defpool!.list.subarray(0, 130))).toEqual([...Array.from({ length: 128 }, (_, i) => 128 - i), 128, 127]);
  });

  it('never lets a mapping cross the segment boundary', () => {
    const m = testPool({ size: 1024 * KiB, areas: 1 });
    const dev = swiotlbDevice(m.mem, { segmentBoundaryMask: 0xffff });
    const orig = highBuffer(m, 64 * KiB);
    const live: number[] = [];
    for (;;) {
      const tlb = swiotlbTblMapSingle(dev, orig, 24 * KiB, 0, DMA_TO_DEVICE, DMA_ATTR_NO_WARN);
      if (tlb === SWIOTLB_MAP_ERROR) break;
      expect(Math.floor(tlb / 0x10000)).toBe(Math.floor((tlb + 24 * KiB - 1) / 0x10000));
      live.push(tlb);
    }
    // Two 24 KiB buffers per 64 KiB window: the last 16 KiB of each stay free.
    expect(live.length).toBe(32);
    for (const tlb of live) swiotlbTblUnmapSingle(dev, tlb, 24 * KiB, DMA_TO_DEVICE, 0);
    expect(m.mem.stats().usedSlots).toBe(0);
  });

  it('refuses 300 KiB with "swiotlb buffer is full" and changes nothing', () => {
    const m = testPool({ size: 1024 * KiB });
    const dev = swiotlbDevice(m.mem, { name: '0000:00:02.0' });
    const orig = highBuffer(m, 512 * KiB);
    const before = Array.from(m.mem.defpool!.list);
    expect(swiotlbTblMapSingle(dev, orig, 300 * KiB, 0, DMA_TO_DEVICE, 0)).toBe(SWIOTLB_MAP_ERROR);
    const log = m.hw.dmesg.entries();
    expect(log[log.length - 1]).toMatchObject({
      level: 'warn',
      message: '0000:00:02.0: swiotlb buffer is full (sz: 307200 bytes), total 512 (slots), used 0 (slots)',
    });
    expect(Array.from(m.mem.defpool!.list)).toEqual(before);
    expect(m.mem.stats()).toMatchObject({ usedSlots: 0, failures: 1, bouncedToDevice: 0 });
    // DMA_ATTR_NO_WARN: the same failure, silently.
    const count = m.hw.dmesg.entries().length;
    expect(swiotlbTblMapSingle(dev, orig, 300 * KiB, 0, DMA_TO_DEVICE, DMA_ATTR_NO_WARN)).toBe(SWIOTLB_MAP_ERROR);
    expect(m.hw.dmesg.entries()).toHaveLength(count);
    // 256 KiB (a whole segment) still fits.
    const tlb = swiotlbTblMapSingle(dev, orig, 256 * KiB, 0, DMA_TO_DEVICE, 0);
    expect(tlb).not.toBe(SWIOTLB_MAP_ERROR);
    expect(m.mem.stats().usedSlots).toBe(IO_TLB_SEGSIZE);
  });

  it('reports "full" with the slots in use when the pool is exhausted, and gets every slot back', () => {
    const m = testPool({ size: 512 * KiB, areas: 2 });
    const dev = swiotlbDevice(m.mem, { name: 'sda' });
    const orig = highBuffer(m, 64 * KiB);
    const initial = Array.from(m.mem.defpool!.list);
    const live: number[] = [];
    let tlb: number;
    while ((tlb = swiotlbTblMapSingle(dev, orig, 40 * KiB, 0, DMA_FROM_DEVICE, 0)) !== SWIOTLB_MAP_ERROR) live.push(tlb);
    // Six 20-slot buffers per 128-slot segment (the rest is too short), in both areas.
    expect(live).toHaveLength(12);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('sda: swiotlb buffer is full (sz: 40960 bytes), total 256 (slots), used 240 (slots)');
    for (const t of live.reverse()) swiotlbTblUnmapSingle(dev, t, 40 * KiB, DMA_FROM_DEVICE, 0);
    expect(Array.from(m.mem.defpool!.list)).toEqual(initial);
    expect(m.mem.stats()).toMatchObject({ usedSlots: 0, highWaterSlots: 240 });
  });

  it('searches from the current CPU\'s area', () => {
    const m = testPool({ size: 512 * KiB, areas: 2 });
    const dev = swiotlbDevice(m.mem);
    const orig = highBuffer(m, 4 * KiB);
    const pool = m.mem.defpool!;
    const a0 = swiotlbTblMapSingle(dev, orig, 100, 0, DMA_TO_DEVICE, 0);
    const a1 = m.hw.runOn(1, () => swiotlbTblMapSingle(dev, orig, 100, 0, DMA_TO_DEVICE, 0));
    expect(Math.floor((a0 - pool.start) / IO_TLB_SIZE)).toBeLessThan(pool.areaNslabs);
    expect(Math.floor((a1 - pool.start) / IO_TLB_SIZE)).toBeGreaterThanOrEqual(pool.areaNslabs);
    expect(Array.from(pool.areaUsed)).toEqual([1, 1]);
  });

  it('refuses a double unmap in dmesg, and throws for addresses outside the pool', () => {
    const m = testPool({ size: 512 * KiB });
    const dev = swiotlbDevice(m.mem);
    const orig = highBuffer(m, 4 * KiB);
    const tlb = swiotlbTblMapSingle(dev, orig, 100, 0, DMA_TO_DEVICE, 0);
    swiotlbTblUnmapSingle(dev, tlb, 100, DMA_TO_DEVICE, 0);
    const before = m.mem.stats();
    swiotlbTblUnmapSingle(dev, tlb, 100, DMA_TO_DEVICE, 0);
    expect(m.hw.dmesg.entries().at(-1)?.message).toMatch(/swiotlb: unmap of free slots at 0x/);
    expect(m.mem.stats()).toEqual(before);
    expect(() => swiotlbTblUnmapSingle(dev, orig, 100, DMA_TO_DEVICE, 0)).toThrow(/tlbAddr 0x1.* is not in a swiotlb pool/);
    expect(m.mem.stats().usedSlots).toBe(0);
  });

  it('rejects bad arguments naming them', () => {
    const m = testPool({ size: 512 * KiB });
    const dev = swiotlbDevice(m.mem);
    expect(() => swiotlbTblMapSingle(dev, -1, 10, 0, DMA_TO_DEVICE, 0)).toThrow(/origAddr/);
    expect(() => swiotlbTblMapSingle(dev, 4096, 0, 0, DMA_TO_DEVICE, 0)).toThrow(/mappingSize/);
    expect(() => swiotlbTblMapSingle(dev, 4096, 10, 0x1000, DMA_TO_DEVICE, 0)).toThrow(/allocAlignMask/);
    expect(() => swiotlbTblMapSingle(dev, 4096, 10, 0, 7 as never, 0)).toThrow(RangeError);
    expect(() => swiotlbTblMapSingle(dev, 4096, 10, 0, DMA_TO_DEVICE, 1.5)).toThrow(/attrs/);
    expect(() => swiotlbTblMapSingle({} as never, 4096, 10, 0, DMA_TO_DEVICE, 0)).toThrow(/dev/);
    expect(m.mem.stats().usedSlots).toBe(0);
  });

  it('answers the questions dma-direct asks', () => {
    const m = testPool({ size: 512 * KiB, force: true });
    const dev = swiotlbDevice(m.mem);
    expect(isSwiotlbActive(dev)).toBe(true);
    expect(isSwiotlbForceBounce(dev)).toBe(true);
    const none = swiotlbDevice(null);
    expect(isSwiotlbActive(none)).toBe(false);
    expect(isSwiotlbBuffer(none, m.mem.defpool!.start)).toBe(false);
    expect(swiotlbTblMapSingle(none, 4096, 10, 0, DMA_TO_DEVICE, 0)).toBe(SWIOTLB_MAP_ERROR);
  });
});

describe('the CVE-2022-0854 fix', () => {
  // One 128-slot segment and one area, so the second mapping lands on the first one's slots.
  function leakScenario(leakyBounce: boolean): { device: Uint8Array; driver: Uint8Array } {
    const m = testPool({ size: 256 * KiB, areas: 1, leakyBounce });
    const dev = swiotlbDevice(m.mem, { name: 'sdb' });
    const secret = highBuffer(m, 256 * KiB);
    m.hw.cpuWrite(secret, new Uint8Array(256 * KiB).fill(0x5e), 'normal');
    const t1 = swiotlbTblMapSingle(dev, secret, 256 * KiB, 0, DMA_TO_DEVICE, 0);
    swiotlbTblUnmapSingle(dev, t1, 256 * KiB, DMA_TO_DEVICE, 0);

    const rx = highBuffer(m, 4 * KiB); // zeroed by nobody: fresh RAM reads zero
    const t2 = swiotlbTblMapSingle(dev, rx, 4 * KiB, 0, DMA_FROM_DEVICE, 0);
    const device = m.hw.cpuRead(t2, 4 * KiB, 'normal'); // what the device can read in its buffer
    m.hw.cpuWrite(t2, pattern(16, 1), 'normal'); // a short packet: 16 bytes written
    swiotlbTblUnmapSingle(dev, t2, 4 * KiB, DMA_FROM_DEVICE, 0);
    return { device, driver: m.hw.cpuRead(rx, 4 * KiB, 'normal') };
  }

  it('before the fix, a FROM_DEVICE mapping exposes an earlier mapping\'s bytes', () => {
    const { device, driver } = leakScenario(true);
    expect(device.every((b) => b === 0x5e)).toBe(true);
    expectBytes(driver.subarray(0, 16), pattern(16, 1));
    expect(driver.subarray(16).every((b) => b === 0x5e)).toBe(true);
  });

  it('today, map copies the original in, so nothing leaks either way', () => {
    const { device, driver } = leakScenario(false);
    expect(device.every((b) => b === 0)).toBe(true);
    expectBytes(driver.subarray(0, 16), pattern(16, 1));
    expect(driver.subarray(16).every((b) => b === 0)).toBe(true);
  });
});
