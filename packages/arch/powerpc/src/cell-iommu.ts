import { DMA_ATTR_WEAK_ORDERING, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { addrMod, alignUp, hex, pow2 } from '@kdma/hw';
import { dmaBitMask, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, getDmaOps, setDmaOps, type DmaMapOps, type Machine } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { setDmaOffset, setIommuTableBase } from './device.js';
import { dmaDirectAllocCoherent, dmaDirectFreeCoherent, dmaDirectMapPage, dmaDirectMapSg, dmaDirectOps, dmaDirectUnmapPage, dmaDirectUnmapSg } from './dma.js';
import { dmaIommuOps } from './dma-iommu.js';
import { IOMMU_PAGE_SIZE, IoPageTable, LinearWindow, PowerpcIommu, WindowedTranslation, type DmaWindow } from './io-page-table.js';
import { IommuTable, iommuAllocCoherent, iommuFreeCoherent, iommuMapPage, iommuMapSg, iommuUnmapPage, iommuUnmapSg, type TceOps } from './iommu.js';
import type { IommuFixed } from './options.js';
import { powerpcState } from './state.js';

/*
 * arch/powerpc/platforms/cell/iommu.c: the Cell Broadband Engine's IOMMU (in the IOC), as a QS22
 * blade with Axon bridges uses it. A segment table (`IO_SEGMENT_SHIFT` 28: 256 MiB segments) points
 * at page tables of IOPTEs. Two windows:
 * - the dynamic window (the Axon's `ibm,dma-window`, 0–2 GiB by default) with 4 KiB IO pages: an
 *   `iommu_table` allocated by kernel/iommu.c, IOPTEs written by `tce_build_cell` with the
 *   protection the direction allows (`CELL_IOMMU_STRICT_PROTECTION`) and strong ordering unless
 *   the mapping carries `DMA_ATTR_WEAK_ORDERING`;
 * - the fixed window: all of RAM mapped 1:1 with 16 MiB IOPTEs just above the dynamic window
 *   ("a machine with 4GB of memory would end up with the normal IOMMU window from 0-2GB and the fixed
 *   mapping window from 2GB to 6GB"), strongly ordered unless booted with `iommu_fixed=weak`. A
 *   device that sets a 64-bit mask is switched to `dma_iommu_fixed_ops` (`dma_set_mask_and_switch`)
 *   and DMAs through it with `dma_direct_ops` arithmetic; a mapping whose ordering differs from the
 *   fixed window's goes through the dynamic window instead.
 * With the IOMMU off (`iommu=off`, or no more than 2 GiB of RAM), devices get `dma_direct_ops`.
 */

/**
 * IOPTE flags: the kernel's `CBE_IOPTE_*` bits 63..59 (`PP_W`, `PP_R`, `M`, `SO_R`, `SO_W`), shifted
 * down by 59 so they fit a byte: `PP_W|PP_R|SO_RW|M` (0xf800000000000000) is 0x1f.
 */
export const CBE_IOPTE_PP_W = 0x10;
export const CBE_IOPTE_PP_R = 0x08;
export const CBE_IOPTE_M = 0x04;
export const CBE_IOPTE_SO_R = 0x02;
export const CBE_IOPTE_SO_W = 0x01;
export const CBE_IOPTE_SO_RW = 0x03;

/** `IO_SEGMENT_SHIFT`: the IOMMU's segments are 256 MiB. */
export const IO_SEGMENT_SHIFT = 28;
/** IOPTE page size of the fixed window (`insert_16M_pte`). */
export const CELL_FIXED_PAGE_SIZE = 2 ** 24;
/** The dynamic window when the Axon has no `ibm,dma-window`: 0 to 2 GiB. */
export const CELL_DYNAMIC_WINDOW_SIZE = 0x8000_0000;

/** The ordering of an IOPTE's flags, as a test reads it. */
export type IopteOrdering = 'strong' | 'weak';

/** One IOPTE of a Cell machine, decoded. */
export interface CellIopte {
  readonly flags: number;
  readonly paddr: number;
  readonly read: boolean;
  readonly write: boolean;
  /** `SO_RW` set: the IOC keeps the device's accesses in order; clear: weakly ordered. */
  readonly ordering: IopteOrdering;
  readonly window: 'dynamic' | 'fixed';
}

/** The fixed window: bus `base + phys` for all of RAM. */
export interface CellFixedWindow {
  readonly base: number;
  readonly size: number;
  /** `iommu_fixed_is_weak`. */
  readonly weak: boolean;
  /** The 16 MiB IOPTEs' flags. */
  readonly flags: number;
}

/** `struct cbe_iommu` and its window: the Cell IOMMU of a machine. */
export class CellIommu {
  readonly machine: Machine;
  readonly iommu: PowerpcIommu;
  /** The dynamic window's `iommu_table`. */
  readonly table: IommuTable;
  readonly fixed: CellFixedWindow | null;
  /** `pad_page`: mapped read-only at bus address 0 ("used by the spider workaround"). */
  readonly padPagePfn: number;
  /** The `dma_iommu_ops` of this machine (its `get_required_mask` is `cell_dma_get_required_mask`). */
  readonly pciOps: DmaMapOps;

  constructor(machine: Machine, iommuFixed: IommuFixed) {
    this.machine = machine;
    this.iommu = new PowerpcIommu('cell-iommu', machine);
    const dbase = 0;
    const dsize = CELL_DYNAMIC_WINDOW_SIZE;
    // cell_iommu_setup_window: it_blocksize 16, it_offset = offset >> IOMMU_PAGE_SHIFT.
    const hw = new IoPageTable(dbase / IOMMU_PAGE_SIZE, dsize / IOMMU_PAGE_SIZE, CBE_IOPTE_PP_R, CBE_IOPTE_PP_W);
    this.iommu.tables.push(hw);
    this.table = new IommuTable(machine, { busno: 0, index: 0, blocksize: 16, hw, tce: cellTceOps(this.iommu) });
    // "We need to map and reserve the first IOMMU page since it's used by the spider workaround."
    const pad = machine.mm.allocPages(0);
    if (pad === null) throw new Error('cell_iommu_setup_window: cannot allocate the pad page');
    machine.cpu.fill(machine.mm.pageAddress(pad), machine.pageSize, 0);
    this.padPagePfn = pad;
    this.table.itMap[0] = 1;
    this.table.tce.build(this.table, this.table.itOffset, 1, pad * machine.pageSize, DMA_TO_DEVICE, 0);
    this.fixed = iommuFixed === 'off' ? null : this.setupFixed(dbase + dsize, iommuFixed === 'weak');
    this.pciOps = Object.freeze({ ...dmaIommuOps, getRequiredMask: (dev: Device) => this.getRequiredMask(dev) });
  }

  /**
   * `cell_iommu_fixed_mapping_init`: the fixed window starts at the first segment boundary above
   * the dynamic window and spans `memblock_phys_mem_size()`. Past 32 GiB the kernel moves the
   * dynamic window onto the hash table; kdma does not model that and keeps the dynamic window only.
   */
  private setupFixed(dynamicEnd: number, weak: boolean): CellFixedWindow | null {
    const base = alignUp(dynamicEnd, pow2(IO_SEGMENT_SHIFT));
    const ram = this.machine.hw.ram.regions.reduce((sum, region) => sum + region.size, 0);
    const size = alignUp(ram, CELL_FIXED_PAGE_SIZE);
    if (base + size > 0x8_0000_0000) {
      this.machine.printk('info', null, 'iommu: fixed mapping beyond 32GB (hash table window) not modelled, dynamic window only');
      return null;
    }
    this.machine.printk('info', null, `IOMMU: Using ${weak ? 'weak' : 'strong'} ordering for fixed mapping`);
    this.machine.printk('debug', null, `iommu: node 0, dynamic window 0x0-${hex(dynamicEnd)} fixed window ${hex(base)}-${hex(base + size)}`);
    const flags = CBE_IOPTE_PP_W | CBE_IOPTE_PP_R | CBE_IOPTE_M | (weak ? 0 : CBE_IOPTE_SO_RW);
    return Object.freeze({ base, size, weak, flags });
  }

  /** The windows a device behind this IOMMU sees. */
  windows(): DmaWindow[] {
    const windows: DmaWindow[] = [this.table.hw];
    if (this.fixed !== null) windows.push(new LinearWindow(this.fixed.base, this.fixed.size, this.fixed.base));
    return windows;
  }

  /** The IOPTE that translates `busAddr`, decoded; null where nothing is mapped. */
  iopteAt(busAddr: number): CellIopte | null {
    const entry = this.table.hw.entryAt(busAddr);
    if (entry !== null) {
      if ((entry.flags & (CBE_IOPTE_PP_R | CBE_IOPTE_PP_W)) === 0) return null;
      return decode(entry.flags, entry.paddr + addrMod(busAddr, IOMMU_PAGE_SIZE), 'dynamic');
    }
    const fixed = this.fixed;
    if (fixed !== null && busAddr >= fixed.base && busAddr < fixed.base + fixed.size) return decode(fixed.flags, busAddr - fixed.base, 'fixed');
    return null;
  }

  /** `cell_dma_get_required_mask`: 64-bit for devices that can use the fixed window. */
  getRequiredMask(dev: Device): number {
    if (this.fixed !== null) return dmaBitMask(64);
    return dmaIommuOps.getRequiredMask?.(dev) ?? dmaBitMask(64);
  }

  /**
   * `cell_dma_dev_setup` for a device on PCI or the OF platform bus (`cell_of_bus_notify` gives
   * those the PCI ops too): the dynamic window's table, or the fixed window's offset.
   */
  devSetup(dev: Device): void {
    if (getDmaOps(dev) === dmaIommuFixedOps) {
      // cell_dma_dev_setup_fixed: cell_iommu_get_fixed_address (the dma-ranges entry for CPU
      // address 0, device address 0 on an Axon) + dma_iommu_fixed_base.
      setDmaOffset(dev, (this.fixed as CellFixedWindow).base);
    } else {
      setIommuTableBase(dev, this.table);
    }
  }

  /**
   * `dma_set_mask_and_switch`: a 64-bit mask moves the device to the fixed window's ops, anything
   * else back to the PCI ops (the caller has checked the mask with the current ops).
   */
  setMaskAndSwitch(dev: Device, mask: number): void {
    if (this.fixed !== null && mask === dmaBitMask(64)) setDmaOps(dev, dmaIommuFixedOps);
    else setDmaOps(dev, this.pciOps);
    this.devSetup(dev);
  }
}

function decode(flags: number, paddr: number, window: 'dynamic' | 'fixed'): CellIopte {
  return Object.freeze({
    flags,
    paddr,
    read: (flags & CBE_IOPTE_PP_R) !== 0,
    write: (flags & CBE_IOPTE_PP_W) !== 0,
    ordering: (flags & CBE_IOPTE_SO_RW) === CBE_IOPTE_SO_RW ? 'strong' : 'weak',
    window,
  });
}

/**
 * `tce_build_cell` with `CELL_IOMMU_STRICT_PROTECTION`: the device may read a TO_DEVICE page,
 * write a FROM_DEVICE one, both for BIDIRECTIONAL ("prot = 0xc48 … shifted left so that the fields
 * matching the desired direction lands on the appropriate bits"); `CBE_IOPTE_M` and strong ordering
 * (`SO_RW`), "if (unlikely(dma_get_attr(DMA_ATTR_WEAK_ORDERING, attrs))) base_pte &= ~CBE_IOPTE_SO_RW".
 * Then `invalidate_tce_cache`, up to 2048 IOPTEs per register write. `tce_free_cell`
 * (`CELL_IOMMU_REAL_UNMAP`) writes 0.
 */
export function cellTceOps(iommu: PowerpcIommu): TceOps {
  return {
    build(tbl: IommuTable, index: number, npages: number, paddr: number, dir: DmaDataDirection, attrs: number): number {
      let prot: number;
      if (dir === DMA_BIDIRECTIONAL) prot = CBE_IOPTE_PP_W | CBE_IOPTE_PP_R;
      else if (dir === DMA_TO_DEVICE) prot = CBE_IOPTE_PP_R;
      else if (dir === DMA_FROM_DEVICE) prot = CBE_IOPTE_PP_W;
      else throw new RangeError(`dir must be a DMA direction, got ${String(dir)}`);
      let base = prot | CBE_IOPTE_M | CBE_IOPTE_SO_RW;
      if ((attrs & DMA_ATTR_WEAK_ORDERING) !== 0) base &= ~CBE_IOPTE_SO_RW;
      tbl.hw.set(index - tbl.itOffset, npages, paddr, base);
      iommu.flushes += Math.ceil(npages / 2048);
      return 0;
    },
    free(tbl: IommuTable, index: number, npages: number): void {
      tbl.hw.clear(index - tbl.itOffset, npages);
      iommu.flushes += Math.ceil(npages / 2048);
    },
  };
}

/** The Cell IOMMU of the device's machine. */
function cellOf(dev: Device): CellIommu {
  const cell = powerpcState(dev.machine).cell;
  if (cell === null) throw new TypeError(`${dev.name} is not behind a Cell IOMMU`);
  return cell;
}

function weakAttr(attrs: number): boolean {
  return (attrs & DMA_ATTR_WEAK_ORDERING) !== 0;
}

/**
 * `dma_fixed_alloc_coherent`: "A coherent allocation implies strong ordering" — from the fixed
 * window when it is strong, else through the dynamic one.
 */
export function dmaFixedAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === true) return iommuAllocCoherent(dev, cell.table, size, dev.dmaMask, gfp);
  return dmaDirectAllocCoherent(dev, size, gfp, attrs);
}

