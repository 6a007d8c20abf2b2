/**
 * kmalloc (mm/slab_common.c with SLUB's caches): power-of-two size classes from
 * max(8, ARCH_KMALLOC_MINALIGN) bytes up to KMALLOC_MAX_CACHE_SIZE (two pages), objects carved in
 * address order from slab pages; larger requests go straight to the page allocator
 * (kmalloc_large). The minimum size class is the alignment: with x86's 8 two small objects share
 * a cache line, with ARM's 64 or 128 (ARCH_DMA_MINALIGN) they never do, which is why DMA from
 * kmalloc memory is safe on non-coherent ARM.
 */
import { addrMod, checkInteger, checkSize, getOrder, hex, ilog2, isPowerOfTwo, pow2 } from '@kdma/hw';
import { checkGfp, formatGfp, GFP_KERNEL, __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM, __GFP_ZERO } from './gfp.js';
import type { PhysicalCpuAccess } from './hardware.js';
import type { PageAllocator } from './page-alloc.js';
import { PAGE_OFFSET } from './layout.js';

/** ZERO_SIZE_PTR: what kmalloc(0) returns; kfree() ignores it and any access faults. */
export const ZERO_SIZE_PTR = 16;

/** One kmalloc cache as /proc/slabinfo shows it. */
export interface SlabInfo {
  readonly name: string;
  readonly objectSize: number;
  readonly activeObjects: number;
  readonly objectsPerSlab: number;
  readonly slabs: number;
}

interface KmemCache {
  readonly name: string;
  readonly size: number;
  readonly slabOrder: number;
  readonly objectsPerSlab: number;
  readonly gfpZone: number;
  /** Slabs with at least one free object, oldest first: a list through `Slab.prev`/`next`. */
  partialHead: Slab | null;
  partialTail: Slab | null;
  /** `n->nr_partial`: slabs on the partial list, empty ones included. */
  nrPartial: number;
  /** `s->min_partial`: empty slabs stay on the partial list while it is shorter than this. */
  readonly minPartial: number;
  slabs: number;
  active: number;
}

interface Slab {
  readonly cache: KmemCache;
  readonly pfn: number;
  /** Free object indexes as a stack; the lowest index is on top. */
  readonly freeStack: Int32Array;
  readonly inUse: Uint8Array;
  top: number;
  /** Neighbours on the cache's partial list, and whether the slab is on it. */
  prev: Slab | null;
  next: Slab | null;
  listed: boolean;
}

export class Kmalloc {
  /** ARCH_KMALLOC_MINALIGN: every object is aligned to it. */
  readonly minAlign: number;
  /** The smallest size class: max(8, minAlign). */
  readonly minSize: number;
  /** KMALLOC_MAX_CACHE_SIZE: above this, kmalloc_large. */
  readonly maxCacheSize: number;
  private readonly hw: PhysicalCpuAccess;
  private readonly pages: PageAllocator;
  private readonly pageSize: number;
  /** log2 of `minSize`: the first size class. */
  private readonly minShift: number;
  /** The caches made so far by log2 of their object size (kmalloc-N and dma-kmalloc-N). */
  private readonly normalBySize: (KmemCache | undefined)[] = [];
  private readonly dmaBySize: (KmemCache | undefined)[] = [];
  /** Every page of every slab → its slab. */
  private readonly slabByPfn = new Map<number, Slab>();
  /** kmalloc_large allocations: first pfn → order. */
  private readonly large = new Map<number, number>();

  constructor(hw: PhysicalCpuAccess, pages: PageAllocator, pageSize: number, minAlign: number) {
    if (!isPowerOfTwo(minAlign) || minAlign > pageSize) {
      throw new RangeError(`kmallocMinAlign must be a power of two no larger than the page size, got ${String(minAlign)}`);
    }
    this.hw = hw;
    this.pages = pages;
    this.pageSize = pageSize;
    this.minAlign = minAlign;
    this.minSize = Math.max(8, minAlign);
    this.minShift = ilog2(this.minSize);
    this.maxCacheSize = 2 * pageSize;
  }

  private cacheFor(size: number, dma: boolean): KmemCache {
    // Sizes here are at most two pages, so clz32 gives ceil(log2(size)) exactly.
    const shift = Math.max(32 - Math.clz32(size - 1), this.minShift);
    const found = (dma ? this.dmaBySize : this.normalBySize)[shift];
    return found ?? this.createCache(shift, dma);
  }

