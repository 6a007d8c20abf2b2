import {
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { addrMod, alignUp, checkAddress, checkInteger, checkSize, describe, getOrder, hex, pow2 } from '@kdma/hw';
import { Device, DMA_MAPPING_ERROR, ENXIO, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaPgprot, noKernelMappingCookie, setDmaOps, type DmaMapOps, type Machine } from '@kdma/dma-mapping/ops';
import {
  bitmapClear,
  bitmapFindNextZeroArea,
  bitmapSet,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  type IommuDomain,
} from '@kdma/iommu';
import { PAGE_KERNEL, __GFP_NOWARN, vmMapPages, type Pgprot, type Vma } from '@kdma/mm';
import { sgAllocTableFromPages, type Scatterlist, type SgTable } from '@kdma/scatterlist';

/*
 * The seed's IOMMU mapper for ARM (arch/arm/mm/dma-mapping.c, CONFIG_ARM_DMA_USE_IOMMU, v3.5,
 * Marek Szyprowski): a driver (or board code) creates an IO address space of its own —
 * `armIommuCreateMapping` — with a bitmap allocator, attaches devices to it, and the device's
 * dma_map_ops become `arm_iommu_ops`: buffers are allocated as scattered pages, high order first,
 * mapped contiguously, and remapped for the CPU. Where the 2012 code was fixed later, the fix is
 * followed and named: prot bits from the direction (v3.8, v3.5 passed 0), `vm_pgoff` in mmap
 * (v3.19), the `CONFIG_ARM_DMA_IOMMU_ALIGNMENT` cap (v3.7), FORCE_CONTIGUOUS from CMA (v3.12).
 */

/** `CONFIG_ARM_DMA_IOMMU_ALIGNMENT` (default 8): the largest IOVA alignment, as a page order. */
export const ARM_DMA_IOMMU_ALIGNMENT = 8;

/** `BITS_PER_LONG` of 32-bit ARM: the bitmap is whole longs. */
const BITS_PER_LONG = 32;

/** `struct dma_iommu_mapping`: an IO address space shared by the devices attached to it. */
export class DmaIommuMapping {
  readonly machine: Machine;
  readonly domain: IommuDomain;
  /** First IOVA. */
  readonly base: number;
  /** Each bit covers `2^order` pages. */
  readonly order: number;
  /** Bits of the bitmap: `count` rounded up to whole longs (so a little past `size` is usable, as in the kernel). */
  readonly bits: number;
  /** One byte per bit. */
  readonly bitmap: Uint8Array;
  /** `kref`: one for the creator, one per attached device. */
  refs = 1;

  constructor(machine: Machine, domain: IommuDomain, base: number, order: number, count: number) {
    this.machine = machine;
    this.domain = domain;
    this.base = base;
    this.order = order;
    this.bits = Math.ceil(count / BITS_PER_LONG) * BITS_PER_LONG;
    this.bitmap = new Uint8Array(this.bits);
  }

  /** Bytes covered by one bit. */
  get unit(): number {
    return this.machine.pageSize * pow2(this.order);
  }

  /** Bits in use (for reports and tests). */
  usedBits(): number {
    return this.bitmap.reduce((sum, bit) => sum + bit, 0);
  }
}

/** `dev->archdata` on ARM: the mapping the device is attached to. */
interface ArmIommuArchData {
  mapping: DmaIommuMapping;
  /** The ops the device had before (restored on detach). */
  previousOps: DmaMapOps | null;
}

function archData(dev: Device): ArmIommuArchData | null {
  const data = dev.archData as ArmIommuArchData | null;
  return data !== null && typeof data === 'object' && data.mapping instanceof DmaIommuMapping ? data : null;
}

function toMapping(dev: Device): DmaIommuMapping {
  const data = archData(dev);
  if (data === null) throw new Error(`${dev.name} uses arm_iommu_ops but is attached to no mapping`);
  return data.mapping;
}

/**
 * `arm_iommu_create_mapping(bus, base, size, order)` (v3.5): an IO address space of `size` bytes
 * from `base`, allocated in units of `2^order` pages. Null when the machine has no IOMMU (or no
 * domain can be had); a size smaller than one unit is a RangeError (the kernel's -EINVAL).
 */
export function armIommuCreateMapping(machine: Machine, base: number, size: number, order = 0): DmaIommuMapping | null {
  if (typeof machine !== 'object' || machine === null) throw new TypeError(`machine must be a Machine, got ${describe(machine)}`);
  checkAddress(base, 'base');
  checkSize(size, 'size');
  checkInteger(order, 'order', 0, 20);
  const pageSize = machine.pageSize;
  if (base % pageSize !== 0) throw new RangeError(`base must be page-aligned, got ${hex(base)}`);
  const count = Math.floor(size / (pageSize * pow2(order)));
  if (count === 0) throw new RangeError(`size ${size} is smaller than one unit of 2^${order} pages`);
  const domain = iommuDomainAlloc(machine);
  if (domain === null) return null;
  return new DmaIommuMapping(machine, domain, base, order, count);
}

/** `arm_iommu_release_mapping`: drops the creator's reference; the last one frees the domain. */
export function armIommuReleaseMapping(mapping: DmaIommuMapping): void {
  if (!(mapping instanceof DmaIommuMapping)) throw new TypeError(`mapping must be a DmaIommuMapping, got ${describe(mapping)}`);
  putMapping(mapping);
}

function putMapping(mapping: DmaIommuMapping): void {
  if (mapping.refs <= 0) throw new Error('arm_iommu_release_mapping: the mapping was already released');
  mapping.refs--;
  if (mapping.refs === 0) iommuDomainFree(mapping.domain);
}

/**
 * `arm_iommu_attach_device`: attaches the device to the mapping's domain and gives it
 * `arm_iommu_ops` (`arm_coherent_iommu_ops` for a coherent device). 0 or the IOMMU core's -errno.
 * "More than one client might be attached to the same io address space mapping."
 */
export function armIommuAttachDevice(dev: Device, mapping: DmaIommuMapping): number {
  if (!(dev instanceof Device)) throw new TypeError(`dev must be a Device, got ${describe(dev)}`);
  if (!(mapping instanceof DmaIommuMapping)) throw new TypeError(`mapping must be a DmaIommuMapping, got ${describe(mapping)}`);
  if (mapping.refs <= 0) throw new Error('arm_iommu_attach_device: the mapping was released');
  const err = iommuAttachDevice(mapping.domain, dev);
  if (err !== 0) return err;
  mapping.refs++;
  const data: ArmIommuArchData = { mapping, previousOps: dev.dmaOps };
  dev.archData = data;
  setDmaOps(dev, dev.dmaCoherent ? armCoherentIommuOps : armIommuOps);
  dev.machine.printk('info', null, `Attached IOMMU controller to ${dev.name} device.`);
  return 0;
}

/** `arm_iommu_detach_device`: back to the device's default domain and ops. */
export function armIommuDetachDevice(dev: Device): void {
  if (!(dev instanceof Device)) throw new TypeError(`dev must be a Device, got ${describe(dev)}`);
  const data = archData(dev);
  if (data === null) {
    dev.machine.printk('warn', dev, 'Not attached');
    return;
  }
  iommuDetachDevice(data.mapping.domain, dev);
  dev.archData = null;
  setDmaOps(dev, data.previousOps);
  putMapping(data.mapping);
}

// ---- the bitmap IOVA allocator

/**
 * `__alloc_iova`: `size` bytes of IOVA, aligned to the buffer's own order (capped at
 * `CONFIG_ARM_DMA_IOMMU_ALIGNMENT`): "Aligning IO address to the nearest power of 2 of the
 * buffer size matches the behavior of the other kernel allocators". `DMA_MAPPING_ERROR` when full.
 */
export function armIommuAllocIova(mapping: DmaIommuMapping, size: number): number {
  const pageSize = mapping.machine.pageSize;
  const order = Math.min(getOrder(size, pageSize), ARM_DMA_IOMMU_ALIGNMENT);
  const count = Math.ceil(alignUp(size, pageSize) / pageSize / pow2(mapping.order));
  const align = order > mapping.order ? pow2(order - mapping.order) - 1 : 0;
  const start = bitmapFindNextZeroArea(mapping.bitmap, mapping.bits, 0, count, align);
  if (start >= mapping.bits) return DMA_MAPPING_ERROR;
  bitmapSet(mapping.bitmap, start, count);
  return mapping.base + start * mapping.unit;
}

/** `__free_iova`. */
export function armIommuFreeIova(mapping: DmaIommuMapping, addr: number, size: number): void {
  const pageSize = mapping.machine.pageSize;
  const start = Math.floor((addr - mapping.base) / mapping.unit);
  const count = Math.ceil(alignUp(size, pageSize) / pageSize / pow2(mapping.order));
  if (start < 0 || start + count > mapping.bits) return;
  bitmapClear(mapping.bitmap, start, count);
}

/** `__dma_direction_to_prot` (v3.8). */
function directionToProt(dir: DmaDataDirection): number {
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      return IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE:
      return IOMMU_READ;
    case DMA_FROM_DEVICE:
      return IOMMU_WRITE;
    default:
      return 0;
  }
}