/** `dma_fixed_free_coherent`. */
export function dmaFixedFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === true) iommuFreeCoherent(dev, cell.table, size, cpuAddr, dmaHandle);
  else dmaDirectFreeCoherent(dev, size, cpuAddr, dmaHandle, attrs);
}

/**
 * `dma_fixed_map_page`: "if (iommu_fixed_is_weak == dma_get_attr(DMA_ATTR_WEAK_ORDERING, attrs))"
 * the fixed window (direct arithmetic), else an IOPTE of the dynamic window with the ordering asked.
 */
export function dmaFixedMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === weakAttr(attrs)) return dmaDirectMapPage(dev, pfn, offset, size, dir, attrs);
  return iommuMapPage(dev, cell.table, pfn, offset, size, dev.dmaMask, dir, attrs);
}

/** `dma_fixed_unmap_page`: the unmap must carry the map's attributes to find the right window. */
export function dmaFixedUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === weakAttr(attrs)) dmaDirectUnmapPage(dev, addr, size, dir, attrs);
  else iommuUnmapPage(cell.table, addr, size);
}

/** `dma_fixed_map_sg`. */
export function dmaFixedMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === weakAttr(attrs)) return dmaDirectMapSg(dev, sgl, nents, dir, attrs);
  return iommuMapSg(dev, cell.table, sgl, nents, dev.dmaMask, dir, attrs);
}

