import { addrMod, alignUp } from '@kdma/hw';
import type { Mm, Pgprot } from '@kdma/mm';

/*
 * asm/addrspace.h: `UNCAC_ADDR` and `CAC_ADDR`. A 32-bit kernel sees the low 512 MiB of physical
 * memory twice, cached through KSEG0 (`CAC_BASE` 0x80000000) and uncached through KSEG1
 * (`UNCAC_BASE` 0xa0000000); a 64-bit kernel sees all of it in XKPHYS, cached and uncached
 * (0x9800… / 0x9000…). kdma keeps the meaning, not the numbers (DESIGN.md): the uncached alias is
 * a kernel mapping of the same pages with the 'uncached' memory type, in an area of its own (mm's
 * consistent area, sized to cover all RAM) so that, like the hardware window, it never fills up
 * and costs no vmalloc space.
 */

/** The size of the uncached window for a machine with `ramBytes` of RAM: all of it. */
export function uncachedWindowSize(ramBytes: number): number {
  // A multiple of every page size MIPS offers.
  return alignUp(ramBytes, 65536);
}

/**
 * `UNCAC_ADDR(page_address(page))`: the uncached alias of `pages` pages from `pfn` on, or null
 * (the model's window covers all RAM, so only a bad argument can fail it).
 */
export function uncacAddr(mm: Mm, pfn: number, pages: number, prot: Pgprot): number | null {
  return mm.consistentMap(
    Array.from({ length: pages }, (_, i) => pfn + i),
    prot,
  );
}

/** `CAC_ADDR`: back to the cached (linear) alias of an uncached address. */
export function cacAddr(mm: Mm, uncached: number): number {
  const pfn = mm.vmallocToPfn(uncached);
  if (pfn === null || !mm.isConsistentAddress(uncached)) {
    throw new RangeError(`uncached ${uncached} is not an address of the uncached window`);
  }
  return mm.pageAddress(pfn) + addrMod(uncached, mm.pageSize);
}

/** Ends the uncached alias made by `uncacAddr` (free_pages(CAC_ADDR(addr)) drops nothing else). */
export function uncacUnmap(mm: Mm, uncached: number): void {
  mm.consistentUnmap(uncached);
}
