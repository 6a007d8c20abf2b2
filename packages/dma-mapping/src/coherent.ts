import { checkAddress, checkSize, getOrder, isAligned, pow2 } from '@kdma/hw';
import { pgprotWritecombine, PAGE_KERNEL, remapPfnRange, type Vma } from '@kdma/mm';
import type { Device } from './device.js';
import type { DmaAllocation } from './dma-map-ops.js';
import { EBUSY, EINVAL, ENOMEM, ENXIO } from './errno.js';

/**
 * `struct dma_coherent_mem` (kernel/dma/coherent.c): memory a platform set aside for one device
 * (on-chip SRAM, a carve-out), handed out page-granular with `bitmap_find_free_region`.
 */
export class DmaCoherentMem {
  /** `virt_base`: the write-combined kernel mapping (`memremap(MEMREMAP_WC)`). */
  readonly virtBase: number;
  /** `device_base`: the bus address of the first page. */
  readonly deviceBase: number;
  readonly pfnBase: number;
  /** Pages. */
  readonly size: number;
  /** One byte per page: 1 when allocated. */
  private readonly bitmap: Uint8Array;

  constructor(virtBase: number, deviceBase: number, pfnBase: number, pages: number) {
    this.virtBase = virtBase;
    this.deviceBase = deviceBase;
    this.pfnBase = pfnBase;
    this.size = pages;
    this.bitmap = new Uint8Array(pages);
  }

  /** `bitmap_find_free_region`: a free, naturally aligned run of `2^order` pages, or -1. */
  findFreeRegion(order: number): number {
    const run = pow2(order);
    for (let pageno = 0; pageno + run <= this.size; pageno += run) {
      if (this.bitmap.subarray(pageno, pageno + run).every((bit) => bit === 0)) {
        this.bitmap.fill(1, pageno, pageno + run);
        return pageno;
      }
    }
    return -1;
  }

  /** `bitmap_release_region`. */
  releaseRegion(pageno: number, order: number): void {
    this.bitmap.fill(0, pageno, Math.min(pageno + pow2(order), this.size));
  }

  /** Pages in use, for reports. */
  usedPages(): number {
    return this.bitmap.reduce((sum, bit) => sum + bit, 0);
  }
}

/**
 * `dma_declare_coherent_memory`: gives `dev` its own coherent pool at `physAddr` (seen by the
 * device at `deviceAddr`). 0, or -EINVAL / -ENOMEM / -EBUSY (a pool is already declared).
 */
export function dmaDeclareCoherentMemory(dev: Device, physAddr: number, deviceAddr: number, size: number): number {
  checkAddress(physAddr, 'physAddr');
  checkAddress(deviceAddr, 'deviceAddr');
  checkSize(size, 'size');
  const { mm } = dev.machine;
  const pageSize = mm.pageSize;
  if (!isAligned(physAddr, pageSize) || !isAligned(deviceAddr, pageSize)) return -EINVAL;
  if (dev.dmaMem !== null) return -EBUSY;
  const pages = Math.ceil(size / pageSize);
  const pfnBase = physAddr / pageSize;
  // memremap(MEMREMAP_WC) refuses System RAM: the pool must be memory the platform reserved.
  if (!mm.isReservedRange(pfnBase, pages)) return -EINVAL;
  if (claimed(dev, pfnBase, pages)) return -EBUSY;
  const pfns = Array.from({ length: pages }, (_, i) => pfnBase + i);
  const virtBase = mm.vmap(pfns, pgprotWritecombine(PAGE_KERNEL));
  if (virtBase === null) return -ENOMEM;
  dev.dmaMem = new DmaCoherentMem(virtBase, deviceAddr, pfnBase, pages);
  return 0;
}

/** `dma_release_coherent_memory`: drops the pool (its buffers must be freed first). */
export function dmaReleaseCoherentMemory(dev: Device): void {
  const mem = dev.dmaMem;
  if (mem === null) return;
  dev.machine.mm.vunmap(mem.virtBase);
  dev.dmaMem = null;
}

/** True when another device's pool already covers part of the range. */
function claimed(dev: Device, pfn: number, pages: number): boolean {
  return dev.machine.devices.some((other) => {
    const mem = other.dmaMem;
    return mem !== null && pfn < mem.pfnBase + mem.size && mem.pfnBase < pfn + pages;
  });
}

/**
 * `dma_alloc_from_dev_coherent`: undefined when the device has no pool; otherwise the pool's
 * answer, null included — a device with a pool never falls back to the generic allocator.
 */
export function dmaAllocFromDevCoherent(dev: Device, size: number): DmaAllocation | null | undefined {
  const mem = dev.dmaMem;
  if (mem === null) return undefined;
  const pageSize = dev.machine.mm.pageSize;
  const pageno = mem.findFreeRegion(getOrder(size, pageSize));
  if (pageno < 0) return null;
  const cpuAddr = mem.virtBase + pageno * pageSize;
  dev.machine.cpu.fill(cpuAddr, size, 0);
  return { cpuAddr, dmaHandle: mem.deviceBase + pageno * pageSize };
}

function poolPage(dev: Device, cpuAddr: number): number {
  const mem = dev.dmaMem;
  if (mem === null) return -1;
  const offset = cpuAddr - mem.virtBase;
  const pageSize = dev.machine.mm.pageSize;
  return offset >= 0 && offset < mem.size * pageSize ? Math.floor(offset / pageSize) : -1;
}

/** `dma_release_from_dev_coherent`: true when the buffer was the pool's (and is now free). */
export function dmaReleaseFromDevCoherent(dev: Device, order: number, cpuAddr: number): boolean {
  const pageno = poolPage(dev, cpuAddr);
  if (pageno < 0) return false;
  (dev.dmaMem as DmaCoherentMem).releaseRegion(pageno, order);
  return true;
}

/** `dma_mmap_from_dev_coherent`: undefined when not the pool's buffer, else 0 or -ENXIO. */
export function dmaMmapFromDevCoherent(dev: Device, vma: Vma, cpuAddr: number, size: number): number | undefined {
  const start = poolPage(dev, cpuAddr);
  if (start < 0) return undefined;
  const mem = dev.dmaMem as DmaCoherentMem;
  const pageSize = dev.machine.mm.pageSize;
  const userCount = (vma.end - vma.start) / pageSize;
  const count = Math.ceil(size / pageSize);
  const off = vma.pgoff;
  if (off >= count || userCount > count - off) return -ENXIO;
  return remapPfnRange(vma, vma.start, mem.pfnBase + start + off, userCount * pageSize, vma.pgprot);
}