/** `dma_fixed_unmap_sg`. */
export function dmaFixedUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  const cell = cellOf(dev);
  if (cell.fixed?.weak === weakAttr(attrs)) dmaDirectUnmapSg(dev, sgl, nents, dir, attrs);
  else iommuUnmapSg(cell.table, sgl, nents);
}

/** `dma_fixed_dma_supported`: "return mask == DMA_BIT_MASK(64);" */
export function dmaFixedDmaSupported(_dev: Device, mask: number): boolean {
  return mask === dmaBitMask(64);
}

/**
 * `dma_iommu_fixed_ops`. No mmap or get_sgtable in 2012 (the generic ones, v3.6's fallback);
 * `get_required_mask` is `cell_dma_get_required_mask` (`ppc_md`), 64-bit.
 */
export const dmaIommuFixedOps: DmaMapOps = Object.freeze({
  name: 'dma_iommu_fixed_ops',
  alloc: dmaFixedAllocCoherent,
  free: dmaFixedFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: dmaFixedMapPage,
  unmapPage: dmaFixedUnmapPage,
  mapSg: dmaFixedMapSg,
  unmapSg: dmaFixedUnmapSg,
  dmaSupported: dmaFixedDmaSupported,
  getRequiredMask: () => dmaBitMask(64),
});