  private createCache(shift: number, dma: boolean): KmemCache {
    const objectSize = pow2(shift);
    const name = `${dma ? 'dma-' : ''}kmalloc-${objectSize >= 1024 ? `${objectSize / 1024}k` : objectSize}`;
    // SLUB's calculate_order(): a few objects per slab, at most PAGE_ALLOC_COSTLY_ORDER.
    const slabOrder = Math.min(3, getOrder(objectSize * 4, this.pageSize));
    const cache: KmemCache = {
      name,
      size: objectSize,
      slabOrder,
      objectsPerSlab: (this.pageSize * pow2(slabOrder)) / objectSize,
      gfpZone: dma ? __GFP_DMA : 0,
      partialHead: null,
      partialTail: null,
      nrPartial: 0,
      // set_min_partial(s, ilog2(s->size) / 2), clamped to [MIN_PARTIAL, MAX_PARTIAL] = [5, 10].
      minPartial: Math.min(10, Math.max(5, Math.floor(shift / 2))),
      slabs: 0,
      active: 0,
    };
    (dma ? this.dmaBySize : this.normalBySize)[shift] = cache;
    return cache;
  }

  /**
   * kmalloc(): `size` bytes aligned to minAlign, linear-mapped (virtToPhys works), or null.
   * kmalloc(0) returns ZERO_SIZE_PTR.
   */
  kmalloc(size: number, gfp: number = GFP_KERNEL): number | null {
    checkSize(size, 'size', 0);
    checkGfp(gfp);
    if (size === 0) return ZERO_SIZE_PTR;
    // kmalloc_fix_flags() of today's kernel: slab caches only know ZONE_DMA.
    if ((gfp & (__GFP_DMA32 | __GFP_HIGHMEM)) !== 0) {
      const fixed = gfp & ~(__GFP_DMA32 | __GFP_HIGHMEM);
      this.hw.dmesg.printk('warn', `Unexpected gfp: ${formatGfp(gfp)}. Fixing up to gfp: ${formatGfp(fixed)}. Fix your code!`);
      gfp = fixed;
    }
    if (size > this.maxCacheSize) {
      const order = getOrder(size, this.pageSize);
      const pfn = this.pages.allocPages(order, gfp);
      if (pfn === null) return null;
      this.large.set(pfn, order);
      return PAGE_OFFSET + pfn * this.pageSize;
    }
    const cache = this.cacheFor(size, (gfp & __GFP_DMA) !== 0);
    let slab = cache.partialHead;
    if (slab === null) {
      const pfn = this.pages.allocPages(cache.slabOrder, (gfp & ~__GFP_ZERO) | cache.gfpZone);
      if (pfn === null) return null;
      const freeStack = new Int32Array(cache.objectsPerSlab);
      for (let i = 0; i < freeStack.length; i++) freeStack[i] = freeStack.length - 1 - i;
      slab = { cache, pfn, freeStack, inUse: new Uint8Array(cache.objectsPerSlab), top: freeStack.length, prev: null, next: null, listed: false };
      for (let i = 0; i < pow2(cache.slabOrder); i++) this.slabByPfn.set(pfn + i, slab);
      addPartial(cache, slab);
      cache.slabs++;
    }
    slab.top--;
    const index = slab.freeStack[slab.top] as number;
    slab.inUse[index] = 1;
    if (slab.top === 0) removePartial(cache, slab);
    cache.active++;
    const paddr = slab.pfn * this.pageSize + index * cache.size;
    if ((gfp & __GFP_ZERO) !== 0) this.hw.cpuFill(paddr, cache.size, 0, 'normal');
    return PAGE_OFFSET + paddr;
  }

  /**
   * The slab holding the live object at `kva`, or null for a kmalloc_large allocation; throws for
   * anything else (not kmalloc's, inside an object, or already free). No result object: kfree runs
   * once per packet on a NIC's receive path.
   */
  private slabOf(kva: number, caller: string): Slab | null {
    checkInteger(kva, 'kva');
    const paddr = kva - PAGE_OFFSET;
    if (paddr >= 0) {
      const pfn = Math.floor(paddr / this.pageSize);
      const slab = this.slabByPfn.get(pfn);
      if (slab !== undefined) {
        const offset = paddr - slab.pfn * this.pageSize;
        if (offset % slab.cache.size !== 0) {
          throw new Error(`${caller}(${hex(kva)}): invalid object pointer into ${slab.cache.name} (not the start of an object)`);
        }
        if (slab.inUse[offset / slab.cache.size] !== 1) throw new Error(`${caller}(${hex(kva)}): object in ${slab.cache.name} is already free (double free)`);
        return slab;
      }
      if (this.large.has(pfn) && addrMod(paddr, this.pageSize) === 0) return null;
    }
    throw new Error(`${caller}(${hex(kva)}): not an address that kmalloc returned`);
  }

