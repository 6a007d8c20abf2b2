import { beforeEach, describe, expect, it } from '@jest/globals';
import { NO_KERNEL_MAPPING_BASE } from '@kdma/mm';
import { sgAllocTable, sgSetPage, type Scatterlist } from '@kdma/scatterlist';
import {
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaAllocPages,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaFreePages,
  dmaMapPage,
  dmaMappingError,
  dmaMapResource,
  dmaMapSg,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRangeForCpu,
  dmaUnmapPage,
  dmaUnmapResource,
  dmaUnmapSg,
  dmaUnmapSingle,
  type Device,
  type DmaDebugError,
  type Machine,
} from '../index.js';
import type { DmaDebug } from './dma-debug-hooks.js';
import { a16, createTestMachine, p16 } from '../test-machine.js';

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

function pages(order: number): number {
  const pfn = machine.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages failed');
  return pfn;
}

/** A mapped, checked single buffer. */
function mapChecked(size: number, dir: typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_BIDIRECTIONAL): number {
  const addr = dmaMapSingle(dev, kmalloc(size), size, dir);
  expect(dmaMappingError(dev, addr)).toBe(0);
  return addr;
}

/** A mapped, checked single mapping of `kva`. */
function mapCheckedAt(kva: number, size: number, dir: typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE): number {
  const addr = dmaMapSingle(dev, kva, size, dir);
  expect(dmaMappingError(dev, addr)).toBe(0);
  return addr;
}

/** A list of `count` entries, one page each. */
function sgList(count: number): Scatterlist[] {
  const { sgl } = sgAllocTable(count);
  for (const sg of sgl) sgSetPage(sg, pages(0), 4096, 0);
  return sgl;
}

function reports(): readonly DmaDebugError[] {
  return debug.errors();
}

function only(kind: DmaDebugError['kind'], message: string, device = 'nic0'): void {
  expect(reports()).toEqual([{ device, kind, message }]);
}

describe('correct use', () => {
  it('reports nothing for the whole streaming protocol, sg lists, coherent and page allocations', () => {
    const kva = kmalloc(2048);
    const addr = dmaMapSingle(dev, kva, 2048, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    dev.hw.dmaWrite(addr, new Uint8Array(2048).fill(0xab));
    dmaSyncSingleForCpu(dev, addr, 2048, DMA_FROM_DEVICE);
    expect(machine.cpu.read(kva, 4)).toEqual(new Uint8Array([0xab, 0xab, 0xab, 0xab]));
    machine.cpu.write(kva, new Uint8Array(16));
    dmaSyncSingleForDevice(dev, addr, 2048, DMA_FROM_DEVICE);
    dev.hw.dmaWrite(addr, new Uint8Array(64).fill(1));
    dmaSyncSingleRangeForCpu(dev, addr, 1024, 512, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, addr, 2048, DMA_FROM_DEVICE);

    const sgl = sgList(3);
    const mapped = dmaMapSg(dev, sgl, 3, DMA_TO_DEVICE);
    expect(mapped).toBe(3);
    dmaSyncSgForCpu(dev, sgl, 3, DMA_TO_DEVICE);
    dmaSyncSgForDevice(dev, sgl, 3, DMA_TO_DEVICE);
    dmaUnmapSg(dev, sgl, 3, DMA_TO_DEVICE);

    const coherent = dmaAllocCoherent(dev, 8192);
    expect(coherent).not.toBeNull();
    if (coherent !== null) dmaFreeCoherent(dev, 8192, coherent.cpuAddr, coherent.dmaHandle);

    const noncoherent = dmaAllocPages(dev, 4096, DMA_BIDIRECTIONAL);
    expect(noncoherent).not.toBeNull();
    if (noncoherent !== null) dmaFreePages(dev, 4096, noncoherent.pfn, noncoherent.dmaHandle, DMA_BIDIRECTIONAL);

    const mmio = dmaMapResource(dev, 0xfe000000, 4096, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, mmio)).toBe(0);
    dmaUnmapResource(dev, mmio, 4096, DMA_BIDIRECTIONAL);

    expect(debug.activeEntries).toBe(0);
    machine.removeDevice(dev);
    expect(reports()).toEqual([]);
    expect(machine.hw.dmesg.entries().some((entry) => entry.message.startsWith('DMA-API'))).toBe(false);
  });

  it('lets one buffer be mapped TO_DEVICE for two devices (no cacheline report)', () => {
    const other = machine.createDevice({ name: 'nic1' });
    const kva = kmalloc(256);
    const a = dmaMapSingle(dev, kva, 256, DMA_TO_DEVICE);
    const b = dmaMapSingle(other, kva, 256, DMA_TO_DEVICE);
    dmaMappingError(dev, a);
    dmaMappingError(other, b);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(other, b, 256, DMA_TO_DEVICE);
    expect(reports()).toEqual([]);
  });

  it('prints each report to dmesg as DMA-API: <device>: <message>', () => {
    dmaUnmapSingle(dev, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE);
    const lines = machine.hw.dmesg.entries().filter((entry) => entry.message.startsWith('DMA-API'));
    expect(lines.map((entry) => [entry.level, entry.message])).toEqual([
      ['warn', 'DMA-API: nic0: device driver tries to free an invalid DMA memory address'],
      ['warn', 'DMA-API: nic0: device driver tries to free an invalid DMA memory address'],
    ]);
    expect(reports()).toHaveLength(2);
  });
});

