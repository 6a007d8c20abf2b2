import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { alignUp, type Hardware } from '@kdma/hw';
import { pgprotNoncached, type Pgprot } from '@kdma/mm';
import type { DmaDirectHooks, Machine } from '@kdma/dma-mapping/ops';
import { flushDcacheRange, invalidateDcacheRange } from './cacheflush.js';

/*
 * arch/microblaze/include/asm/dma-mapping.h and kernel/dma.c (`dma_direct_ops`), mm/consistent.c
 * (`consistent_alloc`), as the hooks today's dma-direct calls (kernel/dma.c since v4.18).
 */

/**
 * `__dma_sync(paddr, size, dir)` — on physical addresses: TO_DEVICE and BIDIRECTIONAL flush
 * (write back and invalidate), FROM_DEVICE invalidates.
 */
export function dmaSync(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  switch (dir) {
    case DMA_TO_DEVICE:
    case DMA_BIDIRECTIONAL:
      flushDcacheRange(hw, paddr, size);
      break;
    case DMA_FROM_DEVICE:
      invalidateDcacheRange(hw, paddr, size);
      break;
    default:
      throw new RangeError(`dir must be DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, got ${String(dir)}`);
  }
}

/** The uncached shadow's size for `ramBytes` of RAM: it mirrors all of the cached range. */
export function uncachedShadowSize(ramBytes: number): number {
  return alignUp(ramBytes, 32768);
}

/**
 * The dma-direct hooks of a MicroBlaze machine. Map, unmap and both syncs run `__dma_sync` with
 * the mapping's direction, as `arch_sync_dma_for_device`/`_for_cpu` do since v4.18. The 3.4
 * `dma_direct_ops` skipped BIDIRECTIONAL in `sync_single_for_device` (only TO_DEVICE flushed) and
 * in `sync_*_for_cpu` (only FROM_DEVICE invalidated), and its `unmap_sg` did nothing: a CPU write
 * to a BIDIRECTIONAL buffer between the syncs never reached the device. Today's kernel fixed
 * that, and kdma follows it (DESIGN.md).
 */
export function microblazeDirectHooks(machine: Machine): DmaDirectHooks {
  const { hw, mm } = machine;
  const shadow = machine.platform === 'nommu';
  return {
    honouredAttrs: machine.arch.honouredAttrs,
    syncForDevice: (paddr, size, dir) => dmaSync(hw, paddr, size, dir),
    syncForCpu: (paddr, size, dir) => dmaSync(hw, paddr, size, dir),
    // consistent_alloc: flush_dcache_range over the new pages before the uncached alias is used.
    prepCoherent: (pfn, size) => flushDcacheRange(hw, pfn * mm.pageSize, size),
    // _PAGE_KERNEL | _PAGE_NO_CACHE, or the uncached shadow: uncached either way.
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
    // !MMU with CONFIG_XILINX_UNCACHED_SHADOW: `ret | UNCACHED_SHADOW_MASK`, the same pages seen
    // through the uncached half of the bus — in the model an uncached mapping in an area of its own
    // that never fills up. With the MMU: get_vm_area + map_page, dma-direct's vmalloc remap.
    ...(shadow
      ? {
          remap: (pfn: number, pages: number, prot: Pgprot) =>
            mm.consistentMap(
              Array.from({ length: pages }, (_, i) => pfn + i),
              prot,
            ),
          unremap: (cpuAddr: number) => mm.consistentUnmap(cpuAddr),
        }
      : {}),
  };
}
