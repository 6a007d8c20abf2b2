import { describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import {
  DMA_MAPPING_ERROR,
  dmaAllocAttrs,
  dmaBitMask,
  dmaCacheSync,
  dmaFreeAttrs,
  dmaMapPageAttrs,
  dmaMappingError,
  dmaMapSgtable,
  dmaMapSingleAttrs,
  dmaMmapAttrs,
  dmaSetMaskAndCoherent,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPageAttrs,
  dmaUnmapSgtable,
  dmaUnmapSingleAttrs,
  EIO,
  ENXIO,
  type Device,
} from '@kdma/dma-mapping';
import { getDmaOps, type ArchFacts, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import type { MemoryType } from '@kdma/hw';
import { CpuFault, MmapError } from '@kdma/mm';
import { sgAllocTableFromPages, sgCopyFromBuffer, sgCopyToBuffer, type SgTable } from '@kdma/scatterlist';
import { describeDmaDebugConformance } from './dma-debug-conformance.js';
import { checkKernelRefusals, refusesMask, type KernelRefusals } from './kernel-refusals.js';
import { firstDifference, pattern } from './patterns.js';
import { CONFORMANCE_SUITE_SUFFIX } from './suite-titles.js';

/** What the kit needs to know about an arch package. */
export interface ConformanceOptions {
  readonly arch: ArchFacts;
  readonly createMachine: (options?: MachineOptions) => Machine;
  /** Options every machine of the kit gets (a platform, an IOMMU, …). */
  readonly machineOptions?: MachineOptions;
  /** The memory type of `pgprot_dmacoherent` on this arch (ARM: bufferable 'wc'). */
  readonly dmacoherentType?: MemoryType;
  /**
   * What the kernel refuses on these machines where the kit would expect success, per dma_map_ops
   * (see `KernelRefusals`): the kit asserts those refusals instead, and only on those ops.
   */
  readonly kernelRefuses?: KernelRefusals;
}

const DIRECTIONS: readonly [string, DmaDataDirection][] = [
  ['DMA_TO_DEVICE', DMA_TO_DEVICE],
  ['DMA_FROM_DEVICE', DMA_FROM_DEVICE],
  ['DMA_BIDIRECTIONAL', DMA_BIDIRECTIONAL],
];

/** The coherence variants an arch's devices come in. */
function coherenceVariants(arch: ArchFacts): (boolean | undefined)[] {
  return arch.coherent === 'per-device' ? [false, true] : [undefined];
}

/**
 * The conformance suite every arch package runs: the DMA API's promises, checked through the
 * simulated hardware, on whatever dma_map_ops the arch picks for a device.
 */
export function describeDmaConformance(options: ConformanceOptions): void {
  const { arch } = options;
  checkKernelRefusals(arch, options.kernelRefuses);
  const machine = (extra: MachineOptions = {}) => options.createMachine({ dmaDebug: true, ...options.machineOptions, ...extra });

  describe(`${arch.name}${CONFORMANCE_SUITE_SUFFIX}`, () => {
    for (const coherent of coherenceVariants(arch)) {
      const label = coherent === undefined ? 'default device' : coherent ? 'coherent device' : 'non-coherent device';
      const device = (m: Machine, extra: Partial<Parameters<Machine['createDevice']>[0]> = {}) =>
        m.createDevice({ name: 'kit0', ...(coherent === undefined ? {} : { coherent }), ...extra });

      describe(label, () => {
        it('allocates and frees with every attribute combination, keeping the coherent memory promise', () => {
          const m = machine();
          const dev = device(m);
          const size = 2 * m.pageSize + 100;
          const before = m.mm.stats();
          const fromDevice = pattern(size, 1);
          const fromCpu = pattern(size, 2);
          for (let attrs = 0; attrs < 1 << 10; attrs++) {
            const buf = dmaAllocAttrs(dev, size, attrs);
            if (buf === null) throw new Error(`dmaAllocAttrs(attrs=0x${attrs.toString(16)}) failed`);
            expect(buf.dmaHandle + size - 1).toBeLessThanOrEqual(dev.coherentDmaMask);
            const honoured = attrs & m.directHooks.honouredAttrs;
            if ((honoured & DMA_ATTR_NO_KERNEL_MAPPING) !== 0) {
              expect(() => m.cpu.read(buf.cpuAddr, 1)).toThrow(CpuFault);
            } else {
              const nonConsistent = (honoured & DMA_ATTR_NON_CONSISTENT) !== 0;
              expect(firstDifference(m.cpu.read(buf.cpuAddr, size), new Uint8Array(size))).toBe(-1);
              dev.hw.dmaWrite(buf.dmaHandle, fromDevice);
              if (nonConsistent) dmaCacheSync(dev, buf.cpuAddr, size, DMA_FROM_DEVICE);
              expect(firstDifference(m.cpu.read(buf.cpuAddr, size), fromDevice)).toBe(-1);
              m.cpu.write(buf.cpuAddr, fromCpu);
              m.cpu.wmb();
              if (nonConsistent) dmaCacheSync(dev, buf.cpuAddr, size, DMA_TO_DEVICE);
              expect(firstDifference(dev.hw.dmaRead(buf.dmaHandle, size), fromCpu)).toBe(-1);
            }
            dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, attrs);
          }
          expect(m.mm.stats()).toEqual(before);
          expect(m.dmaDebug?.errors()).toEqual([]);
        });

        it('exports coherent buffers to user space with the right page attributes', () => {
          const m = machine();
          const dev = device(m);
          const size = 3 * m.pageSize;
          for (const attrs of [0, DMA_ATTR_WRITE_COMBINE, DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_WRITE_COMBINE | DMA_ATTR_NO_KERNEL_MAPPING]) {
            const buf = dmaAllocAttrs(dev, size, attrs);
            if (buf === null) throw new Error('allocation failed');
            const data = pattern(size, attrs + 3);
            dev.hw.dmaWrite(buf.dmaHandle, data);
            const process = m.createProcess();
            const uva = process.mmap(size, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, size, attrs));
            const honoured = attrs & m.directHooks.honouredAttrs;
            const expected: MemoryType = dev.dmaCoherent
              ? 'normal'
              : (honoured & DMA_ATTR_WRITE_COMBINE) !== 0
                ? 'wc'
                : (options.dmacoherentType ?? 'uncached');
            expect(process.pgprotAt(uva)).toBe(expected);
            expect(firstDifference(process.read(uva, size), data)).toBe(-1);
            // The second page alone, through vm_pgoff.
            const second = process.mmap(m.pageSize, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, size, attrs), {
              pgoff: 1,
            });
            expect(firstDifference(process.read(second, m.pageSize), data.subarray(m.pageSize, 2 * m.pageSize))).toBe(-1);
            process.munmap(uva, size);
            process.munmap(second, m.pageSize);
            dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, attrs);
          }
          expect(m.dmaDebug?.errors()).toEqual([]);
        });

        it('refuses a user mapping larger than the buffer or past its end with -ENXIO, mapping nothing', () => {
          const m = machine();
          const dev = device(m);
          const size = 2 * m.pageSize;
          const buf = dmaAllocAttrs(dev, size, 0);
          if (buf === null) throw new Error('allocation failed');
          const process = m.createProcess();
          const mmap = (length: number, pgoff: number) => () =>
            process.mmap(length, (vma) => dmaMmapAttrs(dev, vma, buf.cpuAddr, buf.dmaHandle, size, 0), { pgoff });
          for (const attempt of [mmap(3 * m.pageSize, 0), mmap(m.pageSize, 2), mmap(2 * m.pageSize, 1)]) {
            let error: unknown;
            try {
              attempt();
            } catch (caught) {
              error = caught;
            }
            expect(error).toBeInstanceOf(MmapError);
            expect((error as MmapError).errno).toBe(ENXIO);
          }
          expect(process.vmas()).toHaveLength(0);
          dmaFreeAttrs(dev, size, buf.cpuAddr, buf.dmaHandle, 0);
        });

        for (const [dirName, dir] of DIRECTIONS) {
          it(`streams single, page and sg mappings ${dirName} with the ownership protocol`, () => {
            const m = machine();
            const dev = device(m);
            const size = 3 * m.pageSize;
            const kva = m.mm.kmalloc(size);
            if (kva === null) throw new Error('kmalloc failed');
            runProtocol(m, dev, dir, size, {
              map: (d) => dmaMapSingleAttrs(dev, kva, size, d),
              unmap: (addr, d) => dmaUnmapSingleAttrs(dev, addr, size, d),
              cpuWrite: (bytes) => m.cpu.write(kva, bytes),
              cpuRead: () => m.cpu.read(kva, size),
            });
            m.mm.kfree(kva);

            const pfn = m.mm.allocPages(2);
            if (pfn === null) throw new Error('allocPages failed');
            const offset = 64;
            const pageKva = m.mm.pageAddress(pfn) + offset;
            runProtocol(m, dev, dir, size, {
              map: (d) => dmaMapPageAttrs(dev, pfn, offset, size, d),
              unmap: (addr, d) => dmaUnmapPageAttrs(dev, addr, size, d),
              cpuWrite: (bytes) => m.cpu.write(pageKva, bytes),
              cpuRead: () => m.cpu.read(pageKva, size),
            });
            m.mm.freePages(pfn, 2);

            runSgProtocol(m, dev, dir);
            expect(m.dmaDebug?.errors()).toEqual([]);
          });
        }

        it.each([24, 32, 64])('serves a %i-bit device only memory it can reach', (bits) => {
          const m = machine();
          const dev = device(m, { dmaBits: bits });
          const masks = [dev.dmaMask, dev.coherentDmaMask];
          const ret = dmaSetMaskAndCoherent(dev, dmaBitMask(bits));
          if (refusesMask(options.kernelRefuses, getDmaOps(dev).name, bits)) {
            // The ops' dma_supported refuses this width, as declared: -EIO, the masks left as they were.
            expect(ret).toBe(-EIO);
            expect([dev.dmaMask, dev.coherentDmaMask]).toEqual(masks);
            return;
          }
          if (ret !== 0) {
            expect(bits).toBeLessThan(32);
            return;
          }
          const buf = dmaAllocAttrs(dev, 2 * m.pageSize, 0);
          if (buf !== null) {
            expect(buf.dmaHandle + 2 * m.pageSize - 1).toBeLessThanOrEqual(dmaBitMask(bits));
            dmaFreeAttrs(dev, 2 * m.pageSize, buf.cpuAddr, buf.dmaHandle, 0);
          }
          const kva = m.mm.kmalloc(256);
          if (kva === null) throw new Error('kmalloc failed');
          const data = pattern(256, bits);
          m.cpu.write(kva, data);
          const addr = dmaMapSingleAttrs(dev, kva, 256, DMA_TO_DEVICE);
          if (dmaMappingError(dev, addr) === 0) {
            expect(addr + 255).toBeLessThanOrEqual(dmaBitMask(bits));
            expect(firstDifference(dev.hw.dmaRead(addr, 256), data)).toBe(-1);
            dmaUnmapSingleAttrs(dev, addr, 256, DMA_TO_DEVICE);
          } else {
            expect(addr).toBe(DMA_MAPPING_ERROR);
          }
          m.mm.kfree(kva);
          expect(m.dmaDebug?.errors()).toEqual([]);
        });
      });
    }
  });

  describeDmaDebugConformance(options);
}