// ---- coherent buffers

/** A buffer of `arm_iommu_alloc_attrs`: its pages (what `__iommu_get_pages` finds). */
interface ArmIommuBuffer {
  readonly pfns: readonly number[];
  /** Page-aligned bytes. */
  readonly size: number;
  /** The pages came from CMA (`DMA_ATTR_FORCE_CONTIGUOUS`). */
  readonly cma: boolean;
  /** How the CPU address was made: vmalloc, the 2011 consistent area, or no mapping (a cookie). */
  readonly remap: 'vmalloc' | 'consistent' | null;
}

const BUFFERS = 'arm_iommu_buffers';

function buffers(machine: Machine): Map<number, ArmIommuBuffer> {
  let map = machine.archState.get(BUFFERS) as Map<number, ArmIommuBuffer> | undefined;
  if (map === undefined) {
    map = new Map();
    machine.archState.set(BUFFERS, map);
  }
  return map;
}

/** `__dma_clear_buffer`: zero through the cached alias, then flush it for a non-coherent device. */
function clearBuffer(dev: Device, pfn: number, bytes: number): void {
  const { machine } = dev;
  machine.cpu.fill(machine.mm.pageAddress(pfn), bytes, 0);
  if (!dev.dmaCoherent) machine.directHooks.prepCoherent(pfn, bytes);
}

