import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_SKIP_CPU_SYNC, type DmaDataDirection } from '@kdma/dma-attrs';
import { DMA_MAPPING_ERROR, type Device } from '@kdma/dma-mapping';
import { dmaCommonVaddrToPfn, dmaPgprot, getDmaOps, noKernelMappingCookie, type Machine } from '@kdma/dma-mapping/ops';
import { alignUp, getOrder, pow2 } from '@kdma/hw';
import { ENXIO, GFP_DMA, GFP_DMA32, NO_KERNEL_MAPPING_BASE, NO_KERNEL_MAPPING_END, remapPfnRange, type Vma } from '@kdma/mm';
import { sgAllocTable, sgSetPage, type Scatterlist, type SgTable } from '@kdma/scatterlist';

/*
 * What the 2012 x86 ops shared (arch/x86/kernel/pci-dma.c, asm/dma-mapping.h, and the generic
 * `dma_mmap_attrs` they fell back on): coherent buffers are plain pages of the linear map, with
 * a bus address that the ops chose (an aperture address, a TCE index, a machine address).
 */

const MASK_24 = 2 ** 24 - 1;
const MASK_32 = 2 ** 32 - 1;

/**
 * `dma_alloc_coherent_gfp_flags`: the zone the coherent mask asks for — GFP_DMA up to 24 bits,
 * GFP_DMA32 up to 32. The DMA core strips zone flags before calling the ops (today's rule), so
 * the 2012 ops that looked at them (GART: "force_iommu && !(flag & GFP_DMA)") compute them here.
 */
export function dmaAllocCoherentGfpFlags(dev: Device): number {
  const mask = dev.coherentDmaMask === 0 ? MASK_32 : dev.coherentDmaMask;
  if (mask <= MASK_24) return GFP_DMA;
  return mask <= MASK_32 ? GFP_DMA32 : 0;
}

function isNoKernelMappingCookie(cpuAddr: number): boolean {
  return cpuAddr >= NO_KERNEL_MAPPING_BASE && cpuAddr < NO_KERNEL_MAPPING_END;
}

/**
 * The first pfn of a coherent buffer from its CPU address: the linear map, or the cookie that
 * stands for the pages under `DMA_ATTR_NO_KERNEL_MAPPING` (honoured by every x86 ops, as by
 * dma-direct, so that one arch does not mean two behaviours).
 */
export function coherentPfn(dev: Device, cpuAddr: number): number | null {
  if (isNoKernelMappingCookie(cpuAddr)) return (cpuAddr - NO_KERNEL_MAPPING_BASE) / dev.machine.mm.pageSize;
  return dmaCommonVaddrToPfn(dev, cpuAddr);
}

/** The pages of a coherent buffer the ops allocated themselves (`__get_free_pages`). */
export interface CoherentPages {
  readonly pfn: number;
  readonly order: number;
  /** The linear address, or the `NO_KERNEL_MAPPING` cookie. */
  readonly cpuAddr: number;
}

/**
 * `__get_free_pages(gfp | __GFP_ZERO, get_order(size))` for an ops' coherent buffer, zeroed
 * through the linear map; the cookie instead of the address under `DMA_ATTR_NO_KERNEL_MAPPING`.
 */
export function allocCoherentPages(dev: Device, size: number, gfp: number, attrs: number): CoherentPages | null {
  const { mm } = dev.machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const linear = mm.pageAddress(pfn);
  dev.machine.cpu.fill(linear, mm.pageSize * pow2(order), 0);
  const honoured = attrs & dev.machine.directHooks.honouredAttrs;
  const cpuAddr = (honoured & DMA_ATTR_NO_KERNEL_MAPPING) !== 0 ? noKernelMappingCookie(dev, pfn) : linear;
  return { pfn, order, cpuAddr };
}

/** `free_pages` of what `allocCoherentPages` gave. */
export function freeCoherentPages(dev: Device, size: number, cpuAddr: number): void {
  const { mm } = dev.machine;
  const pfn = coherentPfn(dev, cpuAddr);
  if (pfn === null) throw new RangeError(`cpuAddr 0x${cpuAddr.toString(16)} is not a coherent buffer of ${dev.name}`);
  mm.freePages(pfn, getOrder(size, mm.pageSize));
}

/**
 * `dma_common_mmap` from the buffer's pages (found from `cpuAddr`, cookie included): what
 * `dma_mmap_attrs` did for ops without an `mmap` member. -ENXIO when the VMA does not fit.
 */
export function x86CommonMmap(dev: Device, vma: Vma, cpuAddr: number, _dmaAddr: number, size: number, attrs: number): number {
  const { mm } = dev.machine;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const userCount = (vma.end - vma.start) / mm.pageSize;
  const count = Math.ceil(size / mm.pageSize);
  const off = vma.pgoff;
  if (off >= count || userCount > count - off) return -ENXIO;
  const pfn = coherentPfn(dev, cpuAddr);
  if (pfn === null) return -ENXIO;
  return remapPfnRange(vma, vma.start, pfn + off, userCount * mm.pageSize, vma.pgprot);
}

/** `dma_common_get_sgtable` from the buffer's pages: one entry, or -ENXIO. */
export function x86CommonGetSgtable(dev: Device, cpuAddr: number, _dmaAddr: number, size: number, _attrs: number): SgTable | number {
  const pfn = coherentPfn(dev, cpuAddr);
  if (pfn === null) return -ENXIO;
  const sgt = sgAllocTable(1);
  sgSetPage(sgt.sgl[0] as Scatterlist, pfn, alignUp(size, dev.machine.mm.pageSize), 0);
  return sgt;
}

/** A kernel panic: printed, then thrown, since nothing after it runs. */
export class KernelPanic extends Error {
  override readonly name = 'KernelPanic';
}

/** `panic(message)`. */
export function panic(machine: Machine, message: string): never {
  machine.printk('err', null, `Kernel panic - not syncing: ${message}`);
  throw new KernelPanic(`Kernel panic - not syncing: ${message}`);
}

/**
 * `dma_common_alloc_pages` (kernel/dma/ops_helpers.c, which today's GART and xen-swiotlb ops
 * use for `dma_alloc_pages`): zeroed pages, mapped with the ops' own `map_page`.
 */
export function dmaCommonAllocPages(dev: Device, size: number, dir: DmaDataDirection, gfp: number): { pfn: number; dmaHandle: number } | null {
  const ops = getDmaOps(dev);
  const { mm } = dev.machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  dev.machine.cpu.fill(mm.pageAddress(pfn), mm.pageSize * pow2(order), 0);
  const addr = ops.mapPage?.(dev, pfn, 0, size, dir, DMA_ATTR_SKIP_CPU_SYNC) ?? DMA_MAPPING_ERROR;
  if (addr === DMA_MAPPING_ERROR || ops.mappingError?.(dev, addr) === true) {
    mm.freePages(pfn, order);
    return null;
  }
  return { pfn, dmaHandle: addr };
}

/** `dma_common_free_pages`. */
export function dmaCommonFreePages(dev: Device, size: number, pfn: number, dmaHandle: number, dir: DmaDataDirection): void {
  getDmaOps(dev).unmapPage?.(dev, dmaHandle, size, dir, DMA_ATTR_SKIP_CPU_SYNC);
  dev.machine.mm.freePages(pfn, getOrder(size, dev.machine.mm.pageSize));
}