interface SingleBuffer {
  map(dir: DmaDataDirection): number;
  unmap(addr: number, dir: DmaDataDirection): void;
  cpuWrite(bytes: Uint8Array): void;
  cpuRead(): Uint8Array;
}

/**
 * map → device → sync for CPU → CPU → sync for device → device → unmap → CPU, with the reads and
 * writes each direction allows, checking that every party sees the other's latest bytes.
 */
function runProtocol(m: Machine, dev: Device, dir: DmaDataDirection, size: number, buffer: SingleBuffer): void {
  const toDevice = dir !== DMA_FROM_DEVICE;
  const fromDevice = dir !== DMA_TO_DEVICE;
  const a = pattern(size, 10 + dir);
  buffer.cpuWrite(a);
  // The CPU reads its own buffer, so stale lines would hide a missing invalidate later.
  buffer.cpuRead();
  const addr = buffer.map(dir);
  expect(dmaMappingError(dev, addr)).toBe(0);
  if (toDevice) expect(firstDifference(dev.hw.dmaRead(addr, size), a)).toBe(-1);
  const b = pattern(size, 20 + dir);
  if (fromDevice) dev.hw.dmaWrite(addr, b);
  dmaSyncSingleForCpu(dev, addr, size, dir);
  if (fromDevice) expect(firstDifference(buffer.cpuRead(), b)).toBe(-1);
  const c = pattern(size, 30 + dir);
  if (toDevice) buffer.cpuWrite(c);
  dmaSyncSingleForDevice(dev, addr, size, dir);
  if (toDevice) expect(firstDifference(dev.hw.dmaRead(addr, size), c)).toBe(-1);
  const d = pattern(size, 40 + dir);
  if (fromDevice) dev.hw.dmaWrite(addr, d);
  buffer.unmap(addr, dir);
  expect(firstDifference(buffer.cpuRead(), fromDevice ? d : c)).toBe(-1);
}

