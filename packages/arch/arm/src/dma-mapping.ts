import { DMA_ATTR_WRITE_COMBINE } from '@kdma/dma-attrs';
import type { DmaDirectHooks, Machine } from '@kdma/dma-mapping/ops';
import { pgprotNoncached, pgprotWritecombine, type Pgprot } from '@kdma/mm';
import { arch } from './arch.js';
import { dmacMapArea, dmacUnmapArea, v7DmaFlushRange } from './cache-maintenance.js';
import { armOptions } from './options.js';

/*
 * arch/arm/mm/dma-mapping.c: what dma-direct asks of ARM.
 */

/**
 * `pgprot_dmacoherent`: with `CONFIG_ARM_DMA_MEM_BUFFERABLE` (the ARMv7 default) coherent memory
 * is Normal non-cacheable — bufferable, so the CPU's stores wait in its write buffer and drivers
 * need `wmb()` before telling the device; without it, strongly ordered.
 */
export function pgprotDmacoherent(prot: Pgprot, bufferable: boolean): Pgprot {
  return bufferable ? pgprotWritecombine(prot) : pgprotNoncached(prot);
}

/** The dma-direct hooks of an ARM machine. */
export function armDirectHooks(machine: Machine): DmaDirectHooks {
  const { hw, mm } = machine;
  const { dmaMemBufferable, consistentDmaSize } = armOptions(machine.options);
  const useConsistentArea = consistentDmaSize > 0 && machine.options.cma === false;
  return {
    honouredAttrs: arch.honouredAttrs,
    // __dma_page_cpu_to_dev
    syncForDevice: (paddr, size, dir) => dmacMapArea(hw, paddr, size, dir),
    // __dma_page_dev_to_cpu
    syncForCpu: (paddr, size, dir) => dmacUnmapArea(hw, paddr, size, dir),
    // __dma_clear_buffer's flush: no dirty line of the linear alias may land on the buffer later.
    prepCoherent: (pfn, size) => v7DmaFlushRange(hw, pfn * mm.pageSize, size),
    coherentPgprot: (attrs, prot) =>
      (attrs & DMA_ATTR_WRITE_COMBINE) !== 0 ? pgprotWritecombine(prot) : pgprotDmacoherent(prot, dmaMemBufferable),
    ...(useConsistentArea
      ? {
          // __dma_alloc_remap: the 2011 kernels' fixed consistent DMA area (CONSISTENT_DMA_SIZE).
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