  /** kfree(): null and ZERO_SIZE_PTR are ignored; anything kmalloc did not return throws. */
  kfree(kva: number | null): void {
    if (kva === null || kva === ZERO_SIZE_PTR) return;
    const slab = this.slabOf(kva, 'kfree');
    if (slab === null) {
      const pfn = (kva - PAGE_OFFSET) / this.pageSize;
      this.pages.freePages(pfn, this.large.get(pfn) as number);
      this.large.delete(pfn);
      return;
    }
    const cache = slab.cache;
    const index = (kva - PAGE_OFFSET - slab.pfn * this.pageSize) / cache.size;
    slab.inUse[index] = 0;
    slab.freeStack[slab.top] = index;
    slab.top++;
    cache.active--;
    // __slab_free(): an empty slab stays cached on the partial list while that list is shorter
    // than min_partial (a NIC's refill takes it straight back), else its pages go back.
    if (slab.top === cache.objectsPerSlab && cache.nrPartial >= cache.minPartial) this.discardSlab(slab);
    else if (!slab.listed) addPartial(cache, slab);
  }

  /** `discard_slab`: an empty slab's pages go back to the page allocator. */
  private discardSlab(slab: Slab): void {
    const cache = slab.cache;
    removePartial(cache, slab);
    for (let i = 0; i < pow2(cache.slabOrder); i++) this.slabByPfn.delete(slab.pfn + i);
    this.pages.freePages(slab.pfn, cache.slabOrder);
    cache.slabs--;
  }

  /** `kmem_cache_shrink` of every kmalloc cache: the empty slabs kept cached go back; returns the pages freed. */
  shrink(): number {
    let pages = 0;
    for (const cache of [...this.normalBySize, ...this.dmaBySize]) {
      if (cache === undefined) continue;
      for (let slab = cache.partialHead; slab !== null; ) {
        const next = slab.next;
        if (slab.top === cache.objectsPerSlab) {
          this.discardSlab(slab);
          pages += pow2(cache.slabOrder);
        }
        slab = next;
      }
    }
    return pages;
  }

  /** ksize(): the usable size of the object at `kva` (its size class). */
  ksize(kva: number): number {
    if (kva === ZERO_SIZE_PTR) return 0;
    const slab = this.slabOf(kva, 'ksize');
    return slab === null ? this.pageSize * pow2(this.large.get((kva - PAGE_OFFSET) / this.pageSize) as number) : slab.cache.size;
  }

  /** /proc/slabinfo for the kmalloc caches that have been used, smallest first. */
  slabinfo(): SlabInfo[] {
    return [...this.normalBySize, ...this.dmaBySize]
      .filter((c): c is KmemCache => c !== undefined)
      .sort((a, b) => a.size - b.size || a.name.localeCompare(b.name))
      .map((c) => ({ name: c.name, objectSize: c.size, activeObjects: c.active, objectsPerSlab: c.objectsPerSlab, slabs: c.slabs }));
  }
}

/** Appends `slab` to the cache's partial list (the newest end). */
function addPartial(cache: KmemCache, slab: Slab): void {
  slab.prev = cache.partialTail;
  slab.next = null;
  if (cache.partialTail === null) cache.partialHead = slab;
  else cache.partialTail.next = slab;
  cache.partialTail = slab;
  cache.nrPartial++;
  slab.listed = true;
}

/** Takes `slab` off the cache's partial list, if it is on it. */
function removePartial(cache: KmemCache, slab: Slab): void {
  if (!slab.listed) return;
  if (slab.prev === null) cache.partialHead = slab.next;
  else slab.prev.next = slab.next;
  if (slab.next === null) cache.partialTail = slab.prev;
  else slab.next.prev = slab.prev;
  cache.nrPartial--;
  slab.prev = null;
  slab.next = null;
  slab.listed = false;
}