/**
 * Gives a device `set_dma_mask` behaviour: the kernel's `dma_set_mask` calls the ops'
 * `set_dma_mask` (Cell: `dma_set_mask_and_switch`) instead of storing the mask. kdma's core has
 * no such member, so the device's `dmaMask` is made an accessor whose setter runs `setDmaMask`
 * first; the core has already checked the mask with `dma_supported`, as the kernel's switch does.
 */
export function installSetDmaMask(dev: Device, setDmaMask: (dev: Device, mask: number) => void): void {
  let value = dev.dmaMask;
  let inside = false;
  Object.defineProperty(dev, 'dmaMask', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (mask: number) => {
      if (!inside) {
        inside = true;
        try {
          setDmaMask(dev, mask);
        } finally {
          inside = false;
        }
      }
      value = mask;
    },
  });
}

/**
 * A device on the Cell's PCI or OF platform bus: with the IOMMU on, the PCI ops (`dma_iommu_ops`
 * over the dynamic window, switching to the fixed window on a 64-bit mask) and the IOMMU's
 * translation on its bus master; with it off, `dma_direct_ops` (at `cell_dma_direct_offset`, the
 * Axon's DMA window base: 0).
 */
export function cellDeviceSetup(cell: CellIommu | null, dev: Device): void {
  if (cell === null) {
    setDmaOps(dev, dmaDirectOps);
    return;
  }
  setDmaOps(dev, cell.pciOps);
  cell.devSetup(dev);
  dev.hw.translation = new WindowedTranslation(cell.windows(), (fault) => cell.iommu.reportFault(fault, 'iommu: DMA exception'));
  if (cell.fixed !== null) installSetDmaMask(dev, (d, mask) => cell.setMaskAndSwitch(d, mask));
}
