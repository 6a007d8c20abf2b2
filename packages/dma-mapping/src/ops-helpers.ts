import { alignUp } from '@kdma/hw';
import { remapPfnRange, type Vma } from '@kdma/mm';
import { sgAllocTable, sgSetPage, type Scatterlist, type SgTable } from '@kdma/scatterlist';
import { dmaMmapFromDevCoherent } from './coherent.js';
import type { Device } from './device.js';
import { dmaPgprot } from './dma-pgprot.js';
import { ENXIO } from './errno.js';

/*
 * Helpers for ops implementations (kernel/dma/ops_helpers.c): the generic mmap and get_sgtable
 * that work from the buffer's kernel address.
 */

/** `dma_common_vaddr_to_page`: the pfn behind a linear or vmalloc kernel address, or null. */
export function dmaCommonVaddrToPfn(dev: Device, cpuAddr: number): number | null {
  const { mm } = dev.machine;
  if (mm.isVmallocAddress(cpuAddr)) return mm.vmallocToPfn(cpuAddr);
  return mm.virtAddrValid(cpuAddr) ? Math.floor(mm.virtToPhys(cpuAddr) / mm.pageSize) : null;
}

/**
 * `dma_common_mmap`: sets the VMA's protection with `dma_pgprot`, then maps the buffer's pages
 * from `vm_pgoff` on; -ENXIO when the VMA does not fit inside the buffer.
 */
export function dmaCommonMmap(dev: Device, vma: Vma, cpuAddr: number, _dmaAddr: number, size: number, attrs: number): number {
  const { mm } = dev.machine;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const fromPool = dmaMmapFromDevCoherent(dev, vma, cpuAddr, size);
  if (fromPool !== undefined) return fromPool;
  const userCount = (vma.end - vma.start) / mm.pageSize;
  const count = Math.ceil(size / mm.pageSize);
  const off = vma.pgoff;
  if (off >= count || userCount > count - off) return -ENXIO;
  const pfn = dmaCommonVaddrToPfn(dev, cpuAddr);
  if (pfn === null) return -ENXIO;
  return remapPfnRange(vma, vma.start, pfn + off, userCount * mm.pageSize, vma.pgprot);
}

/** `dma_common_get_sgtable`: one entry covering the page-aligned buffer, or -ENXIO. */
export function dmaCommonGetSgtable(dev: Device, cpuAddr: number, _dmaAddr: number, size: number, _attrs: number): SgTable | number {
  const pfn = dmaCommonVaddrToPfn(dev, cpuAddr);
  if (pfn === null) return -ENXIO;
  const sgt = sgAllocTable(1);
  sgSetPage(sgt.sgl[0] as Scatterlist, pfn, alignUp(size, dev.machine.mm.pageSize), 0);
  return sgt;
}