/**
 * `__iommu_alloc_buffer`: CMA for FORCE_CONTIGUOUS; otherwise blocks of `__fls(count)` pages,
 * one order smaller after each failure, split into pages and cleared. Null (nothing kept) when
 * even a single page fails.
 */
function allocBuffer(dev: Device, size: number, gfp: number, attrs: number): { pfns: number[]; cma: boolean } | null {
  const { mm } = dev.machine;
  const pageSize = mm.pageSize;
  const count = size / pageSize;
  if ((attrs & DMA_ATTR_FORCE_CONTIGUOUS) !== 0) {
    const pfn = mm.cmaAlloc(count, Math.min(getOrder(size, pageSize), 8));
    if (pfn === null) return null;
    clearBuffer(dev, pfn, size);
    return { pfns: Array.from({ length: count }, (_, i) => pfn + i), cma: true };
  }
  const pfns: number[] = [];
  let left = count;
  while (left > 0) {
    let order = Math.floor(Math.log2(left));
    let pfn = mm.allocPages(order, gfp | __GFP_NOWARN);
    while (pfn === null && order > 0) pfn = mm.allocPages(--order, gfp | __GFP_NOWARN);
    if (pfn === null) {
      for (const page of pfns) mm.freePages(page, 0);
      return null;
    }
    if (order > 0) mm.splitPage(pfn, order);
    for (let j = 0; j < pow2(order); j++) pfns.push(pfn + j);
    clearBuffer(dev, pfn, pageSize * pow2(order));
    left -= pow2(order);
  }
  return { pfns, cma: false };
}

function freeBuffer(dev: Device, buffer: { pfns: readonly number[]; cma: boolean }): void {
  const { mm } = dev.machine;
  if (buffer.cma) mm.cmaRelease(buffer.pfns[0] as number, buffer.pfns.length);
  else for (const pfn of buffer.pfns) mm.freePages(pfn, 0);
}

/**
 * `__iommu_create_mapping`: one IOVA range for the whole buffer, each run of physically
 * consecutive pages mapped with one `iommu_map`.
 */
