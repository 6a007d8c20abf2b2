import type { DmaDataDirection } from '@kdma/dma-attrs';
import { alignUp } from '@kdma/hw';
import { DMA_MAPPING_ERROR, ENOMEM, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { archData } from './device.js';
import {
  dmaIommuAllocCoherent,
  dmaIommuDmaSupported,
  dmaIommuFreeCoherent,
  dmaIommuGetRequiredMask,
  dmaIommuMapPage,
  dmaIommuMapSg,
  dmaIommuUnmapPage,
  dmaIommuUnmapSg,
} from './dma-iommu.js';
import { IOMMU_PAGE_SIZE } from './io-page-table.js';
import { powerpcState } from './state.js';

/*
 * arch/powerpc/kernel/vio.c: pSeries virtual I/O. Each VIO device has its own TCE window
 * (`ibm,my-dma-window`) and, when the partition runs with Cooperative Memory Overcommit
 * (`FW_FEATURE_CMO`), `vio_dma_mapping_ops`: `dma_iommu_ops` with every byte a device maps charged
 * against its I/O entitlement (`vio_cmo`). A device has a reserve (`entitled`) and may borrow from
 * the partition's excess pool while a spare of `VIO_CMO_MIN_ENT` is kept; when neither covers a
 * request, the mapping fails with `DMA_ERROR_CODE` and `allocs_failed` counts it.
 *
 * The kernel rebalances the entitlement from a delayed work item (`VIO_CMO_BALANCE_DELAY`); kdma
 * runs that work at once, where the kernel schedules it.
 */

/** `VIO_CMO_MIN_ENT`: the entitlement every VIO device is guaranteed (and the spare). */
export const VIO_CMO_MIN_ENT = 1562624;
/** `VIO_CMO_BALANCE_CHUNK`: the step in which spare entitlement is handed out. */
export const VIO_CMO_BALANCE_CHUNK = 131072;

/** `struct vio_cmo_pool`. */
export interface VioCmoPool {
  size: number;
  free: number;
}

/** `viodev->cmo`: one VIO device's entitlement. */
export class VioDevCmo {
  /** What the driver asked for (`get_desired_dma`, IOMMU-page aligned, at least `VIO_CMO_MIN_ENT`). */
  desired: number;
  /** Bytes reserved for it. */
  entitled = 0;
  /** Bytes it has mapped. */
  allocated = 0;
  /** `allocs_failed`. */
  allocsFailed = 0;

  constructor(
    readonly dev: Device,
    desired: number,
  ) {
    this.desired = desired;
  }
}

/** `struct vio_cmo`: the partition's I/O entitlement and how it is shared out. */
export class VioCmo {
  /** Partition I/O entitlement (`h_get_mpp`'s `entitled_mem`). */
  entitled: number;
  readonly reserve: VioCmoPool = { size: 0, free: 0 };
  readonly excess: VioCmoPool = { size: 0, free: 0 };
  spare = 0;
  min = 0;
  desired = 0;
  /** Bytes mapped by all devices, and the most ever. */
  curr = 0;
  high = 0;
  /** `device_list`, newest first (`list_add`). */
  readonly devices: VioDevCmo[] = [];

  /** `vio_cmo_bus_init` (no VIO devices in the device tree yet: they are added later). */
  constructor(entitled: number) {
    this.entitled = entitled;
    this.spare = VIO_CMO_MIN_ENT;
    this.reserve.size = this.spare;
    if (this.reserve.size > this.entitled) {
      throw new RangeError(`options.cmo: vio_cmo_bus_init: Insufficient system entitlement (${entitled} < VIO_CMO_MIN_ENT ${VIO_CMO_MIN_ENT})`);
    }
    this.excess.size = this.entitled - this.reserve.size;
    this.excess.free = this.excess.size;
    this.min = this.reserve.size;
    this.desired = this.reserve.size;
  }

  /**
   * `vio_cmo_alloc`: charge `size` bytes to the device — from its free reserve, then from the
   * excess pool if the spare is whole. 0 or -ENOMEM (nothing changes).
   */
  alloc(viodev: VioDevCmo, size: number): number {
    let reserveFree = 0;
    let excessFree = 0;
    if (viodev.entitled > viodev.allocated) reserveFree = viodev.entitled - viodev.allocated;
    // "If spare is not fulfilled, the excess pool can not be used."
    if (this.spare >= VIO_CMO_MIN_ENT) excessFree = this.excess.free;
    if (reserveFree + excessFree < size) return -ENOMEM;
    this.curr += size;
    if (this.curr > this.high) this.high = this.curr;
    viodev.allocated += size;
    size -= Math.min(reserveFree, size);
    this.excess.free -= size;
    return 0;
  }

  /**
   * `vio_cmo_dealloc`: give `size` bytes back — what the device had borrowed returns to the excess
   * pool, topping up the spare and the reserve first.
   */
  dealloc(viodev: VioDevCmo, size: number): void {
    let spareNeeded = 0;
    let excessFreed = 0;
    let reserveFreed = size;
    let balance = false;
    this.curr -= size;
    // "Amount of memory freed from the excess pool"
    if (viodev.allocated > viodev.entitled) {
      excessFreed = Math.min(reserveFreed, viodev.allocated - viodev.entitled);
      reserveFreed -= excessFreed;
    }
    viodev.allocated -= reserveFreed + excessFreed;
    // "Spare is a subset of the reserve pool, replenish it first."
    spareNeeded = VIO_CMO_MIN_ENT - this.spare;
    if (spareNeeded > 0 && excessFreed > 0) {
      const tmp = Math.min(excessFreed, spareNeeded);
      this.excess.size -= tmp;
      this.reserve.size += tmp;
      this.spare += tmp;
      excessFreed -= tmp;
      spareNeeded -= tmp;
      balance = true;
    }
    if (spareNeeded > 0 && reserveFreed > 0) {
      const tmp = Math.max(0, Math.min(spareNeeded, reserveFreed, viodev.entitled - VIO_CMO_MIN_ENT));
      this.spare += tmp;
      viodev.entitled -= tmp;
      reserveFreed -= tmp;
      spareNeeded -= tmp;
      balance = true;
    }
    // "Grow the reserve pool while excess memory is available"
    if (excessFreed > 0 && this.desired > this.reserve.size) {
      const tmp = Math.min(excessFreed, this.desired - this.reserve.size);
      this.excess.size -= tmp;
      this.reserve.size += tmp;
      excessFreed -= tmp;
      balance = true;
    }
    if (excessFreed > 0) this.excess.free += excessFreed;
    if (balance) this.balance();
  }

  /**
   * `vio_cmo_bus_probe` for a device hot-added with a DMA window: it needs `VIO_CMO_MIN_ENT` from
   * the spare and the excess pool ("insufficient free entitlement to add device"), then the
   * entitlement is rebalanced. 0 or -ENOMEM.
   */
  busProbe(viodev: VioDevCmo): number {
    const size = VIO_CMO_MIN_ENT;
    // vio_cmo_num_OF_devs(): the device's own node is in the tree already.
    const ofDevs = this.devices.length + 1;
    if (this.min === (ofDevs + 1) * VIO_CMO_MIN_ENT) {
      // Boot-time device: its minimum was reserved by vio_cmo_bus_init.
      this.desired += viodev.desired - VIO_CMO_MIN_ENT;
    } else {
      const have = this.spare + this.excess.free;
      if (have < size) {
        viodev.dev.machine.printk('err', viodev.dev, `vio_cmo_bus_probe: insufficient free entitlement to add device. Need ${size}, have ${have}`);
        return -ENOMEM;
      }
      // "Use excess pool first to fulfill request"
      const tmp = Math.min(size, this.excess.free);
      this.excess.free -= tmp;
      this.excess.size -= tmp;
      this.reserve.size += tmp;
      // "Use spare if excess pool was insufficient"
      this.spare -= size - tmp;
      this.min += size;
      this.desired += viodev.desired;
    }
    this.devices.unshift(viodev);
    this.balance();
    return 0;
  }

  /**
   * `vio_cmo_balance`: every device gets `VIO_CMO_MIN_ENT`, then what the partition has beyond
   * the minimum and the spare is dealt out in `VIO_CMO_BALANCE_CHUNK` steps, level by level,
   * up to each device's desire; the excess pool is what is left.
   */
  balance(): void {
    const devcount = this.devices.length;
    this.min = devcount * VIO_CMO_MIN_ENT;
    this.spare = Math.min(VIO_CMO_MIN_ENT, this.entitled - this.min);
    this.min += this.spare;
    this.desired = this.min;
    let avail = this.entitled - this.spare;
    for (const viodev of this.devices) {
      viodev.entitled = VIO_CMO_MIN_ENT;
      this.desired += viodev.desired - VIO_CMO_MIN_ENT;
      avail -= Math.max(viodev.allocated, VIO_CMO_MIN_ENT);
    }
    // size_t in the kernel: a device over its minimum can leave nothing to hand out.
    avail = Math.max(0, avail);
    let level = VIO_CMO_MIN_ENT;
    while (avail > 0) {
      let fulfilled = 0;
      for (const viodev of this.devices) {
        if (viodev.desired <= level) {
          fulfilled++;
          continue;
        }
        let chunk = Math.min(avail, VIO_CMO_BALANCE_CHUNK);
        chunk = Math.min(chunk, viodev.desired - viodev.entitled);
        viodev.entitled += chunk;
        // "If the memory for this entitlement increase was already allocated to the device it
        // does not come from the available pool being split up."
        const need = Math.max(viodev.allocated, viodev.entitled) - Math.max(viodev.allocated, level);
        avail = Math.max(0, avail - need);
      }
      if (fulfilled === devcount) break;
      level += VIO_CMO_BALANCE_CHUNK;
    }
    // "Calculate new reserve and excess pool sizes"
    this.reserve.size = this.min;
    let need = 0;
    for (const viodev of this.devices) {
      if (viodev.entitled > 0) this.reserve.size += viodev.entitled - VIO_CMO_MIN_ENT;
      if (viodev.allocated > viodev.entitled) need += viodev.allocated - viodev.entitled;
    }
    this.excess.size = this.entitled - this.reserve.size;
    this.excess.free = this.excess.size - need;
  }
}

/** The device's CMO record (it must be a VIO device of a CMO partition). */
function cmoOf(dev: Device): { cmo: VioCmo; viodev: VioDevCmo } {
  const viodev = archData(dev).vio;
  const cmo = powerpcState(dev.machine).cmo;
  if (viodev === null || cmo === null) throw new TypeError(`${dev.name} is not a VIO device of a CMO partition`);
  return { cmo, viodev };
}

/** `roundup(size, IOMMU_PAGE_SIZE)`. */
function ioRound(size: number): number {
  return alignUp(size, IOMMU_PAGE_SIZE);
}

/** `vio_dma_iommu_alloc_coherent`: charge `roundup(size, PAGE_SIZE)`, then `dma_iommu_ops.alloc`. */
export function vioDmaIommuAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const { cmo, viodev } = cmoOf(dev);
  const charge = alignUp(size, dev.machine.pageSize);
  if (cmo.alloc(viodev, charge) !== 0) {
    viodev.allocsFailed++;
    return null;
  }
  const ret = dmaIommuAllocCoherent(dev, size, gfp, attrs);
  if (ret === null) {
    cmo.dealloc(viodev, charge);
    viodev.allocsFailed++;
  }
  return ret;
}

