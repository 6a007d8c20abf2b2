import { beforeEach, describe, expect, it } from '@jest/globals';
import { sgAllocTable, sgSetPage, type Scatterlist } from '@kdma/scatterlist';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaAllocPages,
  dmaFreePages,
  dmaMappingError,
  dmaMapSg,
  dmaMapSingle,
  dmaSyncSgForCpu,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSg,
  dmaUnmapSingle,
  type Device,
  type DmaDebugError,
  type Machine,
} from '../index.js';
import type { DmaDebug } from './dma-debug-hooks.js';
import { a16, createTestMachine } from '../test-machine.js';

let machine: Machine;
let debug: DmaDebug;
let dev: Device;

beforeEach(() => {
  machine = createTestMachine({ dmaDebug: true });
  debug = machine.dmaDebug as DmaDebug;
  dev = machine.createDevice({ name: 'nic0' });
});

function kmalloc(size: number): number {
  const kva = machine.mm.kmalloc(size);
  if (kva === null) throw new Error('kmalloc failed');
  return kva;
}

function map(kva: number, size: number, dir: typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_BIDIRECTIONAL): number {
  const addr = dmaMapSingle(dev, kva, size, dir);
  expect(dmaMappingError(dev, addr)).toBe(0);
  return addr;
}

function kinds(): DmaDebugError['kind'][] {
  return debug.errors().map((error) => error.kind);
}

