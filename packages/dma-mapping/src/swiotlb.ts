import { DMA_ATTR_SKIP_CPU_SYNC, type DmaDataDirection } from '@kdma/dma-attrs';
import {
  isSwiotlbActive,
  isSwiotlbBuffer,
  isSwiotlbForAlloc,
  isSwiotlbForceBounce,
  swiotlbAlloc,
  swiotlbFree,
  swiotlbMaxMappingSize,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
  SWIOTLB_MAP_ERROR,
  type IoTlbMem,
  type IoTlbPool,
  type SwiotlbDevice,
} from '@kdma/swiotlb';
import type { Device } from './device.js';
import { DMA_MAPPING_ERROR } from './dma-map-ops.js';
import { dmaCapable, physToDma } from './dma-direct.js';
import type { Machine } from './machine.js';
import type { SwiotlbBackend, SwiotlbStats } from './swiotlb-backend.js';

/*
 * The DMA core's side of swiotlb (kernel/dma/swiotlb.c's `swiotlb_map`, include/linux/swiotlb.h's
 * inline helpers): the swiotlb view of a Device, and `MachineSwiotlb`, the `SwiotlbBackend`
 * dma-direct calls, over the machine's default io_tlb_mem and the devices' restricted pools.
 */

/**
 * The swiotlb fields of a device (`dev->dma_io_tlb_mem`, `dev->dma_io_tlb_pools`,
 * `dev->dma_uses_io_tlb`), kept in `dev.dmaIoTlbMem`; the limits are read from the Device itself,
 * so `dmaSetMinAlignMask` and friends take effect at once.
 */
export class DeviceIoTlb implements SwiotlbDevice {
  readonly ioTlbPools: IoTlbPool[] = [];
  usesIoTlb = false;

  constructor(
    readonly dev: Device,
    readonly ioTlbMem: IoTlbMem | null,
  ) {}

  get name(): string {
    return this.dev.name;
  }

  get minAlignMask(): number {
    return this.dev.dmaParms.minAlignMask;
  }

  get segmentBoundaryMask(): number {
    return this.dev.dmaParms.segmentBoundaryMask;
  }

  get dmaMask(): number {
    return this.dev.dmaMask;
  }

  get busDmaLimit(): number {
    return this.dev.busDmaLimit;
  }

  get dmaOffset(): number {
    return this.dev.dmaOffset;
  }
}

/**
 * The device's swiotlb view, made on first use (`swiotlb_dev_init`: every device starts with the
 * machine's default io_tlb_mem, or none).
 */
export function devIoTlb(dev: Device): DeviceIoTlb {
  const view = dev.dmaIoTlbMem;
  if (view instanceof DeviceIoTlb) return view;
  const backend = dev.machine.swiotlb;
  const made = new DeviceIoTlb(dev, backend instanceof MachineSwiotlb ? backend.defaultMem : null);
  dev.dmaIoTlbMem = made;
  return made;
}

/** `%pad`. */
function pad(addr: number): string {
  return `0x${addr.toString(16).padStart(16, '0')}`;
}

const NO_STATS: SwiotlbStats = Object.freeze({
  totalSlots: 0,
  usedSlots: 0,
  highWaterSlots: 0,
  bouncedToDevice: 0,
  bouncedFromDevice: 0,
  failures: 0,
});

/**
 * `machine.swiotlb`: what dma-direct (and dma-iommu, for untrusted devices) call, as
 * kernel/dma/direct.[ch] calls swiotlb by name. Each call goes to the device's own io_tlb_mem:
 * its restricted pool if it has one, else the machine's default pool.
 */
export class MachineSwiotlb implements SwiotlbBackend {
  constructor(
    readonly machine: Machine,
    /** `io_tlb_default_mem`; null on a machine whose only pools are restricted ones. */
    readonly defaultMem: IoTlbMem | null,
  ) {}

  /** The io_tlb_mem the device uses (`dev->dma_io_tlb_mem`), or null. */
  memOf(dev: Device): IoTlbMem | null {
    return devIoTlb(dev).ioTlbMem;
  }

  /** `is_swiotlb_active(dev)`. */
  isActive(dev: Device): boolean {
    return isSwiotlbActive(devIoTlb(dev));
  }

  /** `is_swiotlb_force_bounce(dev)`. */
  isForceBounce(dev: Device): boolean {
    return isSwiotlbForceBounce(devIoTlb(dev));
  }