/** The same protocol over a three-page sg table of scattered pages. */
function runSgProtocol(m: Machine, dev: Device, dir: DmaDataDirection): void {
  const pageSize = m.pageSize;
  const pfns = [0, 1, 2].map(() => {
    const pfn = m.mm.allocPages(0);
    // A page in between keeps them apart, so the table has three entries.
    const spacer = m.mm.allocPages(0);
    if (pfn === null || spacer === null) throw new Error('allocPages failed');
    return pfn;
  });
  const size = 3 * pageSize;
  const sgt = sgAllocTableFromPages(pfns, 0, size, undefined, pageSize);
  if (typeof sgt === 'number') throw new Error(`sgAllocTableFromPages: ${sgt}`);
  const deviceRead = (table: SgTable) => gatherDevice(dev, table, size);
  const deviceWrite = (table: SgTable, bytes: Uint8Array) => scatterDevice(dev, table, bytes);
  const cpuWrite = (bytes: Uint8Array) => sgCopyFromBuffer(m.cpu, m.mm, sgt.sgl, sgt.origNents, bytes);
  const cpuRead = () => {
    const out = new Uint8Array(size);
    sgCopyToBuffer(m.cpu, m.mm, sgt.sgl, sgt.origNents, out);
    return out;
  };
  const toDevice = dir !== DMA_FROM_DEVICE;
  const fromDevice = dir !== DMA_TO_DEVICE;
  const a = pattern(size, 50 + dir);
  cpuWrite(a);
  cpuRead();
  expect(dmaMapSgtable(dev, sgt, dir)).toBe(0);
  expect(sgt.nents).toBeGreaterThan(0);
  if (toDevice) expect(firstDifference(deviceRead(sgt), a)).toBe(-1);
  const b = pattern(size, 60 + dir);
  if (fromDevice) deviceWrite(sgt, b);
  dmaSyncSgtableForCpu(dev, sgt, dir);
  if (fromDevice) expect(firstDifference(cpuRead(), b)).toBe(-1);
  const c = pattern(size, 70 + dir);
  if (toDevice) cpuWrite(c);
  dmaSyncSgtableForDevice(dev, sgt, dir);
  if (toDevice) expect(firstDifference(deviceRead(sgt), c)).toBe(-1);
  const d = pattern(size, 80 + dir);
  if (fromDevice) deviceWrite(sgt, d);
  dmaUnmapSgtable(dev, sgt, dir);
  expect(firstDifference(cpuRead(), fromDevice ? d : c)).toBe(-1);
}

/** The device walks the mapped segments (`nents` of them) as a descriptor list. */
function gatherDevice(dev: Device, sgt: SgTable, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i];
    if (sg === undefined) break;
    dev.hw.dmaReadInto(sg.dmaAddress, out.subarray(at, at + sg.dmaLength));
    at += sg.dmaLength;
  }
  return out;
}

function scatterDevice(dev: Device, sgt: SgTable, bytes: Uint8Array): void {
  let at = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i];
    if (sg === undefined) break;
    dev.hw.dmaWrite(sg.dmaAddress, bytes.subarray(at, at + sg.dmaLength));
    at += sg.dmaLength;
  }
}
