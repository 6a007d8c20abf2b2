import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '../device.js';
import type { DmaOwnership } from './ownership-sanitizer.js';

/**
 * What a mapping was made with, as dma-debug's `type2name[]` prints it. The sg name keeps the
 * kernel's misspelling "scather-gather" of the era this model follows (v2.6.30 to v6.1; newer trees
 * print "scatter-gather"); "noncoherent" is the v5.10 type of `dma_alloc_pages`.
 */
export type DmaDebugType = 'single' | 'scather-gather' | 'coherent' | 'resource' | 'noncoherent';

/** `enum map_err_types`: whether `dma_mapping_error()` must be, or was, called on the handle. */
export const MAP_ERR_CHECK_NOT_APPLICABLE = 0;
export const MAP_ERR_NOT_CHECKED = 1;
export const MAP_ERR_CHECKED = 2;
export type MapErrType = typeof MAP_ERR_CHECK_NOT_APPLICABLE | typeof MAP_ERR_NOT_CHECKED | typeof MAP_ERR_CHECKED;

/**
 * The fields an unmap, free or sync describes: the kernel builds a `struct dma_debug_entry` on
 * the stack as the reference it looks the recorded entry up with.
 */
export interface DmaDebugRef {
  readonly dev: Device;
  readonly devAddr: number;
  readonly size: number;
  readonly type: DmaDebugType;
  readonly direction: DmaDataDirection;
  /** `nents` of the sg call; 0 for everything else. */
  readonly sgCallEnts: number;
  /** The physical address behind a noncoherent free (`page_to_phys`), else null. */
  readonly paddr: number | null;
  /** The CPU address a coherent free passes, else null. */
  readonly cpuAddr: number | null;
}

/**
 * `struct dma_debug_entry`: one live mapping or allocation. No stack trace is captured (the
 * kernel keeps 5 return addresses), so recording costs one object and one bucket insert.
 */
export interface DmaDebugEntry extends DmaDebugRef {
  /** `sg_mapped_ents`: what `dma_map_sg` returned (0 for non-sg entries). */
  readonly sgMappedEnts: number;
  mapErrType: MapErrType;
  readonly attrs: number;
  /**
   * The cache line number the active-cacheline tracking counted this entry under, or null when
   * it was not inserted (`DMA_TO_DEVICE`, or no known physical address).
   */
  cacheline: number | null;
  /** The ownership record the sanitizer watches (streaming mappings only), shared by an sg list's entries. */
  ownership: DmaOwnership | null;
}

/** Builds an entry with the fields every recording sets. */
export function makeEntry(
  ref: DmaDebugRef,
  sgMappedEnts: number,
  mapErrType: MapErrType,
  attrs: number,
  ownership: DmaOwnership | null,
): DmaDebugEntry {
  return {
    dev: ref.dev,
    devAddr: ref.devAddr,
    size: ref.size,
    type: ref.type,
    direction: ref.direction,
    sgCallEnts: ref.sgCallEnts,
    paddr: ref.paddr,
    cpuAddr: ref.cpuAddr,
    sgMappedEnts,
    mapErrType,
    attrs,
    cacheline: null,
    ownership,
  };
}
