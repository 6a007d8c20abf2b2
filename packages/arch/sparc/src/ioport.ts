import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Device, DmaAllocation } from '@kdma/dma-mapping';
import {
  dmaDirectAlloc,
  dmaDirectFree,
  dmaDirectGetSgtable,
  dmaDirectMmap,
  dmaDirectSupported,
  type DmaDirectHooks,
  type DmaMapOps,
  type Machine,
} from '@kdma/dma-mapping/ops';
import { pgprotNoncached } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';

/*
 * arch/sparc/kernel/ioport.c as a LEON3/4 system uses it: `dma_ops = &pci32_dma_ops`. The bus
 * address is the physical address ("equals virt_to_bus (R.I.P.) for us"), coherent memory is
 * remapped uncached into the DVMA area (`sparc_mapiorange` without the cacheable bit), and since
 * the LEON's D-cache does not snoop DMA (unless `sparc_leon3_snooping_enabled()`), unmap and the
 * syncs of anything but a `DMA_TO_DEVICE` buffer call `dma_make_coherent`, which flushes the whole
 * D-cache (`leon_flush_dcache_all`): lines the CPU read before the device wrote would hide its bytes.
 *
 * The LEON's D-cache is write-through: a CPU store reaches memory at once, so `pci32_map_page`
 * does nothing ("IIep is write-through, not flushing"). kdma's cache model is write-back only; to
 * stand for write-through, the map and sync-for-device paths clean the buffer's lines (which a
 * write-through cache never has dirty) — a modelling device, counted as a clean, not a kernel
 * call. `leon_flush_dcache_all` is a clean-and-invalidate of every line for the same reason.
 *
 * Followed from today's kernel (which runs LEON on dma-direct): the coherent buffer is zeroed,
 * `dma_supported` checks the mask against memory (v3.4 said yes to any PCI device), and the
 * user-space mapping is uncached like the kernel's.
 */

/** `pci32_alloc_coherent`'s limit: "__get_free_pages() limit". */
export const PCI32_ALLOC_LIMIT = 256 * 1024;

/** The LEON's flush bookkeeping. */
export interface LeonStats {
  /** `leon_flush_dcache_all` calls. */
  readonly dcacheFlushAlls: number;
  /** `dma_make_coherent` calls that found snooping on and did nothing. */
  readonly snoopedSkips: number;
}

const KEY = 'sparc:leon';

interface LeonState {
  snooping: boolean;
  dcacheFlushAlls: number;
  snoopedSkips: number;
}

function leonState(machine: Machine): LeonState {
  let state = machine.archState.get(KEY) as LeonState | undefined;
  if (state === undefined) {
    state = { snooping: machine.options['leonSnooping'] === true, dcacheFlushAlls: 0, snoopedSkips: 0 };
    machine.archState.set(KEY, state);
  }
  return state;
}

/** The machine's LEON counters. */
export function leonStats(machine: Machine): LeonStats {
  const { dcacheFlushAlls, snoopedSkips } = leonState(machine);
  return { dcacheFlushAlls, snoopedSkips };
}

/** `leon_flush_dcache_all`: every D-cache line, written back (see above) and invalidated. */
export function leonFlushDcacheAll(machine: Machine): void {
  leonState(machine).dcacheFlushAlls++;
  for (const region of machine.hw.ram.regions) machine.hw.cacheFlush(region.base, region.size);
}

/** `dma_make_coherent`: flush the D-cache unless it snoops. */
export function dmaMakeCoherent(machine: Machine, _pa: number, _len: number): void {
  const state = leonState(machine);
  if (state.snooping) {
    state.snoopedSkips++;
    return;
  }
  leonFlushDcacheAll(machine);
}

/** Stands for the write-through D-cache: no line of the buffer may stay dirty (see above). */
function writeThrough(machine: Machine, paddr: number, size: number): void {
  if (!leonState(machine).snooping) machine.hw.cacheClean(paddr, size);
}

