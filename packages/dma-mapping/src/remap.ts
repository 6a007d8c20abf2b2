import type { Pgprot } from '@kdma/mm';
import type { Machine } from './machine.js';

/*
 * kernel/dma/remap.c: the kernel mappings coherent buffers get on non-coherent machines, with the
 * page attributes the arch chose, in the vmalloc area (whose size `machine.mm.stats()` shows).
 */

/** `dma_common_pages_remap`: maps scattered pages contiguously; null when vmalloc space is gone. */
export function dmaCommonPagesRemap(machine: Machine, pfns: readonly number[], prot: Pgprot): number | null {
  return machine.mm.vmap(pfns, prot);
}

/** `dma_common_contiguous_remap`: the same for `pages` pages from `pfn` on. */
export function dmaCommonContiguousRemap(machine: Machine, pfn: number, pages: number, prot: Pgprot): number | null {
  return machine.mm.vmap(
    Array.from({ length: pages }, (_, i) => pfn + i),
    prot,
  );
}

/** `dma_common_free_remap`. */
export function dmaCommonFreeRemap(machine: Machine, cpuAddr: number): void {
  machine.mm.vunmap(cpuAddr);
}