describe('cpu-access-device-owned', () => {
  it('reports a CPU write while the device owns the buffer, with the kernel-style details', () => {
    const kva = kmalloc(2048);
    const addr = map(kva, 2048, DMA_FROM_DEVICE);
    machine.cpu.write(kva + 100, new Uint8Array(4));
    const paddr = machine.mm.virtToPhys(kva + 100);
    expect(debug.errors()).toEqual([
      {
        device: 'nic0',
        kind: 'cpu-access-device-owned',
        message:
          `cpu touching an active dma mapped buffer owned by the device [access=write] [paddr=${a16(paddr)}] [len=4] ` +
          `[device address=${a16(addr)}] [size=2048 bytes] [mapped as single] [mapped with DMA_FROM_DEVICE]`,
      },
    ]);
    expect(machine.hw.dmesg.entries().map((entry) => entry.message)).toContain(`DMA-API: nic0: ${debug.errors()[0]?.message}`);
  });

  it('reports a CPU read of a device-owned FROM_DEVICE buffer but not of a TO_DEVICE one', () => {
    const rx = kmalloc(256);
    const tx = kmalloc(256);
    map(rx, 256, DMA_FROM_DEVICE);
    map(tx, 256, DMA_TO_DEVICE);
    machine.cpu.read(tx, 256);
    expect(kinds()).toEqual([]);
    machine.cpu.read(rx, 16);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    expect(debug.errors()[0]?.message).toContain('[access=read]');
  });

  it('reports a CPU write to a device-owned TO_DEVICE buffer', () => {
    const tx = kmalloc(256);
    map(tx, 256, DMA_TO_DEVICE);
    machine.cpu.fill(tx + 200, 8, 0xff);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('reports once per ownership period, and again after the next hand-over', () => {
    const kva = kmalloc(512);
    const addr = map(kva, 512, DMA_BIDIRECTIONAL);
    machine.cpu.write(kva, new Uint8Array(8));
    machine.cpu.write(kva + 64, new Uint8Array(8));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    dmaSyncSingleForCpu(dev, addr, 512, DMA_BIDIRECTIONAL);
    machine.cpu.write(kva, new Uint8Array(8));
    dmaSyncSingleForDevice(dev, addr, 512, DMA_BIDIRECTIONAL);
    machine.cpu.write(kva, new Uint8Array(8));
    expect(kinds()).toEqual(['cpu-access-device-owned', 'cpu-access-device-owned']);
  });

  it('ignores bytes next to the mapping in the same page and accesses after unmap', () => {
    const kva = kmalloc(4096);
    const addr = map(kva + 1024, 1024, DMA_FROM_DEVICE);
    machine.cpu.write(kva, new Uint8Array(1024));
    machine.cpu.write(kva + 2048, new Uint8Array(2048));
    expect(kinds()).toEqual([]);
    dmaUnmapSingle(dev, addr, 1024, DMA_FROM_DEVICE);
    machine.cpu.write(kva + 1024, new Uint8Array(1024));
    expect(kinds()).toEqual([]);
  });

  it('catches a large CPU access spanning many pages', () => {
    const pfn = machine.mm.allocPages(4) as number;
    const base = machine.mm.pageAddress(pfn);
    map(base + 9 * 4096 + 100, 64, DMA_FROM_DEVICE);
    machine.cpu.fill(base, 16 * 4096, 0);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('stays quiet inside suppress (the DMA core copying for swiotlb)', () => {
    const kva = kmalloc(128);
    map(kva, 128, DMA_FROM_DEVICE);
    const value = debug.suppress(() => {
      machine.cpu.write(kva, new Uint8Array(128));
      return 42;
    });
    expect(value).toBe(42);
    expect(kinds()).toEqual([]);
    machine.cpu.write(kva, new Uint8Array(1));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('watches every CPU entry of an sg list', () => {
    const { sgl } = sgAllocTable(3);
    for (const sg of sgl) sgSetPage(sg, machine.mm.allocPages(0) as number, 1024, 512);
    expect(dmaMapSg(dev, sgl, 3, DMA_FROM_DEVICE)).toBe(3);
    const third = sgl[2] as Scatterlist;
    machine.cpu.write(machine.mm.pageAddress(third.pfn) + 600, new Uint8Array(4));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    expect(debug.errors()[0]?.message).toContain('[mapped as scather-gather]');
    dmaSyncSgForCpu(dev, sgl, 3, DMA_FROM_DEVICE);
    machine.cpu.write(machine.mm.pageAddress(third.pfn) + 600, new Uint8Array(4));
    dmaUnmapSg(dev, sgl, 3, DMA_FROM_DEVICE);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('does not watch coherent allocations', () => {
    const buffer = dmaAllocCoherent(dev, 4096);
    if (buffer === null) throw new Error('dmaAllocCoherent failed');
    machine.cpu.write(buffer.cpuAddr, new Uint8Array(64));
    dev.hw.dmaWrite(buffer.dmaHandle, new Uint8Array(64));
    expect(kinds()).toEqual([]);
  });

  it('gives dma_alloc_pages memory to the CPU first, to the device after a sync', () => {
    const pagesAlloc = dmaAllocPages(dev, 8192, DMA_TO_DEVICE);
    if (pagesAlloc === null) throw new Error('dmaAllocPages failed');
    const kva = machine.mm.pageAddress(pagesAlloc.pfn);
    machine.cpu.write(kva, new Uint8Array(8192));
    expect(kinds()).toEqual([]);
    dmaSyncSingleForDevice(dev, pagesAlloc.dmaHandle, 8192, DMA_TO_DEVICE);
    machine.cpu.write(kva + 4096, new Uint8Array(8));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    expect(debug.errors()[0]?.message).toContain('[mapped as noncoherent] [mapped with DMA_TO_DEVICE]');
    dmaFreePages(dev, 8192, pagesAlloc.pfn, pagesAlloc.dmaHandle, DMA_TO_DEVICE);
  });
});

describe('the page index', () => {
  it('keeps working after many mappings come and go', () => {
    const kept = kmalloc(64);
    map(kept, 64, DMA_FROM_DEVICE);
    // 2048 pages mapped and unmapped: enough idle pages for the index to sweep them.
    const bases = [machine.mm.allocPages(10) as number, machine.mm.allocPages(10) as number].map((pfn) => machine.mm.pageAddress(pfn));
    const addrs: number[] = [];
    for (const base of bases) {
      for (let i = 0; i < 1024; i++) addrs.push(map(base + i * 4096, 128, DMA_TO_DEVICE), map(base + i * 4096 + 2048, 128, DMA_FROM_DEVICE));
    }
    addrs.forEach((addr, i) => dmaUnmapSingle(dev, addr, 128, i % 2 === 0 ? DMA_TO_DEVICE : DMA_FROM_DEVICE));
    for (const base of bases) machine.cpu.write(base, new Uint8Array(1024 * 4096));
    expect(kinds()).toEqual([]);
    machine.cpu.write(kept, new Uint8Array(1));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('reports mappings that share a page in the order they were made, whenever they entered the index', () => {
    const base = machine.mm.pageAddress(machine.mm.allocPages(0) as number);
    const a = map(base, 64, DMA_FROM_DEVICE);
    // An access next to the mapping: nothing to report, but the page index now holds `a`.
    machine.cpu.write(base + 2048, new Uint8Array(1));
    const b = map(base + 128, 64, DMA_FROM_DEVICE);
    const c = map(base + 256, 64, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, map(base + 512, 64, DMA_FROM_DEVICE), 64, DMA_FROM_DEVICE);
    expect(kinds()).toEqual([]);
    machine.cpu.write(base, new Uint8Array(1024));
    expect(debug.errors().map((error) => error.message.match(/device address=(0x[0-9a-f]+)/)?.[1])).toEqual([a16(a), a16(b), a16(c)]);
  });

  it('dma_alloc_noncontiguous pages belong to the CPU until synced for the device', () => {
    const { sgl } = sgAllocTable(2);
    for (const sg of sgl) sgSetPage(sg, machine.mm.allocPages(0) as number, 4096, 0);
    sgl.forEach((sg, i) => {
      sg.dmaAddress = 0x40000000 + i * 4096;
      sg.dmaLength = 4096;
    });
    debug.allocNoncontiguous(dev, sgl, 2, DMA_TO_DEVICE, 0);
    const kva = machine.mm.pageAddress((sgl[1] as Scatterlist).pfn);
    machine.cpu.write(kva, new Uint8Array(64));
    expect(kinds()).toEqual([]);
    debug.syncSgForDevice(dev, sgl, 2, DMA_TO_DEVICE);
    machine.cpu.write(kva, new Uint8Array(64));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    debug.unmapSg(dev, sgl, 2, DMA_TO_DEVICE);
    expect(debug.activeEntries).toBe(0);
  });
});

describe('device-access-cpu-owned', () => {
  it('reports a device write after sync for cpu', () => {
    const kva = kmalloc(2048);
    const addr = map(kva, 2048, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(addr, new Uint8Array(64));
    dmaSyncSingleForCpu(dev, addr, 2048, DMA_FROM_DEVICE);
    expect(kinds()).toEqual([]);
    dev.hw.dmaWrite(addr + 512, new Uint8Array(32));
    expect(debug.errors()).toEqual([
      {
        device: 'nic0',
        kind: 'device-access-cpu-owned',
        message:
          `device touching an active dma mapped buffer owned by the cpu [access=write] [paddr=${a16(machine.mm.virtToPhys(kva) + 512)}] [len=32] ` +
          `[device address=${a16(addr)}] [size=2048 bytes] [mapped as single] [mapped with DMA_FROM_DEVICE]`,
      },
    ]);
  });

  it('reports a device read of a CPU-owned TO_DEVICE buffer, not of a FROM_DEVICE one', () => {
    const tx = kmalloc(256);
    const rx = kmalloc(256);
    const txAddr = map(tx, 256, DMA_TO_DEVICE);
    const rxAddr = map(rx, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, txAddr, 256, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, rxAddr, 256, DMA_FROM_DEVICE);
    dev.hw.dmaRead(rxAddr, 16);
    expect(kinds()).toEqual([]);
    dev.hw.dmaRead(txAddr, 16);
    expect(kinds()).toEqual(['device-access-cpu-owned']);
  });

  it('only counts the mapping own device', () => {
    const other = machine.createDevice({ name: 'nic1' });
    const kva = kmalloc(256);
    const addr = map(kva, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, addr, 256, DMA_FROM_DEVICE);
    other.hw.dmaWrite(addr, new Uint8Array(16));
    expect(kinds()).toEqual([]);
  });

  it('stops watching a removed device (its leak is reported once)', () => {
    const kva = kmalloc(256);
    map(kva, 256, DMA_FROM_DEVICE);
    machine.removeDevice(dev);
    machine.cpu.write(kva, new Uint8Array(16));
    expect(kinds()).toEqual(['leak']);
  });
});

describe('bounced mappings (swiotlb)', () => {
  beforeEach(() => {
    // An x86-like machine that bounces every streaming mapping.
    machine = createTestMachine({ dmaDebug: true, swiotlb: { size: 1024 * 1024, force: true } });
    debug = machine.dmaDebug as DmaDebug;
    dev = machine.createDevice({ name: 'nvme0' });
  });

  it('reports a device write to the bounce slot while the CPU owns the buffer', () => {
    const kva = kmalloc(2048);
    const addr = map(kva, 2048, DMA_FROM_DEVICE);
    // The device is handed the slot, not the buffer.
    expect(addr).not.toBe(machine.mm.virtToPhys(kva));
    expect(machine.swiotlb?.isBuffer(dev, addr)).toBe(true);
    dev.hw.dmaWrite(addr, new Uint8Array(64));
    dmaSyncSingleForCpu(dev, addr, 2048, DMA_FROM_DEVICE);
    // The bounce copy into the buffer is the DMA core's own, and the CPU may read its buffer now.
    machine.cpu.read(kva, 64);
    expect(kinds()).toEqual([]);
    dev.hw.dmaWrite(addr + 512, new Uint8Array(32));
    expect(debug.errors()).toEqual([
      {
        device: 'nvme0',
        kind: 'device-access-cpu-owned',
        message:
          `device touching an active dma mapped buffer owned by the cpu [access=write] [paddr=${a16(addr + 512)}] [len=32] ` +
          `[device address=${a16(addr)}] [size=2048 bytes] [mapped as single] [mapped with DMA_FROM_DEVICE]`,
      },
    ]);
    // Handed back, the slot is the device's again; once unmapped, it is nobody's mapping.
    dmaSyncSingleForDevice(dev, addr, 2048, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(addr, new Uint8Array(64));
    dmaUnmapSingle(dev, addr, 2048, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(addr, new Uint8Array(64));
    expect(kinds()).toEqual(['device-access-cpu-owned']);
  });

  it('still reports a CPU write to the original buffer while the device owns it, and not the bounce copies', () => {
    const kva = kmalloc(1024);
    const addr = map(kva, 1024, DMA_TO_DEVICE);
    dev.hw.dmaRead(addr, 1024);
    expect(kinds()).toEqual([]);
    machine.cpu.write(kva + 8, new Uint8Array(4));
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    dmaUnmapSingle(dev, addr, 1024, DMA_TO_DEVICE);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });

  it('forgets the slot with the mapping: a later mapping of other memory in the same slot is watched afresh', () => {
    const first = kmalloc(512);
    const a1 = map(first, 512, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(a1, new Uint8Array(8));
    dmaUnmapSingle(dev, a1, 512, DMA_FROM_DEVICE);
    const second = kmalloc(512);
    const a2 = map(second, 512, DMA_TO_DEVICE);
    dev.hw.dmaRead(a2, 8);
    dmaSyncSingleForCpu(dev, a2, 512, DMA_TO_DEVICE);
    dev.hw.dmaRead(a2, 8);
    expect(kinds()).toEqual(['device-access-cpu-owned']);
    dmaUnmapSingle(dev, a2, 512, DMA_TO_DEVICE);
  });
});
