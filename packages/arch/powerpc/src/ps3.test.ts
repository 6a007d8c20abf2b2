import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EIO,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSingle,
  dmaMappingError,
  dmaSetMask,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { getDmaOps } from '@kdma/dma-mapping/ops';
import { sgAllocTableFromPages } from '@kdma/scatterlist';
import { firstDifference, pattern } from '@kdma/testkit';
import {
  CBE_IOPTE_M,
  CBE_IOPTE_PP_R,
  CBE_IOPTE_PP_W,
  CBE_IOPTE_SO_R,
  CBE_IOPTE_SO_RW,
  createMachine,
  powerpcState,
  PS3_DMA_16M,
  PS3_DMA_4K,
  PS3_IOC0_IO_BASE,
  PS3_SB_IO_BASE,
  PS3_SB_IOPTE_FLAGS,
  ps3Device,
  type Lv1,
} from './index.js';
import { MIB, must } from './test-machines.js';

function lv1Of(m: ReturnType<typeof createMachine>): Lv1 {
  const lv1 = powerpcState(m).lv1;
  if (lv1 === null) throw new Error('no lv1');
  return lv1;
}

describe('ps3: system-bus devices (ps3_sb_dma_ops)', () => {
  it('opens the device and maps all of RAM into its DMA region with 16 MiB pages through lv1', () => {
    const m = createMachine({ platform: 'ps3' });
    const lv1 = lv1Of(m);
    const dev = m.createDevice({ name: 'gelic' });
    expect(getDmaOps(dev).name).toBe('ps3_sb_dma_ops');
    const { devId } = ps3Device(dev);
    expect(lv1.calls.map((call) => call.name)).toEqual([
      'lv1_open_device',
      'lv1_allocate_device_dma_region',
      'lv1_map_device_dma_region',
      'lv1_map_device_dma_region',
    ]);
    // "forcing 16M pages for linear map"; a power-of-two region of the whole 256 MiB.
    expect(lv1.calls[1]).toMatchObject({ args: [1, devId, 256 * MIB, PS3_DMA_16M, 0], status: 0, out: PS3_SB_IO_BASE });
    // The real-mode region, then the high region, each onto the same offset in the region.
    expect(lv1.calls[2]?.args).toEqual([1, devId, 0, PS3_SB_IO_BASE, 128 * MIB, PS3_SB_IOPTE_FLAGS]);
    expect(lv1.calls[3]?.args).toEqual([1, devId, 128 * MIB, PS3_SB_IO_BASE + 128 * MIB, 128 * MIB, PS3_SB_IOPTE_FLAGS]);
    expect(ps3Device(dev).region.pageShift).toBe(PS3_DMA_16M);
  });

  it('maps by arithmetic in the linear region: no hypervisor call per mapping', () => {
    const m = createMachine({ platform: 'ps3', dmaDebug: true });
    const lv1 = lv1Of(m);
    const dev = m.createDevice({ name: 'ps3disk' });
    const calls = lv1.calls.length;
    const kva = must(m.mm.kmalloc(1000), 'kmalloc');
    m.cpu.write(kva, pattern(1000, 1));
    const addr = dmaMapSingle(dev, kva, 1000, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    expect(addr).toBe(PS3_SB_IO_BASE + m.mm.virtToPhys(kva));
    expect(firstDifference(dev.hw.dmaRead(addr, 1000), pattern(1000, 1))).toBe(-1);
    dmaUnmapSingle(dev, addr, 1000, DMA_TO_DEVICE);
    expect(lv1.calls.length).toBe(calls);
    // Outside the region nothing is mapped.
    expect(() => dev.hw.dmaRead(0x1000, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
    // Each device has its own IO address space: another device's region is not this one's.
    const other = m.createDevice({ name: 'ps3rom' });
    expect(dmaMapSingle(other, kva, 16, DMA_TO_DEVICE)).toBe(addr);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('accepts masks of 32 bits or more', () => {
    const m = createMachine({ platform: 'ps3' });
    const dev = m.createDevice({ name: 'ehci' });
    expect(dmaSetMask(dev, dmaBitMask(31))).toBe(-EIO);
    expect(dmaSetMask(dev, dmaBitMask(32))).toBe(0);
  });
});

describe('ps3: IOC0 devices (ps3_ioc0_dma_ops)', () => {
  it('allocates an IO segment and sets one IOPTE per IO page of each mapping with lv1_put_iopte', () => {
    const m = createMachine({ platform: 'ps3', defaultBus: 'ps3-ioc0', dmaDebug: true });
    const lv1 = lv1Of(m);
    const dev = m.createDevice({ name: 'snd_ps3' });
    expect(getDmaOps(dev).name).toBe('ps3_ioc0_dma_ops');
    expect(lv1.callsNamed('lv1_gpu_open')).toHaveLength(1);
    expect(lv1.callsNamed('lv1_allocate_io_segment')[0]).toMatchObject({ args: [0, 256 * MIB, 16], out: PS3_IOC0_IO_BASE });
    const pfn = must(m.mm.allocPages(6), 'allocPages');
    const kva = m.mm.pageAddress(pfn);
    m.cpu.write(kva, pattern(3 * 65536, 2));
    const before = lv1.callsNamed('lv1_put_iopte').length;
    const addr = dmaMapSingle(dev, kva, 3 * 65536, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    const puts = lv1.callsNamed('lv1_put_iopte').slice(before);
    expect(puts).toHaveLength(3);
    expect(puts[0]?.args).toEqual([0, addr, pfn * 4096, 0, CBE_IOPTE_M | CBE_IOPTE_PP_R | CBE_IOPTE_SO_R]);
    expect(firstDifference(dev.hw.dmaRead(addr, 3 * 65536), pattern(3 * 65536, 2))).toBe(-1);
    // TO_DEVICE: read-only IOPTEs.
    expect(() => dev.hw.dmaWrite(addr, new Uint8Array(4))).toThrow(expect.objectContaining({ kind: 'permission' }));
    dmaUnmapSingle(dev, addr, 3 * 65536, DMA_TO_DEVICE);
    const cleared = lv1.callsNamed('lv1_put_iopte').slice(before + 3);
    expect(cleared.map((call) => call.args[4])).toEqual([0, 0, 0]);
    expect(() => dev.hw.dmaRead(addr, 4)).toThrow(expect.objectContaining({ kind: 'translation' }));
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('places each chunk right after the newest one, with IOPTE flags by direction', () => {
    const m = createMachine({ platform: 'ps3', defaultBus: 'ps3-ioc0', pageSize: 65536 });
    const lv1 = lv1Of(m);
    const dev = m.createDevice({ name: 'ps3fb', ps3DmaPageSize: PS3_DMA_4K });
    const pfn = must(m.mm.allocPages(2), 'allocPages');
    const base = ps3Device(dev).region.busAddr;
    // One 4 KiB IO page per mapping: the flags of the IOPTE lv1 was asked to set.
    const flagsOf = (dir: DmaDataDirection, page: number): number | undefined => {
      dmaMapSingle(dev, m.mm.pageAddress(pfn) + page * 4096, 4096, dir);
      return lv1.calls.at(-1)?.args[4];
    };
    expect(flagsOf(DMA_BIDIRECTIONAL, 0)).toBe(CBE_IOPTE_M | CBE_IOPTE_PP_R | CBE_IOPTE_PP_W | CBE_IOPTE_SO_RW);
    expect(flagsOf(DMA_FROM_DEVICE, 1)).toBe(CBE_IOPTE_M | CBE_IOPTE_PP_W | CBE_IOPTE_SO_RW);
    expect(flagsOf(DMA_TO_DEVICE, 2)).toBe(CBE_IOPTE_M | CBE_IOPTE_PP_R | CBE_IOPTE_SO_R);
    const region = ps3Device(dev).region;
    expect(region.chunks.map((chunk) => chunk.bus - base)).toEqual([0x2000, 0x1000, 0]);
  });

  it('runs the ownership protocol for single buffers in every direction, and coherent buffers', () => {
    const m = createMachine({ platform: 'ps3', defaultBus: 'ps3-ioc0', dmaDebug: true });
    const dev = m.createDevice({ name: 'ps3gpu' });
    for (const dir of [DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL] as const) {
      const pfn = must(m.mm.allocPages(4), 'allocPages');
      const kva = m.mm.pageAddress(pfn);
      const size = 2 * 65536;
      m.cpu.write(kva, pattern(size, 10 + dir));
      const addr = dmaMapSingle(dev, kva, size, dir);
      expect(dmaMappingError(dev, addr)).toBe(0);
      if (dir !== DMA_FROM_DEVICE) expect(firstDifference(dev.hw.dmaRead(addr, size), pattern(size, 10 + dir))).toBe(-1);
      if (dir !== DMA_TO_DEVICE) dev.hw.dmaWrite(addr, pattern(size, 20 + dir));
      dmaSyncSingleForCpu(dev, addr, size, dir);
      if (dir !== DMA_TO_DEVICE) expect(firstDifference(m.cpu.read(kva, size), pattern(size, 20 + dir))).toBe(-1);
      dmaSyncSingleForDevice(dev, addr, size, dir);
      dmaUnmapSingle(dev, addr, size, dir);
    }
    const buf = must(dmaAllocCoherent(dev, 100000), 'dmaAllocCoherent');
    dev.hw.dmaWrite(buf.dmaHandle, pattern(100000, 7));
    expect(firstDifference(m.cpu.read(buf.cpuAddr, 100000), pattern(100000, 7))).toBe(-1);
    dmaFreeCoherent(dev, 100000, buf.cpuAddr, buf.dmaHandle);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('BUG()s on a scatterlist and on mapping the same memory twice', () => {
    const m = createMachine({ platform: 'ps3', defaultBus: 'ps3-ioc0' });
    const dev = m.createDevice({ name: 'ps3gpu' });
    const pfn = must(m.mm.allocPages(1), 'allocPages');
    const sgt = sgAllocTableFromPages([pfn], 0, 4096, undefined, 4096);
    if (typeof sgt === 'number') throw new Error('sg table');
    expect(() => dmaMapSg(dev, sgt.sgl, 1, DMA_TO_DEVICE)).toThrow('kernel BUG at arch/powerpc/platforms/ps3/system-bus.c:ps3_ioc0_map_sg!');
    const kva = m.mm.pageAddress(pfn);
    dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE);
    expect(() => dmaMapSingle(dev, kva + 1024, 64, DMA_TO_DEVICE)).toThrow(/kernel BUG at arch\/powerpc\/platforms\/ps3\/mm.c:dma_ioc0_map_area/);
  });
});