describe('unmap and free checks (check_unmap)', () => {
  it('1: free-invalid-address', () => {
    dmaUnmapSingle(dev, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE);
    only('free-invalid-address', 'device driver tries to free an invalid DMA memory address');
  });

  it('2: free-not-allocated', () => {
    dmaUnmapSingle(dev, 0x1234000, 64, DMA_TO_DEVICE);
    only('free-not-allocated', 'device driver tries to free DMA memory it has not allocated [device address=0x0000000001234000] [size=64 bytes]');
  });

  it('2: another device cannot unmap my mapping', () => {
    const other = machine.createDevice({ name: 'gpu0' });
    const addr = mapChecked(64, DMA_TO_DEVICE);
    dmaUnmapSingle(other, addr, 64, DMA_TO_DEVICE);
    only('free-not-allocated', `device driver tries to free DMA memory it has not allocated [device address=${a16(addr)}] [size=64 bytes]`, 'gpu0');
  });

  it('3: free-size-mismatch', () => {
    const addr = mapChecked(128, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, addr, 64, DMA_TO_DEVICE);
    only('free-size-mismatch', `device driver frees DMA memory with different size [device address=${a16(addr)}] [map size=128 bytes] [unmap size=64 bytes]`);
    expect(debug.activeEntries).toBe(0);
  });

  it('4: free-wrong-function (single unmapped as sg, spelled as the kernel of the era)', () => {
    const addr = mapChecked(64, DMA_TO_DEVICE);
    const { sgl } = sgAllocTable(1);
    const sg = sgl[0] as Scatterlist;
    sg.dmaAddress = addr;
    sg.dmaLength = 64;
    dmaUnmapSg(dev, sgl, 1, DMA_TO_DEVICE);
    // As in the kernel, the sg unmap's entry count is also compared with the single entry's 0.
    expect(reports()).toEqual([
      {
        device: 'nic0',
        kind: 'free-wrong-function',
        message: `device driver frees DMA memory with wrong function [device address=${a16(addr)}] [size=64 bytes] [mapped as single] [unmapped as scather-gather]`,
      },
      { device: 'nic0', kind: 'free-sg-count-mismatch', message: 'device driver frees DMA sg list with different entry count [map count=0] [unmap count=1]' },
    ]);
  });

  it('4: a page allocation unmapped as a single mapping', () => {
    const pagesAlloc = dmaAllocPages(dev, 4096, DMA_FROM_DEVICE);
    if (pagesAlloc === null) throw new Error('dmaAllocPages failed');
    dmaUnmapPage(dev, pagesAlloc.dmaHandle, 4096, DMA_FROM_DEVICE);
    only(
      'free-wrong-function',
      `device driver frees DMA memory with wrong function [device address=${a16(pagesAlloc.dmaHandle)}] [size=4096 bytes] [mapped as noncoherent] [unmapped as single]`,
    );
  });

  it('5: free-cpu-address-mismatch', () => {
    const a = dmaAllocCoherent(dev, 4096);
    const b = dmaAllocCoherent(dev, 4096);
    if (a === null || b === null) throw new Error('dmaAllocCoherent failed');
    dmaFreeCoherent(dev, 4096, b.cpuAddr, a.dmaHandle);
    only(
      'free-cpu-address-mismatch',
      `device driver frees DMA memory with different CPU address [device address=${a16(a.dmaHandle)}] [size=4096 bytes] ` +
        `[cpu alloc address=${a16(a.cpuAddr)}] [cpu free address=${a16(b.cpuAddr)}]`,
    );
  });

  it('6: free-sg-count-mismatch', () => {
    const sgl = sgList(2);
    expect(dmaMapSg(dev, sgl, 2, DMA_TO_DEVICE)).toBe(2);
    dmaUnmapSg(dev, sgl, 1, DMA_TO_DEVICE);
    only('free-sg-count-mismatch', 'device driver frees DMA sg list with different entry count [map count=2] [unmap count=1]');
  });

  it('7: free-direction-mismatch', () => {
    const addr = mapChecked(64, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, addr, 64, DMA_FROM_DEVICE);
    only(
      'free-direction-mismatch',
      `device driver frees DMA memory with different direction [device address=${a16(addr)}] [size=64 bytes] [mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]`,
    );
  });

  it('8: map-error-not-checked (the kernel text has no space before the first bracket)', () => {
    const addr = dmaMapSingle(dev, kmalloc(64), 64, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, addr, 64, DMA_TO_DEVICE);
    only('map-error-not-checked', `device driver failed to check map error[device address=${a16(addr)}] [size=64 bytes] [mapped as single]`);
  });

  it('8: resource mappings must be checked too; sg lists need not be', () => {
    const mmio = dmaMapResource(dev, 0xfe000000, 4096, DMA_BIDIRECTIONAL);
    dmaUnmapResource(dev, mmio, 4096, DMA_BIDIRECTIONAL);
    const sgl = sgList(1);
    dmaMapSg(dev, sgl, 1, DMA_TO_DEVICE);
    dmaUnmapSg(dev, sgl, 1, DMA_TO_DEVICE);
    only('map-error-not-checked', `device driver failed to check map error[device address=${a16(mmio)}] [size=4096 bytes] [mapped as resource]`);
  });

  it('best fit: the same buffer mapped twice is told apart by size and direction', () => {
    const kva = kmalloc(256);
    const a = dmaMapSingle(dev, kva, 256, DMA_TO_DEVICE);
    const b = dmaMapSingle(dev, kva, 128, DMA_TO_DEVICE);
    expect(a).toBe(b);
    dmaMappingError(dev, a);
    dmaMappingError(dev, b);
    dmaUnmapSingle(dev, b, 128, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(reports()).toEqual([]);
  });
});

describe('sync checks (check_sync)', () => {
  it('10: sync-not-allocated', () => {
    dmaSyncSingleForCpu(dev, 0x2000000, 64, DMA_FROM_DEVICE);
    only('sync-not-allocated', 'device driver tries to sync DMA memory it has not allocated [device address=0x0000000002000000] [size=64 bytes]');
  });

  it('11: sync-out-of-range (starts inside the mapping, runs past its end)', () => {
    const addr = mapChecked(256, DMA_FROM_DEVICE);
    dmaSyncSingleRangeForCpu(dev, addr, 128, 256, DMA_FROM_DEVICE);
    only('sync-out-of-range', `device driver syncs DMA memory outside allocated range [device address=${a16(addr)}] [allocation size=256 bytes] [sync offset+size=384]`);
  });

  it('12: sync-direction-mismatch', () => {
    const addr = mapChecked(64, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, addr, 64, DMA_BIDIRECTIONAL);
    only(
      'sync-direction-mismatch',
      `device driver syncs DMA memory with different direction [device address=${a16(addr)}] [size=64 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_BIDIRECTIONAL]`,
    );
  });

  it('13: sync-read-only-for-cpu comes with the direction mismatch', () => {
    const addr = mapChecked(64, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, addr, 64, DMA_FROM_DEVICE);
    const tail = `[device address=${a16(addr)}] [size=64 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]`;
    expect(reports()).toEqual([
      { device: 'nic0', kind: 'sync-direction-mismatch', message: `device driver syncs DMA memory with different direction ${tail}` },
      { device: 'nic0', kind: 'sync-read-only-for-cpu', message: `device driver syncs device read-only DMA memory for cpu ${tail}` },
    ]);
  });

  it('14: sync-write-only-for-device comes with the direction mismatch', () => {
    const addr = mapChecked(64, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, addr, 64, DMA_TO_DEVICE);
    const tail = `[device address=${a16(addr)}] [size=64 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]`;
    expect(reports()).toEqual([
      { device: 'nic0', kind: 'sync-direction-mismatch', message: `device driver syncs DMA memory with different direction ${tail}` },
      { device: 'nic0', kind: 'sync-write-only-for-device', message: `device driver syncs device write-only DMA memory to device ${tail}` },
    ]);
  });

  it('12-15 are skipped for BIDIRECTIONAL mappings', () => {
    const addr = mapChecked(64, DMA_BIDIRECTIONAL);
    dmaSyncSingleForCpu(dev, addr, 64, DMA_TO_DEVICE);
    dmaSyncSingleForDevice(dev, addr, 64, DMA_FROM_DEVICE);
    expect(reports()).toEqual([]);
  });

  it('15: sync-sg-count-mismatch', () => {
    const sgl = sgList(2);
    expect(dmaMapSg(dev, sgl, 2, DMA_FROM_DEVICE)).toBe(2);
    dmaSyncSgForCpu(dev, sgl, 1, DMA_FROM_DEVICE);
    only('sync-sg-count-mismatch', 'device driver syncs DMA sg list with different entry count [map count=2] [sync count=1]');
  });

  it('a sync in the middle of a large mapping finds it by walking back the hash', () => {
    const pfn = pages(6);
    const addr = dmaMapPage(dev, pfn, 0, 64 * 4096, DMA_FROM_DEVICE);
    dmaMappingError(dev, addr);
    dmaSyncSingleRangeForCpu(dev, addr, 60 * 4096, 4096, DMA_FROM_DEVICE);
    dmaUnmapPage(dev, addr, 64 * 4096, DMA_FROM_DEVICE);
    expect(reports()).toEqual([]);
  });
});

describe('map checks', () => {
  it('16: map-invalid-area', () => {
    const addr = dmaMapSingle(dev, NO_KERNEL_MAPPING_BASE, 64, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    only('map-invalid-area', `device driver maps memory from invalid area [addr=${p16(NO_KERNEL_MAPPING_BASE)}] [len=64]`);
  });

  it('17: map-vmalloc (a vmalloc address is not a valid linear address either)', () => {
    const kva = machine.mm.vmalloc(4096);
    if (kva === null) throw new Error('vmalloc failed');
    expect(dmaMapSingle(dev, kva, 4096, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(reports()).toEqual([
      { device: 'nic0', kind: 'map-invalid-area', message: `device driver maps memory from invalid area [addr=${p16(kva)}] [len=4096]` },
      { device: 'nic0', kind: 'map-vmalloc', message: `device driver maps memory from vmalloc area [addr=${p16(kva)}] [len=4096]` },
    ]);
  });

  it('18: map-stack', () => {
    const stack = machine.mm.stackAlloc();
    if (stack === null) throw new Error('stackAlloc failed');
    const addr = dmaMapSingle(dev, stack + 256, 64, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    only('map-stack', `device driver maps memory from stack [addr=${p16(stack + 256)}]`);
  });

  it('19: map-kernel-text (rodata)', () => {
    const kva = machine.mm.kernelImage.rodata.start + 64;
    const addr = dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    only('map-kernel-text', `device driver maps memory from kernel text or rodata [addr=${p16(kva)}] [len=64]`);
  });

  it('19: map-kernel-text for an sg entry in text', () => {
    const text = machine.mm.kernelImage.text.start;
    const { sgl } = sgAllocTable(1);
    sgSetPage(sgl[0] as Scatterlist, machine.mm.virtToPfn(text), 512, 0);
    expect(dmaMapSg(dev, sgl, 1, DMA_TO_DEVICE)).toBe(1);
    only('map-kernel-text', `device driver maps memory from kernel text or rodata [addr=${p16(text)}] [len=512]`);
  });

  it('20: sg-segment-too-long', () => {
    const small = machine.createDevice({ name: 'mmc0', maxSegmentSize: 4096 });
    const { sgl } = sgAllocTable(1);
    sgSetPage(sgl[0] as Scatterlist, pages(1), 8192, 0);
    expect(dmaMapSg(small, sgl, 1, DMA_TO_DEVICE)).toBe(1);
    only('sg-segment-too-long', 'mapping sg segment longer than device claims to support [len=8192] [max=4096]', 'mmc0');
  });

  it('21: sg-segment-across-boundary', () => {
    const bounded = machine.createDevice({ name: 'ata0', segmentBoundaryMask: 0xfff });
    const pfn = pages(1);
    const { sgl } = sgAllocTable(1);
    const sg = sgl[0] as Scatterlist;
    sgSetPage(sg, pfn, 4096, 2048);
    expect(dmaMapSg(bounded, sgl, 1, DMA_TO_DEVICE)).toBe(1);
    only(
      'sg-segment-across-boundary',
      `mapping sg segment across boundary [start=${a16(sg.dmaAddress)}] [end=${a16(sg.dmaAddress + 4095)}] [boundary=0x0000000000000fff]`,
      'ata0',
    );
  });

  it('21: boundaries above 4 GiB are compared without 32-bit truncation', () => {
    const bounded = machine.createDevice({ name: 'ata1', segmentBoundaryMask: 2 ** 36 - 1 });
    const { sgl } = sgAllocTable(1);
    const sg = sgl[0] as Scatterlist;
    sgSetPage(sg, pages(0), 4096, 0);
    expect(dmaMapSg(bounded, sgl, 1, DMA_TO_DEVICE)).toBe(1);
    expect(reports()).toEqual([]);
  });

  it('22: cacheline-overlap for two device-writable mappings of one line', () => {
    const kva = kmalloc(64);
    const a = dmaMapSingle(dev, kva, 32, DMA_FROM_DEVICE);
    const b = dmaMapSingle(dev, kva + 32, 32, DMA_FROM_DEVICE);
    expect(a).not.toBe(DMA_MAPPING_ERROR);
    expect(b).not.toBe(DMA_MAPPING_ERROR);
    only('cacheline-overlap', "cacheline tracking EEXIST, overlapping mappings aren't supported");
  });

  it('22: DMA_ATTR_SKIP_CPU_SYNC and DMA_TO_DEVICE are exempt', () => {
    const kva = kmalloc(64);
    dmaMapSingle(dev, kva, 32, DMA_FROM_DEVICE);
    dmaMapSingleAttrs(dev, kva + 32, 32, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    dmaMapSingle(dev, kva + 16, 16, DMA_TO_DEVICE);
    expect(reports()).toEqual([]);
  });

  it('22: the line is free again once the maps are balanced by unmaps', () => {
    const kva = kmalloc(64);
    const a = dmaMapSingle(dev, kva, 32, DMA_FROM_DEVICE);
    dmaMappingError(dev, a);
    dmaUnmapSingle(dev, a, 32, DMA_FROM_DEVICE);
    const b = dmaMapSingle(dev, kva + 32, 32, DMA_FROM_DEVICE);
    dmaMappingError(dev, b);
    expect(reports()).toEqual([]);
  });

  it('22: more than 7 overlaps warn once in dmesg (a likely leak)', () => {
    const kva = kmalloc(64);
    for (let i = 0; i < 9; i++) dmaMapSingleAttrs(dev, kva, 8, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    const line = Math.floor(machine.mm.virtToPhys(kva) / 64);
    const warnings = machine.hw.dmesg.entries().filter((entry) => entry.message.includes('overlapping mappings of cacheline'));
    expect(warnings.map((entry) => entry.message)).toEqual([`DMA-API: exceeded 7 overlapping mappings of cacheline ${a16(line)}`]);
    expect(reports()).toEqual([]);
  });
});

describe('recycled entries (the free list)', () => {
  it('a remap after many checked cycles starts clean: an unchecked map is reported on unmap', () => {
    const kva = kmalloc(256);
    for (let i = 0; i < 3; i++) {
      const checked = dmaMapSingle(dev, kva, 256, DMA_TO_DEVICE);
      expect(dmaMappingError(dev, checked)).toBe(0);
      dmaUnmapSingle(dev, checked, 256, DMA_TO_DEVICE);
    }
    const addr = dmaMapSingle(dev, kva, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, addr, 256, DMA_TO_DEVICE);
    only('map-error-not-checked', `device driver failed to check map error[device address=${a16(addr)}] [size=256 bytes] [mapped as single]`);
    expect(debug.activeEntries).toBe(0);
  });

  it('a recycled record is watched again, and only as its new mapping', () => {
    const first = kmalloc(4096);
    const second = kmalloc(4096);
    const a = mapCheckedAt(first, 128, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, a, 128, DMA_FROM_DEVICE);
    mapCheckedAt(second, 128, DMA_FROM_DEVICE);
    machine.cpu.write(first, new Uint8Array(8));
    expect(reports()).toEqual([]);
    machine.cpu.write(second + 64, new Uint8Array(8));
    expect(reports().map((r) => r.kind)).toEqual(['cpu-access-device-owned']);
  });

  it('a cache line keeps the attributes of its first mapping after that entry is reused', () => {
    const kva = kmalloc(64);
    const elsewhere = kmalloc(256);
    const a = dmaMapSingleAttrs(dev, kva, 16, DMA_FROM_DEVICE, DMA_ATTR_REQUIRE_COHERENT);
    dmaMappingError(dev, a);
    dmaMapSingleAttrs(dev, kva + 16, 16, DMA_FROM_DEVICE, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES);
    dmaUnmapSingle(dev, a, 16, DMA_FROM_DEVICE);
    // The freed entry comes back for this mapping, with other attributes and another line.
    mapCheckedAt(elsewhere, 256, DMA_FROM_DEVICE);
    dmaMapSingleAttrs(dev, kva + 32, 16, DMA_FROM_DEVICE, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES);
    expect(reports()).toEqual([]);
  });
});

describe('enterSuppress / exitSuppress', () => {
  it('silence the sanitizer until the matching exit, nested like suppress', () => {
    const kva = kmalloc(128);
    mapCheckedAt(kva, 128, DMA_FROM_DEVICE);
    debug.enterSuppress();
    debug.enterSuppress();
    machine.cpu.write(kva, new Uint8Array(4));
    debug.exitSuppress();
    machine.cpu.write(kva, new Uint8Array(4));
    debug.exitSuppress();
    expect(reports()).toEqual([]);
    machine.cpu.write(kva, new Uint8Array(4));
    expect(reports().map((r) => r.kind)).toEqual(['cpu-access-device-owned']);
  });
});

describe('23: leak on driver unbind', () => {
  it('reports the count and the details of one leaked entry', () => {
    mapChecked(64, DMA_TO_DEVICE);
    const last = mapChecked(128, DMA_FROM_DEVICE);
    machine.removeDevice(dev);
    only(
      'leak',
      'device driver has pending DMA allocations while released from device [count=2]\n' +
        `One of leaked entries details: [device address=${a16(last)}] [size=128 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]`,
    );
  });

  it('counts coherent allocations and only the removed device', () => {
    const other = machine.createDevice({ name: 'gpu0' });
    const buffer = dmaAllocCoherent(dev, 4096);
    if (buffer === null) throw new Error('dmaAllocCoherent failed');
    dmaMapSingle(other, kmalloc(64), 64, DMA_TO_DEVICE);
    machine.removeDevice(dev);
    only(
      'leak',
      'device driver has pending DMA allocations while released from device [count=1]\n' +
        `One of leaked entries details: [device address=${a16(buffer.dmaHandle)}] [size=4096 bytes] [mapped with DMA_BIDIRECTIONAL] [mapped as coherent]`,
    );
  });
});

describe('coherent allocations without a kernel mapping', () => {
  it('are recorded and checked like any other (the kernel skips cookies it cannot translate)', () => {
    const freed = dmaAllocAttrs(dev, 8192, DMA_ATTR_NO_KERNEL_MAPPING);
    const leaked = dmaAllocAttrs(dev, 4096, DMA_ATTR_NO_KERNEL_MAPPING);
    if (freed === null || leaked === null) throw new Error('dmaAllocAttrs failed');
    dmaFreeAttrs(dev, 8192, freed.cpuAddr, freed.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(reports()).toEqual([]);
    machine.removeDevice(dev);
    only(
      'leak',
      'device driver has pending DMA allocations while released from device [count=1]\n' +
        `One of leaked entries details: [device address=${a16(leaked.dmaHandle)}] [size=4096 bytes] [mapped with DMA_BIDIRECTIONAL] [mapped as coherent]`,
    );
  });
});

describe('dma-debug off', () => {
  it('machine.dmaDebug is null and misuse is not reported', () => {
    const plain = createTestMachine();
    expect(plain.dmaDebug).toBeNull();
    const nic = plain.createDevice({ name: 'nic0' });
    const kva = plain.mm.kmalloc(64) as number;
    const addr = dmaMapSingle(nic, kva, 64, DMA_FROM_DEVICE);
    plain.cpu.write(kva, new Uint8Array(8));
    dmaUnmapSingle(nic, addr, 32, DMA_TO_DEVICE);
    dmaUnmapSingle(nic, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE);
    dmaMapSingle(nic, kva, 64, DMA_FROM_DEVICE);
    plain.removeDevice(nic);
    expect(plain.hw.dmesg.entries().some((entry) => entry.message.startsWith('DMA-API'))).toBe(false);
  });
});