  /** `is_swiotlb_for_alloc(dev)`: a restricted pool, which coherent allocations come from too. */
  isForAlloc(dev: Device): boolean {
    return isSwiotlbForAlloc(devIoTlb(dev));
  }

  /** `is_swiotlb_buffer(dev, paddr)`. */
  isBuffer(dev: Device, paddr: number): boolean {
    return isSwiotlbBuffer(devIoTlb(dev), paddr);
  }

  /**
   * `swiotlb_tbl_map_single(dev, orig, size, alloc_align_mask, dir, attrs)`: the bounce slot's
   * physical address, or `DMA_MAPPING_ERROR`. A device that bounced must sync from now on
   * (`dma_reset_need_sync`).
   */
  tblMapSingle(dev: Device, orig: number, size: number, allocAlignMask: number, dir: DmaDataDirection, attrs: number): number {
    const tlb = swiotlbTblMapSingle(devIoTlb(dev), orig, size, allocAlignMask, dir, attrs);
    if (tlb === SWIOTLB_MAP_ERROR) return DMA_MAPPING_ERROR;
    dev.dmaSkipSync = false;
    return tlb;
  }

  /**
   * `swiotlb_map`: bounce `[paddr, +size)`, check that the device can reach the slot (else unmap
   * it and WARN "swiotlb addr … overflow"), and hand the slot to a non-coherent device with the
   * arch's sync. The DMA address, or `DMA_MAPPING_ERROR`.
   */
  map(dev: Device, paddr: number, size: number, dir: DmaDataDirection, attrs: number): number {
    const tlb = this.tblMapSingle(dev, paddr, size, 0, dir, attrs);
    if (tlb === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
    const dmaAddr = physToDma(dev, tlb);
    if (!dmaCapable(dev, dmaAddr, size)) {
      swiotlbTblUnmapSingle(devIoTlb(dev), tlb, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      this.machine.warnOnce(
        dev,
        'swiotlb-map-overflow',
        `swiotlb addr ${pad(dmaAddr)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
      );
      return DMA_MAPPING_ERROR;
    }
    if (!dev.dmaCoherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) this.machine.directHooks.syncForDevice(tlb, size, dir);
    return dmaAddr;
  }

  /** `swiotlb_tbl_unmap_single`: `tlbAddr` is the slot's physical address. */
  unmap(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection, attrs: number): void {
    swiotlbTblUnmapSingle(devIoTlb(dev), tlbAddr, size, dir, attrs);
  }

  /** `swiotlb_sync_single_for_device`. */
  syncForDevice(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection): void {
    swiotlbSyncSingleForDevice(devIoTlb(dev), tlbAddr, size, dir);
  }

  /** `swiotlb_sync_single_for_cpu`. */
  syncForCpu(dev: Device, tlbAddr: number, size: number, dir: DmaDataDirection): void {
    swiotlbSyncSingleForCpu(devIoTlb(dev), tlbAddr, size, dir);
  }

  /** `swiotlb_max_mapping_size(dev)`. */
  maxMappingSize(dev: Device): number {
    return swiotlbMaxMappingSize(dev.dmaParms.minAlignMask);
  }

  /**
   * `swiotlb_alloc` (restricted pools): pages for a coherent buffer from the device's pool; the
   * first pfn, or null.
   */
  alloc(dev: Device, size: number): number | null {
    const tlb = swiotlbAlloc(devIoTlb(dev), size);
    return tlb === null ? null : tlb / this.machine.mm.pageSize;
  }

  /** `swiotlb_free`: false when the pages are not the device's swiotlb memory. */
  free(dev: Device, pfn: number, _size: number): boolean {
    return swiotlbFree(devIoTlb(dev), pfn * this.machine.mm.pageSize);
  }

  /** The default pool's counters (DESIGN.md); all zero when only restricted pools exist. */
  stats(): SwiotlbStats {
    return this.defaultMem === null ? NO_STATS : this.defaultMem.stats();
  }
}

/**
 * What dma-direct needs beyond `SwiotlbBackend` for restricted pools' coherent allocations
 * (`is_swiotlb_for_alloc`, `swiotlb_alloc`, `swiotlb_free`); `MachineSwiotlb` has it.
 */
export interface SwiotlbAllocator {
  isForAlloc(dev: Device): boolean;
  alloc(dev: Device, size: number): number | null;
  free(dev: Device, pfn: number, size: number): boolean;
}
