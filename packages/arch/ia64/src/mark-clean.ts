import { alignUp } from '@kdma/hw';
import type { Machine } from '@kdma/dma-mapping/ops';

/*
 * arch/ia64/mm/init.c `dma_mark_clean` and sba_iommu.c `mark_clean`: ia64 keeps the instruction
 * cache coherent lazily. A page gets `PG_arch_1` once its i-cache lines are known clean; mapping it
 * executable later (`lazy_mmu_prot_update`) then skips the flush. DMA is i-cache coherent, so a
 * page a device wrote whole can be marked clean when the buffer goes back to the CPU.
 */

const KEY = 'ia64:pg_arch_1';

/** The bookkeeping of one machine: the pages with `PG_arch_1` set and how often it was asked. */
export class Ia64IcacheState {
  /** pfns whose `PG_arch_1` ("i-cache clean") bit is set. */
  readonly clean = new Set<number>();
  /** `dma_mark_clean` / `mark_clean` calls. */
  calls = 0;
  /** `set_bit(PG_arch_1)` operations (a page marked twice counts twice). */
  pagesMarked = 0;
}

/** The machine's `PG_arch_1` bookkeeping. */
export function ia64IcacheState(machine: Machine): Ia64IcacheState {
  let state = machine.archState.get(KEY) as Ia64IcacheState | undefined;
  if (state === undefined) {
    state = new Ia64IcacheState();
    machine.archState.set(KEY, state);
  }
  return state;
}

/**
 * `dma_mark_clean(addr, size)` by physical address: sets `PG_arch_1` on every page that
 * `[paddr, paddr + size)` covers completely (a partly written page may hold stale i-cache lines).
 */
export function dmaMarkClean(machine: Machine, paddr: number, size: number): void {
  const state = ia64IcacheState(machine);
  const pageSize = machine.pageSize;
  state.calls++;
  const end = paddr + size;
  for (let page = alignUp(paddr, pageSize); page + pageSize <= end; page += pageSize) {
    state.clean.add(page / pageSize);
    state.pagesMarked++;
  }
}

/** Whether `PG_arch_1` is set on `pfn`. */
export function pageIcacheClean(machine: Machine, pfn: number): boolean {
  return ia64IcacheState(machine).clean.has(pfn);
}
