import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Vma } from '@kdma/mm';
import type { Scatterlist, SgTable } from '@kdma/scatterlist';
import type { Device } from './device.js';

/**
 * `DMA_MAPPING_ERROR`: the kernel's all-ones `dma_addr_t`. Drivers test for it with
 * `dmaMappingError`, never directly.
 */
export const DMA_MAPPING_ERROR = -1;

/** `DMA_F_CAN_SKIP_SYNC`: the ops' syncs do nothing for a coherent device unless swiotlb bounced. */
export const DMA_F_CAN_SKIP_SYNC = 1 << 1;

/** A coherent allocation: `dma_alloc_attrs`'s return value and `*dma_handle`. */
export interface DmaAllocation {
  /** Kernel virtual address, or an opaque cookie with `DMA_ATTR_NO_KERNEL_MAPPING`. */
  readonly cpuAddr: number;
  readonly dmaHandle: number;
}

/**
 * `struct dma_map_ops` (include/linux/dma-map-ops.h) with the 2011 redesign's `alloc`/`free`
 * taking attributes and the `mmap` member. Every member but `name` may be absent, as in the
 * kernel; `attrs` is always a number here (the consumer API normalises the struct form).
 */
export interface DmaMapOps {
  /** The kernel's name of the ops variable (`'dma-direct'` for the generic path). */
  readonly name: string;
  /** `DMA_F_*` bits (`DMA_F_CAN_SKIP_SYNC`). */
  readonly flags?: number;
  alloc?(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null;
  free?(dev: Device, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void;
  mmap?(dev: Device, vma: Vma, cpuAddr: number, dmaHandle: number, size: number, attrs: number): number;
  getSgtable?(dev: Device, cpuAddr: number, dmaHandle: number, size: number, attrs: number): SgTable | number;
  /** `alloc_pages_op`: non-coherent pages for `dma_alloc_pages`; returns the first pfn. */
  allocPages?(dev: Device, size: number, dir: DmaDataDirection, gfp: number): { pfn: number; dmaHandle: number } | null;
  freePages?(dev: Device, size: number, pfn: number, dmaHandle: number, dir: DmaDataDirection): void;
  /** `alloc_noncontiguous` (v5.13–v6.11; direct calls to dma-iommu since): one DMA segment. */
  allocNoncontiguous?(dev: Device, size: number, dir: DmaDataDirection, gfp: number, attrs: number): SgTable | null;
  freeNoncontiguous?(dev: Device, size: number, sgt: SgTable, dir: DmaDataDirection): void;
  mapPage?(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number;
  unmapPage?(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void;
  /** Returns the mapped count, or 0 / a negative errno on failure. */
  mapSg?(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number;
  unmapSg?(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void;
  mapResource?(dev: Device, physAddr: number, size: number, dir: DmaDataDirection, attrs: number): number;
  unmapResource?(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void;
  syncSingleForCpu?(dev: Device, addr: number, size: number, dir: DmaDataDirection): void;
  syncSingleForDevice?(dev: Device, addr: number, size: number, dir: DmaDataDirection): void;
  syncSgForCpu?(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void;
  syncSgForDevice?(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void;
  /** The 2011 `dma_cache_sync` backend for `DMA_ATTR_NON_CONSISTENT` memory. */
  cacheSync?(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void;
  /** 2011 ops that had their own error value (before `DMA_MAPPING_ERROR` was common). */
  mappingError?(dev: Device, addr: number): boolean;
  dmaSupported?(dev: Device, mask: number): boolean;
  getRequiredMask?(dev: Device): number;
  maxMappingSize?(dev: Device): number;
  optMappingSize?(): number;
  getMergeBoundary?(dev: Device): number;
}

/** `get_dma_ops`: the device's ops; dma-direct's object when it has none (the kernel's NULL). */
export function getDmaOps(dev: Device): DmaMapOps {
  return dev.dmaOps ?? dev.machine.directOps;
}

/** `set_dma_ops`: chosen per device at run time, as the 2011 series made possible everywhere. */
export function setDmaOps(dev: Device, ops: DmaMapOps | null): void {
  if (ops !== null && (typeof ops !== 'object' || typeof ops.name !== 'string')) {
    throw new TypeError('ops must be a DmaMapOps object with a name, or null');
  }
  dev.dmaOps = ops === dev.machine.directOps ? null : ops;
}
