import { alignUp } from '@kdma/hw';
import type { Mm, Pgprot } from '@kdma/mm';

/*
 * asm/addrspace.h: in 29-bit mode the low 512 MiB of physical memory appear at P1 (0x80000000,
 * cached) and at P2 (0xa0000000, uncached); `ioremap_nocache` of RAM simply returns
 * `P2SEGADDR(phys)`. kdma keeps the meaning, not the numbers (DESIGN.md): the P2 alias is a
 * kernel mapping of the same pages with the 'uncached' memory type, in an area of its own (mm's
 * consistent area, sized to cover all RAM) so that, like the segment, it never fills up and
 * costs no vmalloc space.
 */

/** The size of the P2 window for `ramBytes` of RAM: all of it. */
export function p2WindowSize(ramBytes: number): number {
  return alignUp(ramBytes, 65536);
}

/** `P2SEGADDR(page_to_phys(page))`: the uncached alias of `pages` pages from `pfn` on. */
export function p2SegAddr(mm: Mm, pfn: number, pages: number, prot: Pgprot): number | null {
  return mm.consistentMap(
    Array.from({ length: pages }, (_, i) => pfn + i),
    prot,
  );
}

/** `iounmap` of a P2 address: nothing was mapped in the hardware; the model drops its alias. */
export function p2SegUnmap(mm: Mm, kva: number): void {
  mm.consistentUnmap(kva);
}
