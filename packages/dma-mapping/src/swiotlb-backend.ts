import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from './device.js';

/** `machine.swiotlb.stats()` (DESIGN.md). */
export interface SwiotlbStats {
  readonly totalSlots: number;
  readonly usedSlots: number;
  readonly highWaterSlots: number;
  readonly bouncedToDevice: number;
  readonly bouncedFromDevice: number;
  readonly failures: number;
}

/**
 * What dma-direct needs from swiotlb (kernel/dma/direct.[ch] calls these by name): whether a
 * device must or may bounce, and the bounce operations themselves.
 */
export interface SwiotlbBackend {
  /** `is_swiotlb_active(dev)`: a pool exists for this device. */
  isActive(dev: Device): boolean;
  /** `is_swiotlb_force_bounce(dev)`: `swiotlb=force`, or a restricted pool. */
  isForceBounce(dev: Device): boolean;
  /** `is_swiotlb_buffer(dev, paddr)`. */
  isBuffer(dev: Device, paddr: number): boolean;
  /** `swiotlb_map`: bounce `[paddr, +size)`; a DMA address or `DMA_MAPPING_ERROR`. */
  map(dev: Device, paddr: number, size: number, dir: DmaDataDirection, attrs: number): number;
  /** `swiotlb_tbl_unmap_single`: `tlbAddr` is the bounce slot's physical address. */
  unmap(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection, attrs: number): void;
  syncForDevice(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection): void;
  syncForCpu(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection): void;
  /**
   * `swiotlb_tbl_map_single` with an `alloc_align_mask`: the bounce slot's physical address, or
   * `DMA_MAPPING_ERROR`. dma-iommu uses it to give an untrusted device a granule of its own.
   */
  tblMapSingle(dev: Device, orig: number, size: number, allocAlignMask: number, dir: DmaDataDirection, attrs: number): number;
  /** `is_swiotlb_for_alloc`: coherent buffers come from the device's restricted pool. */
  isForAlloc(dev: Device): boolean;
  /** `swiotlb_alloc`: pages from the restricted pool; the first pfn, or null. */
  alloc(dev: Device, size: number): number | null;
  /** `swiotlb_free`: true when the pages were the pool's (and are now free). */
  free(dev: Device, pfn: number, size: number): boolean;
  /** `swiotlb_max_mapping_size(dev)`. */
  maxMappingSize(dev: Device): number;
  stats(): SwiotlbStats;
}