/** `vio_dma_iommu_free_coherent`. */
export function vioDmaIommuFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void {
  const { cmo, viodev } = cmoOf(dev);
  dmaIommuFreeCoherent(dev, size, cpuAddr, dmaHandle, attrs);
  cmo.dealloc(viodev, alignUp(size, dev.machine.pageSize));
}

/** `vio_dma_iommu_map_page`: `DMA_ERROR_CODE` when the entitlement cannot cover the mapping. */
export function vioDmaIommuMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const { cmo, viodev } = cmoOf(dev);
  if (cmo.alloc(viodev, ioRound(size)) !== 0) {
    viodev.allocsFailed++;
    return DMA_MAPPING_ERROR;
  }
  const ret = dmaIommuMapPage(dev, pfn, offset, size, dir, attrs);
  if (ret === DMA_MAPPING_ERROR) {
    cmo.dealloc(viodev, ioRound(size));
    viodev.allocsFailed++;
  }
  return ret;
}

/** `vio_dma_iommu_unmap_page`. */
export function vioDmaIommuUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const { cmo, viodev } = cmoOf(dev);
  dmaIommuUnmapPage(dev, addr, size, dir, attrs);
  cmo.dealloc(viodev, ioRound(size));
}

/**
 * `vio_dma_iommu_map_sg`: charge every entry rounded to IO pages, map, then give back what merging
 * saved (the charge of the segments actually mapped is kept).
 */
