import { alignDown, alignUp, hex, pow2 } from '@kdma/hw';
import type { Device } from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { CBE_IOPTE_M, CBE_IOPTE_PP_R, CBE_IOPTE_PP_W, CBE_IOPTE_SO_RW } from './cell-iommu.js';
import { LV1_SUCCESS, type Lv1 } from './lv1.js';
import { PS3_DMA_16M } from './options.js';
import { powerpcState } from './state.js';

/*
 * arch/powerpc/platforms/ps3/mm.c, the DMA part: `struct ps3_dma_region` and its two
 * implementations. Linux on the PS3 is built without `CONFIG_PS3_DYNAMIC_DMA`, so an SB device's
 * region is a *linear* one: all of RAM mapped once, when the region is created
 * (`dma_sb_region_create_linear`), and a mapping is arithmetic (`dma_sb_map_area_linear`). An IOC0
 * device's region is dynamic: every mapping is a new chunk of IO pages placed right after the
 * newest chunk, each page set with `lv1_put_iopte`.
 *
 * Partition ("lpar") addresses: the kernel's real-mode region (`map.rm`, 128 MiB) and the
 * high region lv1 hands out (`map.r1`) are placed contiguously in kdma's physical space, so
 * `ps3_mm_phys_to_lpar` is the identity here (the kernel adds `map.r1.offset` above `rm.size`).
 */

/** `CBE_IOPTE_PP_W | CBE_IOPTE_PP_R | CBE_IOPTE_SO_RW | CBE_IOPTE_M` (0xf800000000000000). */
export const PS3_SB_IOPTE_FLAGS = CBE_IOPTE_PP_W | CBE_IOPTE_PP_R | CBE_IOPTE_SO_RW | CBE_IOPTE_M;
/** `map.rm.size`: the real-mode region lv1 gives the partition. */
export const PS3_RM_SIZE = 128 * 2 ** 20;
/** `enum ps3_dma_region_type`: `PS3_DMA_OTHER`. */
export const PS3_DMA_OTHER = 0;

/** `struct dma_chunk`. */
export interface DmaChunk {
  readonly lpar: number;
  readonly bus: number;
  readonly len: number;
  usageCount: number;
}

/** `struct ps3_dma_region`. */
export class Ps3DmaRegion {
  readonly dev: Ps3Device;
  /** IO page shift (`enum ps3_dma_page_size`). */
  pageShift: number;
  readonly regionType: number;
  /** First lpar address covered. */
  readonly offset: number;
  len: number;
  busAddr = 0;
  ioid = 0;
  /** `chunk_list`, newest first. */
  readonly chunks: DmaChunk[] = [];

  constructor(dev: Ps3Device, pageShift: number, regionType: number, len: number) {
    this.dev = dev;
    this.pageShift = pageShift;
    this.regionType = regionType;
    this.offset = 0;
    this.len = len;
  }

  get pageSize(): number {
    return pow2(this.pageShift);
  }
}

/** `struct ps3_system_bus_device`, as far as DMA goes. */
export interface Ps3Device {
  readonly dev: Device;
  /** `PS3_DEVICE_TYPE_SB` or `PS3_DEVICE_TYPE_IOC0`. */
  readonly type: 'sb' | 'ioc0';
  readonly busId: number;
  readonly devId: number;
  /** `d_region`. */
  region: Ps3DmaRegion;
}

/** The lv1 of a machine (the PS3 platform has one). */
function lv1Of(machine: Machine): Lv1 {
  const lv1 = powerpcState(machine).lv1;
  if (lv1 === null) throw new TypeError('machine is not a PS3');
  return lv1;
}

/** `BUG()`: the kernel's oops, as an exception (after the message it prints). */
export function kernelBug(machine: Machine, where: string): never {
  const message = `kernel BUG at ${where}!`;
  machine.printk('err', null, message);
  throw new Error(message);
}

/** `ps3_mm_phys_to_lpar`. */
export function ps3MmPhysToLpar(phys: number): number {
  return phys;
}

/**
 * `ps3_dma_region_init(dev, r, page_size, region_type, NULL, 0)`: a region covering all of the
 * partition's memory (`map.total` rounded to the page size).
 */
export function ps3DmaRegionInit(dev: Ps3Device, pageShift: number, regionType: number): Ps3DmaRegion {
  const total = dev.dev.machine.hw.ram.regions.reduce((sum, region) => Math.max(sum, region.base + region.size), 0);
  return new Ps3DmaRegion(dev, pageShift, regionType, alignUp(total, pow2(pageShift)));
}

