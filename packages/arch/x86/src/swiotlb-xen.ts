import { DMA_ATTR_SKIP_CPU_SYNC, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '@kdma/dma-mapping';
import { devIoTlb, dmaCapable, MachineSwiotlb, type DmaMapOps, type Machine } from '@kdma/dma-mapping/ops';
import { addrMod, bitMask, getOrder, ilog2 } from '@kdma/hw';
import type { Scatterlist } from '@kdma/scatterlist';
import {
  IO_TLB_SEGSIZE,
  IO_TLB_SIZE,
  isSwiotlbForceBounce,
  SWIOTLB_MAP_ERROR,
  swiotlbMaxMappingSize,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
  type IoTlbPool,
} from '@kdma/swiotlb';
import { allocCoherentPages, coherentPfn, dmaCommonAllocPages, dmaCommonFreePages, panic, x86CommonGetSgtable, x86CommonMmap } from './dma-generic.js';
import { XenP2m } from './xen-p2m.js';

/*
 * drivers/xen/swiotlb-xen.c and arch/x86/xen/pci-swiotlb-xen.c as the platform `'xen-pv'`: a Xen
 * PV guest (dom0, or a domU with PCI passthrough) whose "physical" memory is pseudo-physical.
 * Devices see machine addresses, so every mapping translates pfn → mfn; a buffer that is
 * pseudo-contiguous but not machine-contiguous, or that the device cannot reach, bounces through
 * the Xen bounce pool — swiotlb's pool, each 256 KiB segment exchanged with Xen for a
 * machine-contiguous extent below 4 GiB (`xen_swiotlb_fixup`). Coherent buffers that are not
 * machine-contiguous below the coherent mask are exchanged the same way
 * (`xen_create_contiguous_region`). Without a bounce pool (`swiotlb: false`: a domU without
 * `iommu=soft`) the guest keeps nommu's ops, and hands devices pseudo-physical addresses.
 */

const PAGE_SIZE = 4096;
/** `DMA_ERROR_CODE`, which `xen_swiotlb_dma_mapping_error` tests for (`!dma_addr`). */
export const XEN_DMA_ERROR_CODE = 0;
/** `max_dma_bits`: the lowest limit `xen_swiotlb_fixup` settles for. */
const MAX_DMA_BITS = 32;

/** The PV guest's Xen state: its p2m, the bounce pool, the pages exchanged for coherent buffers. */
export class XenPv {
  /** `xen_io_tlb_start` … `xen_io_tlb_end`; null without xen-swiotlb. */
  readonly pool: IoTlbPool | null;
  /** Coherent buffers whose pages were exchanged (today's `PageXenRemapped`). */
  readonly remapped = new Set<number>();
  /** Clears pseudo-physical pages: what an exchange leaves in them (Xen scrubs what it gives). */
  readonly zero: (pfn: number, pages: number) => void;

  constructor(
    readonly machine: Machine,
    readonly p2m: XenP2m,
    pool: IoTlbPool | null,
  ) {
    this.pool = pool;
    this.zero = (pfn, pages) => machine.hw.ram.fill(pfn * PAGE_SIZE, pages * PAGE_SIZE, 0);
  }

  /** `range_straddles_page_boundary`: more than one page, and not machine-contiguous. */
  rangeStraddlesPageBoundary(paddr: number, size: number): boolean {
    if (addrMod(paddr, PAGE_SIZE) + size <= PAGE_SIZE) return false;
    return !this.p2m.isMachineContiguous(paddr, size);
  }

  /** `is_xen_swiotlb_buffer`: the machine address is one of this guest's frames in the bounce pool. */
  isXenSwiotlbBuffer(dmaAddr: number): boolean {
    const pool = this.pool;
    if (pool === null) return false;
    const paddr = this.p2m.machineToPhys(dmaAddr);
    return paddr >= pool.start && paddr < pool.end;
  }
}

/**
 * Sets up a PV guest: its p2m over a host of `hostBytes`, and, when the machine has a swiotlb
 * pool, `xen_swiotlb_init` — each segment of the pool exchanged for a machine-contiguous extent,
 * trying `dma_bits` from the segment's own size (18) up to 32, as `xen_swiotlb_fixup` does.
 */
export function xenPvInit(machine: Machine, hostBytes: number): XenPv {
  machine.printk('info', null, 'Booting paravirtualized kernel on Xen');
  const p2m = new XenP2m(machine.maxPhysAddress, hostBytes, machine.hw.random.fork());
  const backend = machine.swiotlb;
  const pool = backend instanceof MachineSwiotlb ? (backend.defaultMem?.defpool ?? null) : null;
  const xen = new XenPv(machine, p2m, pool);
  if (pool === null) return xen;
  let dmaBits = getOrder(IO_TLB_SEGSIZE * IO_TLB_SIZE, PAGE_SIZE) + 12;
  for (let i = 0; i < pool.nslabs; i += IO_TLB_SEGSIZE) {
    const slabs = Math.min(pool.nslabs - i, IO_TLB_SEGSIZE);
    const pfn = (pool.start + i * IO_TLB_SIZE) / PAGE_SIZE;
    const order = getOrder(slabs * IO_TLB_SIZE, PAGE_SIZE);
    let ok = p2m.createContiguousRegion(pfn, order, dmaBits, xen.zero);
    while (!ok && dmaBits < MAX_DMA_BITS) {
      dmaBits++;
      ok = p2m.createContiguousRegion(pfn, order, dmaBits, xen.zero);
    }
    if (!ok) {
      panic(
        machine,
        "Failed to get contiguous memory for DMA from Xen!\nYou either: don't have the permissions, do not have enough free memory under 4GB, or the hypervisor memoryis too fragmented! (rc:-12)",
      );
    }
  }
  return xen;
}

/** The Xen state of the device's machine (set as its arch data when it was created). */
export function xenOf(dev: Device): XenPv {
  const xen = dev.archData;
  if (!(xen instanceof XenPv)) throw new Error(`${dev.name} is not on a Xen PV machine`);
  return xen;
}

/** `fls64`: the number of bits a mask spans. */
function fls64(mask: number): number {
  return mask === 0 ? 0 : ilog2(mask) + 1;
}

/**
 * `xen_swiotlb_map_page`: the machine address when the device reaches it and the buffer is
 * machine-contiguous (and nothing forces bouncing); otherwise a bounce buffer in the pool.
 * `DMA_ERROR_CODE` (0) when the pool is full or the device cannot reach the bounce buffer either.
 */
export function xenSwiotlbMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const xen = xenOf(dev);
  const phys = pfn * PAGE_SIZE + offset;
  const devAddr = xen.p2m.physToMachine(phys);
  const view = devIoTlb(dev);
  if (dmaCapable(dev, devAddr, size) && !xen.rangeStraddlesPageBoundary(phys, size) && !isSwiotlbForceBounce(view)) return devAddr;
  const map = swiotlbTblMapSingle(view, phys, size, 0, dir, attrs);
  if (map === SWIOTLB_MAP_ERROR) return XEN_DMA_ERROR_CODE;
  const bus = xen.p2m.physToMachine(map);
  if (!dmaCapable(dev, bus, size)) {
    swiotlbTblUnmapSingle(view, map, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    return XEN_DMA_ERROR_CODE;
  }
  return bus;
}

/** `xen_unmap_single`: only a bounce buffer has anything to undo. */
export function xenSwiotlbUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const xen = xenOf(dev);
  if (xen.isXenSwiotlbBuffer(addr)) swiotlbTblUnmapSingle(devIoTlb(dev), xen.p2m.machineToPhys(addr), size, dir, attrs);
}

