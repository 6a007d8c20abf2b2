import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { alignUp, getOrder, hex, ilog2, pow2 } from '@kdma/hw';
import { DMA_MAPPING_ERROR, ENXIO, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import {
  dmaCommonGetSgtable,
  dmaCommonVaddrToPfn,
  dmaDirectFreePages,
  dmaMmapFromDevCoherent,
  dmaPgprot,
  noKernelMappingCookie,
} from '@kdma/dma-mapping/ops';
import { PAGE_KERNEL, __GFP_NORETRY, __GFP_NOWARN, __GFP_WAIT, __GFP_ZERO, remapPfnRange, vmMapPages, type Vma } from '@kdma/mm';
import { sgAllocTableFromPages, sgAllocTable, sgSetPage, type Scatterlist, type SgTable } from '@kdma/scatterlist';
import {
  dmaDomain,
  dmaInfoToProt,
  iommuDmaAllocIova,
  iommuDmaFreeIova,
  iommuDmaMapPage,
  iommuDmaMapPhys,
  iommuDmaUnmapPage,
  iommuDmaUnmapRange,
} from './dma-iommu.js';
import { IOMMU_CACHE } from './io-pgtable.js';
import { iommuIotlbGatherInit, iommuIotlbSync, mapRange, unmapRange, type IommuDomain } from './iommu.js';
import type { IommuDevice } from './iommu-device.js';

/*
 * Coherent and non-contiguous allocations of dma-iommu: pages need not be physically contiguous
 * at all, only contiguous in IOVA. The remap path takes the largest blocks the IOMMU can map as
 * one PTE (high order first, down to single pages), maps them back to back and gives the CPU a
 * vmap of them — or nothing at all with DMA_ATTR_NO_KERNEL_MAPPING.
 */

/** A coherent buffer of dma-iommu, as the kernel finds it again from its CPU address. */
export interface IommuDmaBuffer {
  readonly cpuAddr: number;
  readonly dmaHandle: number;
  /** Page-aligned bytes. */
  readonly size: number;
  /** Every page, in IOVA order. */
  readonly pfns: readonly number[];
  /** Split pages from `__iommu_dma_alloc_pages` (freed one by one); else one block. */
  readonly scattered: boolean;
  /** The block came from CMA. */
  readonly cma: boolean;
  /** The CPU address is a vmap (or the consistent remap) to undo on free. */
  readonly vmapped: boolean;
}

function iommuOfDev(dev: Device): IommuDevice {
  return dmaDomain(dev).iommu;
}

/** `gfpflags_allow_blocking`. */
function allowBlocking(gfp: number): boolean {
  return (gfp & __GFP_WAIT) !== 0;
}

/**
 * `__iommu_dma_alloc_pages`: `count` pages in blocks of the orders in `orders` (largest first),
 * each block split into single pages; an order that fails once is not tried again. Returns the
 * pages in order, or null (nothing kept).
 */
function allocScatteredPages(dev: Device, count: number, orders: readonly number[], gfp: number): number[] | null {
  const { mm } = dev.machine;
  const available = orders.filter((order) => order <= mm.maxOrder).sort((a, b) => b - a);
  const pfns: number[] = [];
  let left = count;
  const flags = gfp | __GFP_NOWARN;
  while (left > 0) {
    let got = -1;
    let size = 0;
    for (let k = 0; k < available.length; k++) {
      const order = available[k] as number;
      if (pow2(order) > left) continue;
      // Higher orders are a convenience: __GFP_NORETRY while a smaller order remains.
      const smaller = available.slice(k + 1).some((o) => pow2(o) <= left);
      const pfn = mm.allocPages(order, smaller ? flags | __GFP_NORETRY : flags);
      if (pfn === null) {
        available.splice(k, 1);
        k--;
        continue;
      }
      if (order > 0) mm.splitPage(pfn, order);
      got = pfn;
      size = pow2(order);
      break;
    }
    if (got < 0) {
      for (const pfn of pfns) mm.freePages(pfn, 0);
      return null;
    }
    for (let i = 0; i < size; i++) pfns.push(got + i);
    left -= size;
  }
  return pfns;
}

/** Runs of physically consecutive pages: `[firstPfn, pages]` pairs. */
function pfnRuns(pfns: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const pfn of pfns) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === pfn) last[1]++;
    else runs.push([pfn, 1]);
  }
  return runs;
}

