import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Hardware } from '@kdma/hw';
import { pgprotNoncached } from '@kdma/mm';
import type { Device } from '@kdma/dma-mapping';
import type { DmaDirectHooks, Machine } from '@kdma/dma-mapping/ops';
import { mipsPlatform } from './arch.js';
import { uncacAddr, uncacUnmap } from './addrspace.js';
import { dmaCacheInv, dmaCacheWback, dmaCacheWbackInv } from './c-r4k.js';
import { mipsOptions } from './options.js';

/*
 * arch/mips/mm/dma-default.c (`mips_default_dma_map_ops`), as the hooks today's dma-direct calls
 * (arch/mips/mm/dma-noncoherent.c): the same cache operations at the same points.
 */

/**
 * `__dma_sync` / `__dma_sync_virtual`: TO_DEVICE writes back (`dma_cache_wback`), FROM_DEVICE
 * invalidates (`dma_cache_inv`), BIDIRECTIONAL does both (`dma_cache_wback_inv`). The model's
 * cache is physically indexed, so the highmem page walk of the kernel (kmap_atomic per page) is
 * one range here.
 */
export function dmaSync(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  switch (dir) {
    case DMA_TO_DEVICE:
      dmaCacheWback(hw, paddr, size);
      break;
    case DMA_FROM_DEVICE:
      dmaCacheInv(hw, paddr, size);
      break;
    case DMA_BIDIRECTIONAL:
      dmaCacheWbackInv(hw, paddr, size);
      break;
    default:
      throw new RangeError(`dir must be DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, got ${String(dir)}`);
  }
}

/** Whether `machine`'s devices snoop: the board's `plat_device_is_coherent`, or Malta's `coherentio`. */
export function mipsMachineCoherent(machine: Machine): boolean {
  return mipsPlatform(machine.platform).coherent || mipsOptions(machine.options).coherentio;
}

/** `plat_device_is_coherent(dev)`: per board, the same answer for every device. */
export function platDeviceIsCoherent(dev: Device): boolean {
  return dev.dmaCoherent;
}

/**
 * `cpu_needs_post_dma_flush(dev)`: a non-coherent device on a CPU that speculatively fills lines
 * (R10000, R12000) — lines loaded while the device owned the buffer hide what it wrote, so
 * unmap and sync-for-CPU invalidate once more.
 */
export function cpuNeedsPostDmaFlush(dev: Device): boolean {
  return !platDeviceIsCoherent(dev) && mipsPlatform(dev.machine.platform).cpu === 'r10000';
}

/** The dma-direct hooks of a MIPS machine. */
export function mipsDirectHooks(machine: Machine): DmaDirectHooks {
  const { hw, mm } = machine;
  const postDmaFlush = mipsPlatform(machine.platform).cpu === 'r10000';
  return {
    honouredAttrs: machine.arch.honouredAttrs,
    // mips_dma_map_page / map_sg / sync_*_for_device: `__dma_sync` unless the device is coherent.
    syncForDevice: (paddr, size, dir) => dmaSync(hw, paddr, size, dir),
    // mips_dma_unmap_page / sync_*_for_cpu: only `cpu_needs_post_dma_flush` CPUs do anything.
    // (v3.4's mips_dma_unmap_sg also invalidated on every non-coherent board; dma-direct, like
    // today's arch_sync_dma_for_cpu, treats single and sg mappings alike.)
    syncForCpu: postDmaFlush ? (paddr, size, dir) => dmaSync(hw, paddr, size, dir) : () => {},
    // mips_dma_alloc_coherent: `dma_cache_wback_inv(ret, size)` before handing out UNCAC_ADDR(ret).
    prepCoherent: (pfn, size) => dmaCacheWbackInv(hw, pfn * mm.pageSize, size),
    // The uncached alias is uncached whatever the attributes ask (WRITE_COMBINE is ignored).
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
    remap: (pfn, pages, prot) => uncacAddr(mm, pfn, pages, prot),
    unremap: (cpuAddr) => uncacUnmap(mm, cpuAddr),
  };
}