/** `dma_sb_lpar_to_bus`: "BUG_ON(lpar_addr < r->offset); BUG_ON(lpar_addr >= r->offset + r->len);" */
export function dmaSbLparToBus(r: Ps3DmaRegion, lpar: number): number {
  if (lpar < r.offset || lpar >= r.offset + r.len) kernelBug(r.dev.dev.machine, 'arch/powerpc/platforms/ps3/mm.c:dma_sb_lpar_to_bus');
  return r.busAddr + lpar - r.offset;
}

/**
 * `dma_sb_region_create_linear`: "forcing 16M pages for linear map" when the region is larger than
 * 16 MiB; `lv1_allocate_device_dma_region` for the power of two above its length; then one
 * `lv1_map_device_dma_region` for the real-mode region and one for the high region.
 */
function dmaSbRegionCreateLinear(lv1: Lv1, r: Ps3DmaRegion): number {
  const machine = r.dev.dev.machine;
  if (r.len > 16 * 2 ** 20 && r.pageShift !== PS3_DMA_16M) {
    machine.printk('info', null, 'dma_sb_region_create_linear: forcing 16M pages for linear map');
    r.pageShift = PS3_DMA_16M;
    r.len = alignUp(r.len, r.pageSize);
  }
  const { status, dmaRegion } = lv1.allocateDeviceDmaRegion(r.dev.busId, r.dev.devId, pow2(Math.ceil(Math.log2(r.len))), r.pageShift, r.regionType);
  if (status !== LV1_SUCCESS) {
    r.len = 0;
    r.busAddr = 0;
    return status;
  }
  r.busAddr = dmaRegion;
  const rmSize = Math.min(PS3_RM_SIZE, r.len);
  const pieces: [number, number][] = [];
  if (r.offset < rmSize) pieces.push([r.offset, Math.min(rmSize - r.offset, r.len)]);
  if (r.offset + r.len > rmSize) pieces.push([rmSize, r.len - (rmSize - r.offset)]);
  for (const [lpar, len] of pieces) {
    const alignedLpar = alignDown(lpar, r.pageSize);
    const alignedLen = alignUp(len + lpar - alignedLpar, r.pageSize);
    const result = lv1.mapDeviceDmaRegion(r.dev.busId, r.dev.devId, alignedLpar, dmaSbLparToBus(r, alignedLpar), alignedLen, PS3_SB_IOPTE_FLAGS);
    if (result !== LV1_SUCCESS) kernelBug(machine, 'arch/powerpc/platforms/ps3/mm.c:dma_sb_region_create_linear');
    r.chunks.unshift({ lpar: alignedLpar, bus: dmaSbLparToBus(r, alignedLpar), len: alignedLen, usageCount: 1 });
  }
  return LV1_SUCCESS;
}

/** `dma_ioc0_region_create`: one IO segment of IO address space 0. */
function dmaIoc0RegionCreate(lv1: Lv1, r: Ps3DmaRegion): number {
  const { status, ioifAddr } = lv1.allocateIoSegment(0, r.len, r.pageShift);
  if (status !== LV1_SUCCESS) {
    r.len = 0;
    r.busAddr = 0;
    return status;
  }
  r.busAddr = ioifAddr;
  return LV1_SUCCESS;
}

/** `ps3_dma_region_create`. */
export function ps3DmaRegionCreate(r: Ps3DmaRegion): number {
  const lv1 = lv1Of(r.dev.dev.machine);
  return r.dev.type === 'sb' ? dmaSbRegionCreateLinear(lv1, r) : dmaIoc0RegionCreate(lv1, r);
}

/** `dma_find_chunk_lpar`: the chunk the (page-aligned) lpar range starts in. */
function dmaFindChunkLpar(r: Ps3DmaRegion, lpar: number, len: number): DmaChunk | null {
  const alignedLpar = alignDown(lpar, r.pageSize);
  const alignedLen = alignUp(len + lpar - alignedLpar, r.pageSize);
  for (const c of r.chunks) {
    if (c.lpar <= alignedLpar && alignedLpar < c.lpar + c.len) {
      if (alignedLpar + alignedLen <= c.lpar + c.len) return c;
      kernelBug(r.dev.dev.machine, 'arch/powerpc/platforms/ps3/mm.c:dma_find_chunk_lpar');
    }
  }
  return null;
}