interface NoncontiguousPages {
  readonly pfns: number[];
  readonly iova: number;
  /** IOVA bytes mapped (granule-aligned). */
  readonly size: number;
}

/**
 * `__iommu_dma_alloc_noncontiguous`: scattered pages in the IOMMU's page sizes (single pages only
 * with `DMA_ATTR_ALLOC_SINGLE_PAGES`), one IOVA range below the coherent mask, cache maintenance
 * for a non-coherent device (`arch_dma_prep_coherent`), every run mapped in IOVA order.
 */
function allocNoncontiguousPages(dev: Device, size: number, gfp: number, attrs: number, ioprot: number): NoncontiguousPages | null {
  const { machine } = dev;
  const pageSize = machine.pageSize;
  const domain = dmaDomain(dev);
  let sizes = domain.pgsizes.slice();
  let minSize = sizes[0] as number;
  if (minSize < pageSize) {
    minSize = pageSize;
    sizes = sizes.filter((s) => s >= pageSize);
    if (!sizes.includes(pageSize)) sizes.unshift(pageSize);
  } else {
    size = alignUp(size, minSize);
  }
  if ((attrs & DMA_ATTR_ALLOC_SINGLE_PAGES) !== 0) sizes = [minSize];
  const count = Math.ceil(size / pageSize);
  const orders = sizes.map((s) => ilog2(s / pageSize));
  const pfns = allocScatteredPages(dev, count, orders, gfp);
  if (pfns === null) return null;
  const mapped = alignUp(size, domain.granule);
  const iova = iommuDmaAllocIova(domain, dev, mapped, dev.coherentDmaMask);
  if (iova === 0) {
    freeScattered(dev, pfns);
    return null;
  }
  const runs = pfnRuns(pfns);
  const hooks = machine.directHooks;
  if ((ioprot & IOMMU_CACHE) === 0) for (const [pfn, n] of runs) hooks.prepCoherent(pfn, n * pageSize);
  let at = iova;
  for (const [pfn, n] of runs) {
    const bytes = Math.min(n * pageSize, iova + mapped - at);
    if (mapRange(domain, at, pfn * pageSize, bytes, ioprot) !== 0) {
      undoMapping(domain, iova, at - iova);
      iommuDmaFreeIova(domain, iova, mapped, null);
      freeScattered(dev, pfns);
      return null;
    }
    at += bytes;
  }
  return { pfns, iova, size: mapped };
}

function undoMapping(domain: IommuDomain, iova: number, bytes: number): void {
  if (bytes === 0) return;
  const gather = iommuIotlbGatherInit();
  unmapRange(domain, iova, bytes, gather);
  iommuIotlbSync(domain, gather);
}

function freeScattered(dev: Device, pfns: readonly number[]): void {
  const { mm } = dev.machine;
  for (const pfn of pfns) mm.freePages(pfn, 0);
}

function physicallyContiguous(pfns: readonly number[]): boolean {
  for (let i = 1; i < pfns.length; i++) if (pfns[i] !== (pfns[0] as number) + i) return false;
  return true;
}

/**
 * `iommu_dma_alloc_remap`: scattered pages, one IOVA range, and a kernel mapping only when one is
 * wanted and needed — none with `DMA_ATTR_NO_KERNEL_MAPPING` (a cookie that faults on access;
 * the kernel hands out the page array), the linear address for a coherent device whose pages
 * happen to be one run, else a vmap with the arch's coherent page attributes.
 */