/** `xen_swiotlb_sync_single_for_cpu`. */
export function xenSwiotlbSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const xen = xenOf(dev);
  if (xen.isXenSwiotlbBuffer(addr)) swiotlbSyncSingleForCpu(devIoTlb(dev), xen.p2m.machineToPhys(addr), size, dir);
}

/** `xen_swiotlb_sync_single_for_device`. */
export function xenSwiotlbSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const xen = xenOf(dev);
  if (xen.isXenSwiotlbBuffer(addr)) swiotlbSyncSingleForDevice(devIoTlb(dev), xen.p2m.machineToPhys(addr), size, dir);
}

/** `xen_swiotlb_unmap_sg_attrs`. */
export function xenSwiotlbUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    xenSwiotlbUnmapPage(dev, s.dmaAddress, s.dmaLength, dir, attrs);
  }
}

/** `xen_swiotlb_map_sg_attrs`: entry by entry, bouncing those `map_page` would bounce; 0 on failure. */
export function xenSwiotlbMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const xen = xenOf(dev);
  const view = devIoTlb(dev);
  const force = isSwiotlbForceBounce(view);
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    const paddr = s.pfn * PAGE_SIZE + s.offset;
    const devAddr = xen.p2m.physToMachine(paddr);
    if (force || !dmaCapable(dev, devAddr, s.length) || xen.rangeStraddlesPageBoundary(paddr, s.length)) {
      const map = swiotlbTblMapSingle(view, paddr, s.length, 0, dir, attrs);
      if (map === SWIOTLB_MAP_ERROR) {
        xenSwiotlbUnmapSg(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
        (sgl[0] as Scatterlist).dmaLength = 0;
        return XEN_DMA_ERROR_CODE;
      }
      s.dmaAddress = xen.p2m.physToMachine(map);
    } else {
      s.dmaAddress = devAddr;
    }
    s.dmaLength = s.length;
  }
  return nents;
}

