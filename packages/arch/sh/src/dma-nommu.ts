import { DMA_BIDIRECTIONAL, type DmaDataDirection } from '@kdma/dma-attrs';
import { pgprotNoncached } from '@kdma/mm';
import type { Device } from '@kdma/dma-mapping';
import { dmaDirectOps, type DmaDirectHooks, type DmaMapOps, type Machine } from '@kdma/dma-mapping/ops';
import { p2SegAddr, p2SegUnmap } from './addrspace.js';
import { dmaCacheSync, dmaCacheSyncPhys } from './consistent.js';

/*
 * arch/sh/kernel/dma-nommu.c and mm/consistent.c: `nommu_dma_ops`, the only ops sh had. Bus
 * addresses are physical addresses (`.is_phys = 1`); map_page, map_sg and (with
 * CONFIG_DMA_NONCOHERENT) sync_*_for_device call `dma_cache_sync`; there is no unmap and no
 * sync for the CPU: the FROM_DEVICE invalidate happens when the buffer is handed to the device,
 * which is enough for CPUs that do not fill lines speculatively.
 */

/**
 * The dma-direct hooks that make dma-direct behave as `nommu_dma_ops` did (today's sh is
 * dma-direct with `arch_sync_dma_for_device` = the same `dma_cache_sync` and no
 * `arch_sync_dma_for_cpu`).
 */
export function shDirectHooks(machine: Machine): DmaDirectHooks {
  const { hw, mm } = machine;
  return {
    honouredAttrs: machine.arch.honouredAttrs,
    syncForDevice: (paddr, size, dir) => dmaCacheSyncPhys(hw, paddr, size, dir),
    syncForCpu: () => {},
    // dma_generic_alloc_coherent: "Pages from the page allocator may have data present in
    // cache. So flush the cache before using uncached memory." — dma_cache_sync(BIDIRECTIONAL).
    prepCoherent: (pfn, size) => dmaCacheSyncPhys(hw, pfn * mm.pageSize, size, DMA_BIDIRECTIONAL),
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
    // ioremap_nocache(virt_to_phys(ret)): the P2 segment alias.
    remap: (pfn, pages, prot) => p2SegAddr(mm, pfn, pages, prot),
    unremap: (cpuAddr) => p2SegUnmap(mm, cpuAddr),
  };
}

/** `dma_cache_sync` as an op: real maintenance on sh whatever memory the address points to. */
function nommuCacheSync(dev: Device, cpuAddr: number, size: number, dir: DmaDataDirection): void {
  const { hw, mm } = dev.machine;
  dmaCacheSync(hw, mm, cpuAddr, size, dir);
}

/**
 * `nommu_dma_ops`: dma-direct's allocation, mapping and syncs with sh's hooks, plus sh's own
 * `dma_cache_sync`, which — unlike the `DMA_ATTR_NON_CONSISTENT` one of dma-direct — works on any
 * kernel address, the uncached P2 alias included (it flushes the cached P1 twin).
 */
export const nommuDmaOps: DmaMapOps = Object.freeze({
  ...dmaDirectOps,
  name: 'nommu_dma_ops',
  cacheSync: nommuCacheSync,
});
