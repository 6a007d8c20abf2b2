import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Scatterlist } from '@kdma/scatterlist';
import type { Device } from '../device.js';

/** One dma-debug report: `machine.dmaDebug.errors()` lists them (DESIGN.md). */
export interface DmaDebugError {
  /** The device's name. */
  readonly device: string;
  readonly kind: DmaDebugErrorKind;
  /** The kernel's text. */
  readonly message: string;
}

/** The checks of kernel/dma/debug.c (numbered as reference/dma-api.md §4), plus the sanitizer. */
export type DmaDebugErrorKind =
  | 'free-invalid-address'
  | 'free-not-allocated'
  | 'free-size-mismatch'
  | 'free-wrong-function'
  | 'free-cpu-address-mismatch'
  | 'free-sg-count-mismatch'
  | 'free-direction-mismatch'
  | 'map-error-not-checked'
  | 'sync-not-allocated'
  | 'sync-out-of-range'
  | 'sync-direction-mismatch'
  | 'sync-read-only-for-cpu'
  | 'sync-write-only-for-device'
  | 'sync-sg-count-mismatch'
  | 'map-invalid-area'
  | 'map-vmalloc'
  | 'map-stack'
  | 'map-kernel-text'
  | 'sg-segment-too-long'
  | 'sg-segment-across-boundary'
  | 'cacheline-overlap'
  | 'leak'
  | 'cpu-access-device-owned'
  | 'device-access-cpu-owned';

/**
 * The `debug_dma_*` hooks kernel/dma/mapping.c calls around every operation when
 * `CONFIG_DMA_API_DEBUG` is on. The consumer API calls them exactly where the kernel does.
 */
export interface DmaDebugHooks {
  /** `debug_dma_map_single`: the area checks (invalid, vmalloc, stack, kernel text). */
  mapSingle(dev: Device, kva: number, size: number): void;
  /** `debug_dma_map_page` (after a successful map; failures are not recorded). */
  mapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void;
  /** `debug_dma_mapping_error`: marks the entry checked. */
  mappingError(dev: Device, dmaAddr: number): void;
  unmapPage(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void;
  mapSg(dev: Device, sgl: readonly Scatterlist[], nents: number, mappedEnts: number, dir: DmaDataDirection, attrs: number): void;
  /**
   * `dma_alloc_noncontiguous`'s record: the kernel's `debug_dma_map_sg(dev, sgl, orig_nents, 1,
   * dir, attrs)`, but the fresh pages belong to the CPU (for the ownership sanitizer) until the
   * first sync for the device.
   */
  allocNoncontiguous(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void;
  unmapSg(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void;
  allocCoherent(dev: Device, size: number, dmaHandle: number, cpuAddr: number, attrs: number): void;
  freeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number): void;
  mapResource(dev: Device, physAddr: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void;
  unmapResource(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void;
  syncSingleForCpu(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void;
  syncSingleForDevice(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void;
  syncSgForCpu(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void;
  syncSgForDevice(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void;
  /** `debug_dma_alloc_pages`: recorded as a streaming map with the caller's direction. */
  allocPages(dev: Device, pfn: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void;
  freePages(dev: Device, pfn: number, size: number, dir: DmaDataDirection, dmaAddr: number): void;
  /** The bus notifier on driver unbind: reports what the device leaked. */
  deviceRemoved(dev: Device): void;
}

/** `machine.dmaDebug`: the hooks plus the reports. */
export interface DmaDebug extends DmaDebugHooks {
  /** Every report, oldest first (the kernel prints only the first by default; all are kept here). */
  errors(): readonly DmaDebugError[];
  /** Live recorded mappings and allocations. */
  readonly activeEntries: number;
  /**
   * Runs `fn` with the ownership sanitizer off. The DMA core wraps its own accesses to mapped
   * buffers in it (swiotlb's bounce copies at map, unmap and sync are CPU accesses to the
   * driver's buffer, and are the protocol, not a violation).
   */
  suppress<T>(fn: () => T): T;
  /**
   * `suppress` without a closure, for hot paths: the sanitizer is off until the matching
   * `exitSuppress`, which belongs in a `finally` (calls nest).
   */
  enterSuppress(): void;
  /** Ends the innermost `enterSuppress`. */
  exitSuppress(): void;
}