function createMapping(dev: Device, pfns: readonly number[], size: number): number {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const dmaAddr = armIommuAllocIova(mapping, size);
  if (dmaAddr === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  let iova = dmaAddr;
  for (let i = 0; i < pfns.length; ) {
    let j = i + 1;
    while (j < pfns.length && pfns[j] === (pfns[i] as number) + (j - i)) j++;
    const len = (j - i) * pageSize;
    if (iommuMap(mapping.domain, iova, (pfns[i] as number) * pageSize, len, IOMMU_READ | IOMMU_WRITE) < 0) {
      if (iova > dmaAddr) iommuUnmap(mapping.domain, dmaAddr, iova - dmaAddr);
      armIommuFreeIova(mapping, dmaAddr, size);
      return DMA_MAPPING_ERROR;
    }
    iova += len;
    i = j;
  }
  return dmaAddr;
}

/** `__iommu_remove_mapping`: unmap whole pages around the handle, free the IOVA. */
function removeMapping(dev: Device, iova: number, size: number): void {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const offset = addrMod(iova, pageSize);
  const len = alignUp(offset + size, pageSize);
  const start = iova - offset;
  if (mapping.domain.walk(start) < 0) return;
  iommuUnmap(mapping.domain, start, len);
  armIommuFreeIova(mapping, start, len);
}

/**
 * `arm_iommu_alloc_attrs`: scattered pages, one IOVA range, and a kernel remap with
 * `__get_dma_pgprot` (write-combine, or the coherent type) — in the consistent area when the
 * machine has one, else vmalloc; none with `DMA_ATTR_NO_KERNEL_MAPPING` (v3.6).
 */
function armIommuAlloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const honoured = attrs & machine.directHooks.honouredAttrs;
  const bytes = alignUp(size, mm.pageSize);
  const buffer = allocBuffer(dev, bytes, gfp, honoured);
  if (buffer === null) return null;
  const dmaHandle = createMapping(dev, buffer.pfns, bytes);
  if (dmaHandle === DMA_MAPPING_ERROR) {
    freeBuffer(dev, buffer);
    return null;
  }
  let cpuAddr: number;
  let remap: ArmIommuBuffer['remap'] = null;
  if ((honoured & DMA_ATTR_NO_KERNEL_MAPPING) !== 0) {
    cpuAddr = noKernelMappingCookie(dev, buffer.pfns[0] as number);
  } else {
    const prot: Pgprot = dmaPgprot(dev, PAGE_KERNEL, honoured);
    const consistent = machine.directHooks.remap !== undefined;
    const vaddr = consistent ? mm.consistentMap(buffer.pfns, prot) : mm.vmap(buffer.pfns, prot);
    if (vaddr === null) {
      removeMapping(dev, dmaHandle, bytes);
      freeBuffer(dev, buffer);
      return null;
    }
    cpuAddr = vaddr;
    remap = consistent ? 'consistent' : 'vmalloc';
  }
  buffers(machine).set(cpuAddr, { pfns: buffer.pfns, size: bytes, cma: buffer.cma, remap });
  return { cpuAddr, dmaHandle };
}

/** `arm_iommu_free_attrs`. */
function armIommuFree(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { machine } = dev;
  const buffer = buffers(machine).get(cpuAddr);
  if (buffer === undefined) {
    machine.printk('warn', dev, `WARNING: trying to free invalid coherent area: ${hex(cpuAddr)}`);
    return;
  }
  buffers(machine).delete(cpuAddr);
  if (buffer.remap === 'consistent') machine.mm.consistentUnmap(cpuAddr);
  else if (buffer.remap === 'vmalloc') machine.mm.vunmap(cpuAddr);
  removeMapping(dev, dmaHandle, alignUp(size, machine.pageSize));
  freeBuffer(dev, buffer);
}

/** `arm_iommu_mmap_attrs`: page by page (`vm_insert_page`) from `vm_pgoff`; -ENXIO outside the buffer. */
function armIommuMmap(dev: Device, vma: Vma, cpuAddr: number, _dmaHandle: number, size: number, attrs: number): number {
  const { machine } = dev;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const buffer = buffers(machine).get(cpuAddr);
  if (buffer === undefined) return -ENXIO;
  const nrPages = Math.ceil(size / machine.pageSize);
  const userPages = (vma.end - vma.start) / machine.pageSize;
  if (vma.pgoff >= nrPages || userPages > nrPages - vma.pgoff) return -ENXIO;
  return vmMapPages(vma, buffer.pfns.slice(0, nrPages));
}