function allocRemap(dev: Device, size: number, gfp: number, attrs: number, ioprot: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const pages = allocNoncontiguousPages(dev, size, gfp, attrs, ioprot);
  if (pages === null) return null;
  const first = pages.pfns[0] as number;
  let cpuAddr: number;
  let vmapped = false;
  if ((attrs & DMA_ATTR_NO_KERNEL_MAPPING) !== 0) {
    cpuAddr = noKernelMappingCookie(dev, first);
  } else if (dev.dmaCoherent && physicallyContiguous(pages.pfns)) {
    cpuAddr = mm.pageAddress(first);
  } else {
    const vaddr = mm.vmap(pages.pfns, dmaPgprot(dev, PAGE_KERNEL, attrs));
    if (vaddr === null) {
      iommuDmaUnmapRange(dev, pages.iova, pages.size);
      freeScattered(dev, pages.pfns);
      return null;
    }
    cpuAddr = vaddr;
    vmapped = true;
  }
  const buffer: IommuDmaBuffer = {
    cpuAddr,
    dmaHandle: pages.iova,
    size: pages.pfns.length * machine.pageSize,
    pfns: pages.pfns,
    scattered: true,
    cma: false,
    vmapped,
  };
  iommuOfDev(dev).dmaBuffers.set(cpuAddr, buffer);
  return { cpuAddr, dmaHandle: pages.iova };
}

/** `dma_alloc_contiguous` then `alloc_pages`: one physically contiguous block. */
function allocContiguousBlock(dev: Device, size: number, gfp: number): { pfn: number; cma: boolean } | null {
  const { mm } = dev.machine;
  const pages = Math.ceil(size / mm.pageSize);
  const order = getOrder(size, mm.pageSize);
  if (pages > 1) {
    const pfn = mm.cmaAlloc(pages, Math.min(order, 8));
    if (pfn !== null) return { pfn, cma: true };
  }
  const pfn = mm.allocPages(order, gfp & ~__GFP_ZERO);
  return pfn === null ? null : { pfn, cma: false };
}

/**
 * `iommu_dma_alloc_pages` + `__iommu_dma_map` (`DMA_ATTR_FORCE_CONTIGUOUS`, or an atomic
 * allocation): one contiguous block, remapped with the coherent attributes for a non-coherent
 * device, the linear address for a coherent one.
 */
function allocContiguous(dev: Device, size: number, gfp: number, attrs: number, ioprot: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const allocSize = alignUp(size, mm.pageSize);
  const block = allocContiguousBlock(dev, allocSize, gfp);
  if (block === null) return null;
  const pageCount = allocSize / mm.pageSize;
  const pfns = Array.from({ length: pageCount }, (_, i) => block.pfn + i);
  // Zeroed through the cached linear alias, then written back for a non-coherent device.
  machine.cpu.fill(mm.pageAddress(block.pfn), allocSize, 0);
  let cpuAddr: number;
  let vmapped = false;
  if (!dev.dmaCoherent) machine.directHooks.prepCoherent(block.pfn, allocSize);
  if ((attrs & DMA_ATTR_NO_KERNEL_MAPPING) !== 0) {
    cpuAddr = noKernelMappingCookie(dev, block.pfn);
  } else if (!dev.dmaCoherent) {
    const vaddr = mm.vmap(pfns, dmaPgprot(dev, PAGE_KERNEL, attrs));
    if (vaddr === null) {
      dmaDirectFreePages(dev, allocSize, block.pfn);
      return null;
    }
    cpuAddr = vaddr;
    vmapped = true;
  } else {
    cpuAddr = mm.pageAddress(block.pfn);
  }
  const dmaHandle = iommuDmaMapPhys(dev, block.pfn * mm.pageSize, size, ioprot, dev.coherentDmaMask);
  if (dmaHandle === DMA_MAPPING_ERROR) {
    if (vmapped) mm.vunmap(cpuAddr);
    dmaDirectFreePages(dev, allocSize, block.pfn);
    return null;
  }
  iommuOfDev(dev).dmaBuffers.set(cpuAddr, { cpuAddr, dmaHandle, size: allocSize, pfns, scattered: false, cma: block.cma, vmapped });
  return { cpuAddr, dmaHandle };
}

