import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { lowBits, ilog2, type Hardware } from '@kdma/hw';
import { PAGE_KERNEL, pgprotNoncached, type Pgprot } from '@kdma/mm';
import type { DmaDirectHooks, Machine } from '@kdma/dma-mapping/ops';

/*
 * arch/powerpc/mm/dma-noncoherent.c (CONFIG_NOT_COHERENT_CACHE: 4xx, 8xx, e200, MPC512x,
 * GameCube/Wii): cache maintenance by direction, and coherent memory mapped cache-inhibited into
 * the consistent area.
 */

/** `CONFIG_CONSISTENT_SIZE`'s default: the uncached area coherent allocations are mapped into. */
export const CONSISTENT_SIZE = 0x0020_0000;

/** `flush_dcache_range` (`dcbf` per line): write back and invalidate. */
export function flushDcacheRange(hw: Hardware, paddr: number, size: number): void {
  hw.cacheFlush(paddr, size);
}

/** `clean_dcache_range` (`dcbst` per line): write back, keep the lines. */
export function cleanDcacheRange(hw: Hardware, paddr: number, size: number): void {
  hw.cacheClean(paddr, size);
}

/** `invalidate_dcache_range` (`dcbi` per line): drop the lines without writing them back. */
export function invalidateDcacheRange(hw: Hardware, paddr: number, size: number): void {
  hw.cacheInvalidate(paddr, size);
}

/**
 * `__dma_sync(vaddr, size, direction)` on the buffer's physical range:
 * - FROM_DEVICE: `invalidate_dcache_range` — "invalidate only when cache-line aligned otherwise
 *   there is the potential for discarding uncommitted data from the cache": a buffer whose start
 *   or end shares a line with other data is flushed instead;
 * - TO_DEVICE: `clean_dcache_range` (write back only);
 * - BIDIRECTIONAL: `flush_dcache_range` (write back and invalidate).
 */
export function dmaSync(hw: Hardware, paddr: number, size: number, dir: DmaDataDirection): void {
  switch (dir) {
    case DMA_FROM_DEVICE: {
      const shift = ilog2(hw.cacheLineSize);
      if (lowBits(paddr, shift) !== 0 || lowBits(paddr + size, shift) !== 0) flushDcacheRange(hw, paddr, size);
      else invalidateDcacheRange(hw, paddr, size);
      break;
    }
    case DMA_TO_DEVICE:
      cleanDcacheRange(hw, paddr, size);
      break;
    case DMA_BIDIRECTIONAL:
      flushDcacheRange(hw, paddr, size);
      break;
    default:
      // BUG() for DMA_NONE.
      throw new RangeError(`dir must be DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL, got ${String(dir)}`);
  }
}

/**
 * The hooks dma-direct and the consumer API read from a PowerPC machine. On a
 * `NOT_COHERENT_CACHE` platform: `__dma_sync` for both directions of ownership (today's
 * `arch_sync_dma_for_device`/`_for_cpu`; the 2012 `dma_direct_ops` synced on map and
 * sync-for-CPU only and left `unmap` empty), `flush_dcache_range` before the uncached alias is
 * used, `pgprot_noncached` for the kernel and user mappings, and the 2 MiB consistent area. On
 * coherent platforms nothing is ever synced.
 */
export function powerpcDirectHooks(machine: Machine): DmaDirectHooks {
  const { hw, mm } = machine;
  const honouredAttrs = machine.arch.honouredAttrs;
  if (!machine.description.needsCacheModel(machine.platform)) {
    return {
      honouredAttrs,
      syncForDevice: () => {},
      syncForCpu: () => {},
      prepCoherent: () => {},
      coherentPgprot: (_attrs, prot) => prot,
    };
  }
  return {
    honouredAttrs,
    syncForDevice: (paddr, size, dir) => dmaSync(hw, paddr, size, dir),
    syncForCpu: (paddr, size, dir) => dmaSync(hw, paddr, size, dir),
    prepCoherent: (pfn, size) => flushDcacheRange(hw, pfn * mm.pageSize, size),
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
    remap: (pfn: number, pages: number, prot: Pgprot) =>
      mm.consistentMap(
        Array.from({ length: pages }, (_, i) => pfn + i),
        prot,
      ),
    unremap: (cpuAddr: number) => mm.consistentUnmap(cpuAddr),
  };
}

/** `pgprot_noncached(PAGE_KERNEL)`: how `__dma_alloc_coherent` maps its pages. */
export const PAGE_KERNEL_NONCACHED: Pgprot = pgprotNoncached(PAGE_KERNEL);
