/**
 * What swiotlb needs of the layers below, as shapes (the `Hardware` of @kdma/hw and the `Mm` of
 * @kdma/mm provide them), and the swiotlb view of a device: the fields of `struct device` that
 * kernel/dma/swiotlb.c reads. The DMA core builds that view over its own Device; swiotlb never
 * imports the DMA core (it sits below it).
 */
import type { Hardware, MemoryRegion } from '@kdma/hw';
import type { Mm, ZoneSpec } from '@kdma/mm';
import type { IoTlbMem } from './io-tlb-mem.js';
import type { IoTlbPool } from './io-tlb-pool.js';

/** The CPU's accesses (bounces are `memcpy` through the linear map), its id, the log, the clock. */
export type SwiotlbHardware = Pick<Hardware, 'cpuReadInto' | 'cpuWrite' | 'cpuCopy' | 'cpuFill' | 'currentCpu' | 'cpus' | 'dmesg' | 'clock'> & {
  readonly ram: { readonly regions: readonly MemoryRegion[] };
};

/** The page allocator, for the pool's memory (boot, dynamic, transient, restricted). */
export type SwiotlbMm = Pick<Mm, 'pageSize' | 'maxOrder' | 'zoneNames' | 'allocPages' | 'freePages' | 'allocPagesExact' | 'freePagesExact'>;

/** Zones as the arch lays them out: which GFP zone modifier reaches below a physical limit. */
export type SwiotlbZones = readonly ZoneSpec[];

/**
 * The swiotlb view of a `struct device`. `ioTlbPools` and `usesIoTlb` are written by swiotlb
 * (`dev->dma_io_tlb_pools`, `dev->dma_uses_io_tlb`); the rest is read.
 */
export interface SwiotlbDevice {
  /** `dev_name(dev)`, for the messages. */
  readonly name: string;
  /** `dev->dma_io_tlb_mem`: the default pool, a restricted pool, or null (none). */
  readonly ioTlbMem: IoTlbMem | null;
  /** `dma_get_min_align_mask(dev)`: low address bits a bounce buffer must keep (NVMe: 0xfff). */
  readonly minAlignMask: number;
  /** `dma_get_seg_boundary(dev)`: a mapping never crosses a multiple of `mask + 1`. */
  readonly segmentBoundaryMask: number;
  /** `*dev->dma_mask`: a transient pool must lie below it. */
  readonly dmaMask: number;
  /** `dev->bus_dma_limit` (0: none). */
  readonly busDmaLimit: number;
  /** `phys_to_dma`: bus address = physical address − `dmaOffset`. */
  readonly dmaOffset: number;
  /** `dev->dma_io_tlb_pools`: the transient pools this device's mappings live in. */
  readonly ioTlbPools: IoTlbPool[];
  /** `dev->dma_uses_io_tlb`: set once a mapping of this device used swiotlb. */
  usesIoTlb: boolean;
}

/** A device view with defaults: no min_align_mask, no boundary, 64-bit mask, no offset. */
export function swiotlbDevice(
  ioTlbMem: IoTlbMem | null,
  init: Partial<Omit<SwiotlbDevice, 'ioTlbMem' | 'ioTlbPools' | 'usesIoTlb'>> = {},
): SwiotlbDevice {
  return {
    name: init.name ?? 'dev',
    ioTlbMem,
    minAlignMask: init.minAlignMask ?? 0,
    segmentBoundaryMask: init.segmentBoundaryMask ?? Number.MAX_SAFE_INTEGER,
    dmaMask: init.dmaMask ?? Number.MAX_SAFE_INTEGER,
    busDmaLimit: init.busDmaLimit ?? 0,
    dmaOffset: init.dmaOffset ?? 0,
    ioTlbPools: [],
    usesIoTlb: false,
  };
}