/** The LEON's dma-direct hooks (used by the coherent allocator below). */
export function leonDirectHooks(machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: 0,
    syncForDevice: (paddr, size) => writeThrough(machine, paddr, size),
    syncForCpu: (paddr, size, dir) => {
      if (dir !== DMA_TO_DEVICE) dmaMakeCoherent(machine, paddr, size);
    },
    prepCoherent: (pfn, size) => machine.hw.cacheFlush(pfn * machine.pageSize, size),
    // SRMMU pages without the cacheable bit.
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
  };
}

/** `pci32_alloc_coherent`: at most 256 KiB, pages remapped uncached; the handle is physical. */
export function pci32AllocCoherent(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  if (size === 0 || size > PCI32_ALLOC_LIMIT) return null;
  return dmaDirectAlloc(dev, size, gfp, attrs);
}

/** `pci32_free_coherent`: `dma_make_coherent`, unmap, free. */
export function pci32FreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void {
  dmaMakeCoherent(dev.machine, dmaHandle, size);
  dmaDirectFree(dev, size, cpuAddr, dmaHandle, attrs);
}

/** `pci32_map_page`: the physical address ("IIep is write-through, not flushing"). */
export function pci32MapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  const paddr = pfn * dev.machine.pageSize + offset;
  if (!dev.dmaCoherent) writeThrough(dev.machine, paddr, size);
  return paddr;
}

/** `pci32_unmap_page`: `dma_make_coherent` unless the device only read. */
export function pci32UnmapPage(dev: Device, ba: number, size: number, dir: DmaDataDirection, _attrs: number): void {
  if (dir !== DMA_TO_DEVICE) dmaMakeCoherent(dev.machine, ba, size);
}

/** `pci32_map_sg`: each entry's physical address. */
export function pci32MapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    sg.dmaAddress = pci32MapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `pci32_unmap_sg`: `dma_make_coherent` per entry unless TO_DEVICE. */
export function pci32UnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, _attrs: number): void {
  if (dir === DMA_TO_DEVICE) return;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    dmaMakeCoherent(dev.machine, sg.dmaAddress, sg.length);
  }
}

/** `pci32_sync_single_for_cpu`. */
export function pci32SyncSingleForCpu(dev: Device, ba: number, size: number, dir: DmaDataDirection): void {
  if (dir !== DMA_TO_DEVICE) dmaMakeCoherent(dev.machine, ba, size);
}

/** `pci32_sync_single_for_device`: the same flush (and the write-through stand-in). */
export function pci32SyncSingleForDevice(dev: Device, ba: number, size: number, dir: DmaDataDirection): void {
  if (!dev.dmaCoherent) writeThrough(dev.machine, ba, size);
  if (dir !== DMA_TO_DEVICE) dmaMakeCoherent(dev.machine, ba, size);
}

/** `pci32_sync_sg_for_cpu`. */
export function pci32SyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    pci32SyncSingleForCpu(dev, sg.dmaAddress, sg.length, dir);
  }
}

/** `pci32_sync_sg_for_device`. */
export function pci32SyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    pci32SyncSingleForDevice(dev, sg.dmaAddress, sg.length, dir);
  }
}

/** `pci32_dma_ops`. */
export const pci32DmaOps: DmaMapOps = Object.freeze({
  name: 'pci32_dma_ops',
  alloc: pci32AllocCoherent,
  free: pci32FreeCoherent,
  mmap: dmaDirectMmap,
  getSgtable: dmaDirectGetSgtable,
  mapPage: pci32MapPage,
  unmapPage: pci32UnmapPage,
  mapSg: pci32MapSg,
  unmapSg: pci32UnmapSg,
  syncSingleForCpu: pci32SyncSingleForCpu,
  syncSingleForDevice: pci32SyncSingleForDevice,
  syncSgForCpu: pci32SyncSgForCpu,
  syncSgForDevice: pci32SyncSgForDevice,
  dmaSupported: dmaDirectSupported,
});
