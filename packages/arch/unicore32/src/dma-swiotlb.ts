import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Device, DmaAllocation } from '@kdma/dma-mapping';
import { minNotZero, swiotlbAllocCoherent, swiotlbDmaOps, type DmaDirectHooks, type DmaMapOps, type Machine } from '@kdma/dma-mapping/ops';
import { GFP_DMA } from '@kdma/mm';
import { PCI_DMA_THRESHOLD } from './arch.js';
import { addrMod } from '@kdma/hw';

/*
 * arch/unicore32/mm/dma-swiotlb.c and include/asm/dma-mapping.h.
 */

/** The dma-direct hooks: never called for maintenance (every device is coherent), kept for shape. */
export function unicore32DirectHooks(machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: machine.arch.honouredAttrs,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  };
}

/**
 * `dma_cache_sync` (asm/dma-mapping.h): FROM_DEVICE and BIDIRECTIONAL `__cpuc_dma_flush_range`,
 * TO_DEVICE `__cpuc_dma_clean_range`, over the buffer's pages. The machine models no cache a
 * device cannot see, so the operations are counted and change no bytes.
 */
export function unicore32CacheSync(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void {
  const { hw, mm } = dev.machine;
  const op = dir === DMA_TO_DEVICE ? hw.cacheClean.bind(hw) : dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL ? hw.cacheFlush.bind(hw) : null;
  if (op === null) throw new RangeError(`dir must be DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, got ${String(dir)}`);
  const pageSize = mm.pageSize;
  // Every page must be mapped before anything is done: a faulting call changes nothing.
  for (let va = cpuAddr; va < cpuAddr + size; va += pageSize - addrMod(va, pageSize)) mm.kvaToPhys(va);
  for (let va = cpuAddr, left = size; left > 0; ) {
    const len = Math.min(left, pageSize - addrMod(va, pageSize));
    op(mm.kvaToPhys(va), len);
    va += len;
    left -= len;
  }
}

/**
 * `unicore_swiotlb_alloc_coherent`: `swiotlb_alloc_coherent`, with `GFP_DMA` for a device behind
 * the PCI bridge — "Only first 128MB of memory can be accessed via PCI. We use GFP_DMA to allocate
 * safe buffers" (kernel/pci.c) — so its coherent buffer comes from the capped zone 0, or from
 * the bounce pool below it.
 */
export function unicoreSwiotlbAllocCoherent(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const behindBridge = minNotZero(dev.coherentDmaMask, dev.busDmaLimit) <= PCI_DMA_THRESHOLD;
  return swiotlbAllocCoherent(dev, size, behindBridge ? gfp | GFP_DMA : gfp, attrs);
}

/**
 * `swiotlb_dma_map_ops`: lib/swiotlb.c's functions for every hook but `alloc`, plus the arch's `dma_cache_sync`. `get_dma_ops()` returns it for
 * every device.
 */
export const swiotlbDmaMapOps: DmaMapOps = Object.freeze({
  ...swiotlbDmaOps,
  name: 'swiotlb_dma_map_ops',
  alloc: unicoreSwiotlbAllocCoherent,
  cacheSync: unicore32CacheSync,
});