/** `arm_iommu_get_sgtable`: the buffer's pages, runs merged. */
function armIommuGetSgtable(dev: Device, cpuAddr: number, _dmaHandle: number, size: number, _attrs: number): SgTable | number {
  const buffer = buffers(dev.machine).get(cpuAddr);
  if (buffer === undefined) return -ENXIO;
  const pageSize = dev.machine.pageSize;
  return sgAllocTableFromPages(buffer.pfns.slice(0, Math.ceil(size / pageSize)), 0, size, undefined, pageSize);
}

// ---- streaming

/** `arm_coherent_iommu_map_page`: whole pages around the buffer; the handle keeps the offset. */
function coherentMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, _attrs: number): number {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const len = alignUp(size + offset, pageSize);
  const dmaAddr = armIommuAllocIova(mapping, len);
  if (dmaAddr === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  if (iommuMap(mapping.domain, dmaAddr, pfn * pageSize, len, directionToProt(dir)) < 0) {
    armIommuFreeIova(mapping, dmaAddr, len);
    return DMA_MAPPING_ERROR;
  }
  return dmaAddr + offset;
}

/** `arm_iommu_map_page`: `__dma_page_cpu_to_dev` first. */
function mapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForDevice(pfn * dev.machine.pageSize + offset, size, dir);
  return coherentMapPage(dev, pfn, offset, size, dir, attrs);
}

/** The physical address behind a handle (`iommu_iova_to_phys` of its page plus the offset), or -1. */
function handleToPhys(dev: Device, handle: number): number {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const offset = addrMod(handle, pageSize);
  const pa = mapping.domain.walk(handle - offset);
  return pa < 0 ? -1 : pa + offset;
}

function unmapPageCommon(dev: Device, handle: number, size: number, dir: DmaDataDirection, attrs: number, coherent: boolean): void {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const offset = addrMod(handle, pageSize);
  const iova = handle - offset;
  const len = alignUp(size + offset, pageSize);
  const phys = handleToPhys(dev, handle);
  if (phys < 0) return;
  if (!coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForCpu(phys, size, dir);
  iommuUnmap(mapping.domain, iova, len);
  armIommuFreeIova(mapping, iova, len);
}

function syncSingleForCpu(dev: Device, handle: number, size: number, dir: DmaDataDirection): void {
  const phys = handleToPhys(dev, handle);
  if (phys >= 0) dev.machine.directHooks.syncForCpu(phys, size, dir);
}

function syncSingleForDevice(dev: Device, handle: number, size: number, dir: DmaDataDirection): void {
  const phys = handleToPhys(dev, handle);
  if (phys >= 0) dev.machine.directHooks.syncForDevice(phys, size, dir);
}

/**
 * `__map_sg_chunk`: one IOVA range for a chunk of entries, each entry mapped as whole pages
 * (`PAGE_ALIGN(offset + length)`), synced for the device first unless coherent.
 */
function mapSgChunk(dev: Device, sgl: Scatterlist[], first: number, size: number, dir: DmaDataDirection, attrs: number, coherent: boolean): number {
  const mapping = toMapping(dev);
  const pageSize = dev.machine.pageSize;
  const bytes = alignUp(size, pageSize);
  const base = armIommuAllocIova(mapping, bytes);
  if (base === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  let iova = base;
  for (let i = first; iova - base < bytes; i++) {
    const s = sgl[i] as Scatterlist;
    const len = alignUp(s.offset + s.length, pageSize);
    if (!coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForDevice(s.pfn * pageSize + s.offset, s.length, dir);
    if (iommuMap(mapping.domain, iova, s.pfn * pageSize, len, directionToProt(dir)) < 0) {
      if (iova > base) iommuUnmap(mapping.domain, base, iova - base);
      armIommuFreeIova(mapping, base, bytes);
      return DMA_MAPPING_ERROR;
    }
    iova += len;
  }
  return base;
}

/**
 * `arm_iommu_map_sg` (v3.5): walks the list accumulating `offset + length`; a new chunk (its own
 * IOVA range) starts at an entry with an offset, after a chunk that does not end on a page, or
 * where the max segment size would be passed. Returns the chunk count, 0 on failure (undone).
 */
function mapSgCommon(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number, coherent: boolean): number {
  const pageSize = dev.machine.pageSize;
  const max = dev.dmaParms.maxSegmentSize;
  const s0 = sgl[0] as Scatterlist;
  let offset = s0.offset;
  let size = s0.offset + s0.length;
  let start = 0;
  let dma = 0;
  let count = 0;
  const fail = (): number => {
    for (let i = 0; i < count; i++) {
      const done = sgl[i] as Scatterlist;
      removeMapping(dev, done.dmaAddress, done.dmaLength);
    }
    return 0;
  };
  for (let i = 1; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
    if (s.offset !== 0 || size % pageSize !== 0 || size + s.length > max) {
      const addr = mapSgChunk(dev, sgl, start, size, dir, attrs, coherent);
      if (addr === DMA_MAPPING_ERROR) return fail();
      const d = sgl[dma] as Scatterlist;
      d.dmaAddress = addr + offset;
      d.dmaLength = size - offset;
      size = offset = s.offset;
      start = i;
      dma++;
      count++;
    }
    size += s.length;
  }
  const addr = mapSgChunk(dev, sgl, start, size, dir, attrs, coherent);
  if (addr === DMA_MAPPING_ERROR) return fail();
  const d = sgl[dma] as Scatterlist;
  d.dmaAddress = addr + offset;
  d.dmaLength = size - offset;
  return count + 1;
}

/** `arm_iommu_unmap_sg`: each chunk's range, and each entry back to the CPU. */
function unmapSgCommon(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number, coherent: boolean): void {
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength !== 0) removeMapping(dev, s.dmaAddress, s.dmaLength);
    if (!coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForCpu(s.pfn * pageSize + s.offset, s.length, dir);
  }
}

function syncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    dev.machine.directHooks.syncForCpu(s.pfn * pageSize + s.offset, s.length, dir);
  }
}

function syncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    dev.machine.directHooks.syncForDevice(s.pfn * pageSize + s.offset, s.length, dir);
  }
}

/** `iommu_ops` of arch/arm/mm/dma-mapping.c (named `arm_iommu_ops` later): non-coherent devices. */
export const armIommuOps: DmaMapOps = Object.freeze({
  name: 'arm_iommu_ops',
  alloc: armIommuAlloc,
  free: armIommuFree,
  mmap: armIommuMmap,
  getSgtable: armIommuGetSgtable,
  mapPage,
  unmapPage: (dev: Device, handle: number, size: number, dir: DmaDataDirection, attrs: number) => unmapPageCommon(dev, handle, size, dir, attrs, false),
  mapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => mapSgCommon(dev, sgl, nents, dir, attrs, false),
  unmapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => unmapSgCommon(dev, sgl, nents, dir, attrs, false),
  syncSingleForCpu,
  syncSingleForDevice,
  syncSgForCpu,
  syncSgForDevice,
  dmaSupported: () => true,
});

/** `arm_coherent_iommu_ops` (v3.7): the same without cache maintenance. */
export const armCoherentIommuOps: DmaMapOps = Object.freeze({
  name: 'arm_coherent_iommu_ops',
  alloc: armIommuAlloc,
  free: armIommuFree,
  mmap: armIommuMmap,
  getSgtable: armIommuGetSgtable,
  mapPage: coherentMapPage,
  unmapPage: (dev: Device, handle: number, size: number, dir: DmaDataDirection, attrs: number) => unmapPageCommon(dev, handle, size, dir, attrs, true),
  mapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => mapSgCommon(dev, sgl, nents, dir, attrs, true),
  unmapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => unmapSgCommon(dev, sgl, nents, dir, attrs, true),
  dmaSupported: () => true,
});

/** The physical address a handle of an attached device translates to (`iommu_iova_to_phys`; 0: none). */
export function armIommuIovaToPhys(dev: Device, handle: number): number {
  return iommuIovaToPhys(toMapping(dev).domain, handle);
}