/** `dma_find_chunk`: the chunk the (page-aligned) bus range lies in. */
function dmaFindChunk(r: Ps3DmaRegion, bus: number, len: number): DmaChunk | null {
  const alignedBus = alignDown(bus, r.pageSize);
  const alignedLen = alignUp(len + bus - alignedBus, r.pageSize);
  for (const c of r.chunks) {
    if (c.bus <= alignedBus && alignedBus < c.bus + c.len) {
      if (alignedBus + alignedLen <= c.bus + c.len) return c;
      kernelBug(r.dev.dev.machine, 'arch/powerpc/platforms/ps3/mm.c:dma_find_chunk');
    }
  }
  return null;
}

/**
 * `dma_ioc0_map_pages`: a new chunk right after the newest one ("the last chunk" is the head of the
 * list), one `lv1_put_iopte` per IO page; on failure the pages set so far are cleared again.
 */
function dmaIoc0MapPages(lv1: Lv1, r: Ps3DmaRegion, phys: number, len: number, flags: number): DmaChunk | null {
  const lpar = ps3MmPhysToLpar(phys);
  const last = r.chunks[0];
  const bus = last === undefined ? r.busAddr : last.bus + last.len;
  const pages = len / r.pageSize;
  for (let page = 0; page < pages; page++) {
    const offset = page * r.pageSize;
    const status = lv1.putIopte(0, bus + offset, lpar + offset, r.ioid, flags);
    if (status !== LV1_SUCCESS) {
      r.dev.dev.machine.printk('warn', null, `dma_ioc0_map_pages: lv1_put_iopte failed: ${status}`);
      for (let undo = page - 1; undo >= 0; undo--) lv1.putIopte(0, bus + undo * r.pageSize, lpar + undo * r.pageSize, r.ioid, 0);
      return null;
    }
  }
  const chunk: DmaChunk = { lpar, bus, len, usageCount: 1 };
  r.chunks.unshift(chunk);
  return chunk;
}

/**
 * `ps3_dma_map(r, virt_addr, len, &bus_addr, iopte_flag)`: the bus address of `[phys, phys + len)`
 * for the device, or null when lv1 refused (the 2012 callers returned bus address 0 then).
 */
export function ps3DmaMap(r: Ps3DmaRegion, phys: number, len: number, flags: number): number | null {
  const machine = r.dev.dev.machine;
  if (r.dev.type === 'sb') {
    // dma_sb_map_area_linear: the whole of RAM is mapped already.
    return dmaSbLparToBus(r, ps3MmPhysToLpar(phys));
  }
  const lv1 = lv1Of(machine);
  const alignedPhys = alignDown(phys, r.pageSize);
  const alignedLen = alignUp(len + phys - alignedPhys, r.pageSize);
  if (dmaFindChunkLpar(r, ps3MmPhysToLpar(phys), len) !== null) {
    // "if (c) { /* FIXME */ BUG(); ..." — IOC0 never maps the same memory twice.
    kernelBug(machine, 'arch/powerpc/platforms/ps3/mm.c:dma_ioc0_map_area');
  }
  const chunk = dmaIoc0MapPages(lv1, r, alignedPhys, alignedLen, flags);
  if (chunk === null) return null;
  return chunk.bus + phys - alignedPhys;
}

/** `ps3_dma_unmap`: SB (linear) has nothing to undo; IOC0 drops the chunk when its count reaches 0. */
export function ps3DmaUnmap(r: Ps3DmaRegion, bus: number, len: number): void {
  if (r.dev.type === 'sb') return;
  const machine = r.dev.dev.machine;
  const c = dmaFindChunk(r, bus, len);
  if (c === null) {
    machine.printk('err', null, `dma_ioc0_unmap_area: not found: bus_addr ${hex(bus)} len ${hex(len)}`);
    kernelBug(machine, 'arch/powerpc/platforms/ps3/mm.c:dma_ioc0_unmap_area');
  }
  c.usageCount--;
  if (c.usageCount > 0) return;
  r.chunks.splice(r.chunks.indexOf(c), 1);
  // dma_ioc0_free_chunk
  const lv1 = lv1Of(machine);
  for (let page = 0; page < c.len / r.pageSize; page++) {
    const offset = page * r.pageSize;
    lv1.putIopte(0, c.bus + offset, c.lpar + offset, r.ioid, 0);
  }
}