export function vioDmaIommuMapSg(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection, attrs: number): number {
  const { cmo, viodev } = cmoOf(dev);
  let allocSize = 0;
  for (let i = 0; i < nelems; i++) allocSize += ioRound((sgl[i] as Scatterlist).length);
  if (cmo.alloc(viodev, allocSize) !== 0) {
    viodev.allocsFailed++;
    return 0;
  }
  const ret = dmaIommuMapSg(dev, sgl, nelems, dir, attrs);
  if (ret === 0) {
    cmo.dealloc(viodev, allocSize);
    viodev.allocsFailed++;
    return 0;
  }
  for (let i = 0; i < ret; i++) allocSize -= ioRound((sgl[i] as Scatterlist).dmaLength);
  if (allocSize > 0) cmo.dealloc(viodev, allocSize);
  return ret;
}

/** `vio_dma_iommu_unmap_sg`: gives back the segments' charge. */
export function vioDmaIommuUnmapSg(dev: Device, sgl: Scatterlist[], nelems: number, dir: DmaDataDirection, attrs: number): void {
  const { cmo, viodev } = cmoOf(dev);
  let allocSize = 0;
  for (let i = 0; i < nelems; i++) allocSize += ioRound((sgl[i] as Scatterlist).dmaLength);
  dmaIommuUnmapSg(dev, sgl, nelems, dir, attrs);
  cmo.dealloc(viodev, allocSize);
}

/** `vio_dma_mapping_ops`: `dma_iommu_ops` with CMO accounting. */
export const vioDmaMappingOps: DmaMapOps = Object.freeze({
  name: 'vio_dma_mapping_ops',
  alloc: vioDmaIommuAllocCoherent,
  free: vioDmaIommuFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: vioDmaIommuMapPage,
  unmapPage: vioDmaIommuUnmapPage,
  mapSg: vioDmaIommuMapSg,
  unmapSg: vioDmaIommuUnmapSg,
  dmaSupported: dmaIommuDmaSupported,
  getRequiredMask: dmaIommuGetRequiredMask,
});

/** What `vio_cmo_set_dev_desired` would take from a driver: IOMMU-page aligned, at least the minimum. */
export function vioDesired(bytes: number): number {
  return Math.max(VIO_CMO_MIN_ENT, alignUp(bytes, IOMMU_PAGE_SIZE));
}

/** A device's CMO entitlement, for tests and reports. */
export function vioCmoOf(dev: Device): VioDevCmo {
  const viodev = archData(dev).vio;
  if (viodev === null) throw new TypeError(`${dev.name} has no CMO entitlement (not a VIO device of a CMO partition)`);
  return viodev;
}