/**
 * `iommu_dma_alloc`: zeroed memory, contiguous in IOVA; physically scattered unless
 * `DMA_ATTR_FORCE_CONTIGUOUS` or the caller cannot sleep. Attributes the arch does not implement
 * are ignored, as in dma-direct.
 */
export function iommuDmaAlloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
  const honoured = attrs & dev.machine.directHooks.honouredAttrs;
  const ioprot = dmaInfoToProt(DMA_BIDIRECTIONAL, dev.dmaCoherent, honoured);
  const flags = gfp | __GFP_ZERO;
  if (allowBlocking(flags) && (honoured & DMA_ATTR_FORCE_CONTIGUOUS) === 0) return allocRemap(dev, size, flags, honoured, ioprot);
  return allocContiguous(dev, size, flags, honoured, ioprot);
}

/** The buffer `cpuAddr` belongs to, or undefined (with the kernel's WARN). */
function findBuffer(dev: Device, cpuAddr: number): IommuDmaBuffer | undefined {
  return iommuOfDev(dev).dmaBuffers.get(cpuAddr);
}

/** `iommu_dma_free`: unmap the IOVA, drop the kernel mapping, free the pages. */
export function iommuDmaFree(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { machine } = dev;
  iommuDmaUnmapRange(dev, dmaHandle, size);
  const buffer = findBuffer(dev, cpuAddr);
  if (buffer === undefined) {
    machine.printk('warn', dev, `WARNING: trying to free invalid coherent area: ${hex(cpuAddr)}`);
    return;
  }
  iommuOfDev(dev).dmaBuffers.delete(cpuAddr);
  if (buffer.vmapped) machine.mm.vunmap(cpuAddr);
  if (buffer.scattered) freeScattered(dev, buffer.pfns);
  else dmaDirectFreePages(dev, buffer.size, buffer.pfns[0] as number);
}

/**
 * `iommu_dma_mmap`: the pages go to user space one by one (`vm_map_pages`) for a scattered
 * buffer, as one `remap_pfn_range` for a contiguous one; -ENXIO outside the buffer.
 */
export function iommuDmaMmap(dev: Device, vma: Vma, cpuAddr: number, _dmaHandle: number, size: number, attrs: number): number {
  const { mm } = dev.machine;
  vma.pgprot = dmaPgprot(dev, vma.pgprot, attrs);
  const fromPool = dmaMmapFromDevCoherent(dev, vma, cpuAddr, size);
  if (fromPool !== undefined) return fromPool;
  const nrPages = Math.ceil(size / mm.pageSize);
  const userPages = (vma.end - vma.start) / mm.pageSize;
  const off = vma.pgoff;
  if (off >= nrPages || userPages > nrPages - off) return -ENXIO;
  const buffer = findBuffer(dev, cpuAddr);
  if (buffer !== undefined && buffer.scattered) return vmMapPages(vma, buffer.pfns.slice(0, nrPages));
  const pfn = buffer !== undefined ? (buffer.pfns[0] as number) : dmaCommonVaddrToPfn(dev, cpuAddr);
  if (pfn === null) return -ENXIO;
  return remapPfnRange(vma, vma.start, pfn + off, userPages * mm.pageSize, vma.pgprot);
}