/** `xen_swiotlb_sync_sg_for_cpu`. */
export function xenSwiotlbSyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    xenSwiotlbSyncSingleForCpu(dev, s.dmaAddress, s.dmaLength, dir);
  }
}

/** `xen_swiotlb_sync_sg_for_device`. */
export function xenSwiotlbSyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    xenSwiotlbSyncSingleForDevice(dev, s.dmaAddress, s.dmaLength, dir);
  }
}

/**
 * `xen_swiotlb_alloc_coherent`: pages from any zone; when they are not machine-contiguous below
 * the coherent mask, exchanged with Xen for an extent that is (`xen_create_contiguous_region`
 * with `fls64(mask)` address bits). Null when Xen has none.
 */
export function xenSwiotlbAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): { cpuAddr: number; dmaHandle: number } | null {
  const xen = xenOf(dev);
  const pages = allocCoherentPages(dev, size, gfp, attrs);
  if (pages === null) return null;
  const mask = dev.coherentDmaMask === 0 ? bitMask(32) : dev.coherentDmaMask;
  const phys = pages.pfn * PAGE_SIZE;
  const devAddr = xen.p2m.physToMachine(phys);
  if (devAddr + size - 1 <= mask && !xen.rangeStraddlesPageBoundary(phys, size)) return { cpuAddr: pages.cpuAddr, dmaHandle: devAddr };
  if (!xen.p2m.createContiguousRegion(pages.pfn, pages.order, fls64(mask), xen.zero)) {
    dev.machine.mm.freePages(pages.pfn, pages.order);
    return null;
  }
  xen.remapped.add(pages.pfn);
  return { cpuAddr: pages.cpuAddr, dmaHandle: xen.p2m.physToMachine(phys) };
}

/**
 * `xen_swiotlb_free_coherent`: exchanged pages go back to Xen first (as today's kernel does; the
 * 2012 one tested the mask again, found the extent fine, and kept Xen's low memory).
 */
export function xenSwiotlbFreeCoherent(dev: Device, size: number, cpuAddr: number, _dmaHandle: number, _attrs: number): void {
  const xen = xenOf(dev);
  const { mm } = dev.machine;
  const pfn = coherentPfn(dev, cpuAddr);
  if (pfn === null) throw new RangeError(`cpuAddr 0x${cpuAddr.toString(16)} is not a coherent buffer of ${dev.name}`);
  const order = getOrder(size, PAGE_SIZE);
  if (xen.remapped.delete(pfn)) xen.p2m.destroyContiguousRegion(pfn, order, xen.zero);
  mm.freePages(pfn, order);
}

/** `xen_swiotlb_dma_mapping_error`: `!dma_addr`. */
export function xenSwiotlbDmaMappingError(_dev: Device, addr: number): boolean {
  return addr === XEN_DMA_ERROR_CODE;
}

/** `xen_swiotlb_dma_supported`: the device must reach the end of the bounce pool. */
export function xenSwiotlbDmaSupported(dev: Device, mask: number): boolean {
  const xen = xenOf(dev);
  const pool = xen.pool;
  return pool !== null && xen.p2m.physToMachine(pool.end - 1) <= mask;
}

/** What a device needs to reach every machine frame of the host. */
export function xenSwiotlbGetRequiredMask(dev: Device): number {
  return bitMask(fls64(xenOf(dev).p2m.hostEnd - 1));
}

/** `swiotlb_max_mapping_size` (today's xen-swiotlb has it): one segment. */
export function xenSwiotlbMaxMappingSize(dev: Device): number {
  return swiotlbMaxMappingSize(dev.dmaParms.minAlignMask);
}

/** `xen_swiotlb_dma_ops`. */
export const xenSwiotlbDmaOps: DmaMapOps = Object.freeze({
  name: 'xen_swiotlb_dma_ops',
  alloc: xenSwiotlbAllocCoherent,
  free: xenSwiotlbFreeCoherent,
  mmap: x86CommonMmap,
  getSgtable: x86CommonGetSgtable,
  allocPages: dmaCommonAllocPages,
  freePages: dmaCommonFreePages,
  mapPage: xenSwiotlbMapPage,
  unmapPage: xenSwiotlbUnmapPage,
  mapSg: xenSwiotlbMapSg,
  unmapSg: xenSwiotlbUnmapSg,
  syncSingleForCpu: xenSwiotlbSyncSingleForCpu,
  syncSingleForDevice: xenSwiotlbSyncSingleForDevice,
  syncSgForCpu: xenSwiotlbSyncSgForCpu,
  syncSgForDevice: xenSwiotlbSyncSgForDevice,
  mappingError: xenSwiotlbDmaMappingError,
  dmaSupported: xenSwiotlbDmaSupported,
  getRequiredMask: xenSwiotlbGetRequiredMask,
  maxMappingSize: xenSwiotlbMaxMappingSize,
});