/** `iommu_dma_get_sgtable`: the pages of a scattered buffer, merged into runs; one entry otherwise. */
export function iommuDmaGetSgtable(dev: Device, cpuAddr: number, dmaHandle: number, size: number, attrs: number): SgTable | number {
  const buffer = findBuffer(dev, cpuAddr);
  if (buffer === undefined) return dmaCommonGetSgtable(dev, cpuAddr, dmaHandle, size, attrs);
  const pageSize = dev.machine.pageSize;
  if (buffer.scattered) return sgAllocTableFromPages(buffer.pfns.slice(0, Math.ceil(size / pageSize)), 0, size, undefined, pageSize);
  const sgt = sgAllocTable(1);
  sgSetPage(sgt.sgl[0] as Scatterlist, buffer.pfns[0] as number, alignUp(size, pageSize), 0);
  return sgt;
}

/**
 * `iommu_dma_alloc_noncontiguous`: scattered pages mapped as one DMA segment (`nents` 1, the
 * first entry holding the whole IOVA range); no kernel mapping.
 */
export function iommuDmaAllocNoncontiguous(dev: Device, size: number, _dir: DmaDataDirection, gfp: number, attrs: number): SgTable | null {
  const ioprot = dmaInfoToProt(DMA_BIDIRECTIONAL, dev.dmaCoherent, attrs);
  const pages = allocNoncontiguousPages(dev, size, gfp, attrs, ioprot);
  if (pages === null) return null;
  const sgt = sgAllocTableFromPages(pages.pfns, 0, size, undefined, dev.machine.pageSize);
  if (typeof sgt === 'number') {
    iommuDmaUnmapRange(dev, pages.iova, pages.size);
    freeScattered(dev, pages.pfns);
    return null;
  }
  for (const sg of sgt.sgl) {
    sg.dmaAddress = DMA_MAPPING_ERROR;
    sg.dmaLength = 0;
  }
  const first = sgt.sgl[0] as Scatterlist;
  first.dmaAddress = pages.iova;
  first.dmaLength = pages.size;
  sgt.nents = 1;
  return sgt;
}

/** `iommu_dma_free_noncontiguous`. */
export function iommuDmaFreeNoncontiguous(dev: Device, size: number, sgt: SgTable, _dir: DmaDataDirection): void {
  const first = sgt.sgl[0];
  if (first === undefined) return;
  iommuDmaUnmapRange(dev, first.dmaAddress, size);
  const pageSize = dev.machine.pageSize;
  const pfns: number[] = [];
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i] as Scatterlist;
    const n = Math.ceil((sg.offset + sg.length) / pageSize);
    for (let p = 0; p < n; p++) pfns.push(sg.pfn + p);
  }
  freeScattered(dev, pfns);
}

/**
 * `dma_common_alloc_pages` (what `dma_alloc_pages` does behind an IOMMU): a contiguous block,
 * mapped without a sync, then zeroed in the cache — the driver hands it over with the sync calls.
 */
export function iommuDmaAllocPages(dev: Device, size: number, dir: DmaDataDirection, gfp: number): { pfn: number; dmaHandle: number } | null {
  const { machine } = dev;
  const allocSize = alignUp(size, machine.pageSize);
  const block = allocContiguousBlock(dev, allocSize, gfp);
  if (block === null) return null;
  const dmaHandle = iommuDmaMapPage(dev, block.pfn, 0, size, dir, DMA_ATTR_SKIP_CPU_SYNC);
  if (dmaHandle === DMA_MAPPING_ERROR) {
    dmaDirectFreePages(dev, allocSize, block.pfn);
    return null;
  }
  machine.cpu.fill(machine.mm.pageAddress(block.pfn), allocSize, 0);
  return { pfn: block.pfn, dmaHandle };
}

/** `dma_common_free_pages`. */
export function iommuDmaFreePages(dev: Device, size: number, pfn: number, dmaHandle: number, dir: DmaDataDirection): void {
  iommuDmaUnmapPage(dev, dmaHandle, size, dir, DMA_ATTR_SKIP_CPU_SYNC);
  dmaDirectFreePages(dev, alignUp(size, dev.machine.pageSize), pfn);
}
