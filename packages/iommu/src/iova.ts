/**
 * The IOVA allocator, drivers/iommu/iova.c as Linux 6.1 has it (the kernel that wrote the traces in
 * src/__fixtures__): a red-black tree of allocated and reserved ranges, searched top-down from a
 * cached node below a limit, size-aligned on request, with per-CPU range caches in front
 * (alloc_iova_fast / free_iova_fast). Sizes are in granules and addresses are IOVA page frame
 * numbers, as in the kernel.
 */
import { ADDRESS_LIMIT, addrMod, checkInteger, describe, ilog2, isPowerOfTwo, pow2 } from '@kdma/hw';
import { Iova, IovaRbTree } from './iova-rbtree.js';
import { IOVA_RANGE_CACHE_MAX_SIZE, IovaRcaches } from './iova-rcache.js';

export { Iova } from './iova-rbtree.js';

/** An allocated or reserved IOVA range, in granules (`struct iova` as callers see it). */
export interface IovaRange {
  readonly pfnLo: number;
  readonly pfnHi: number;
}

/** The simulated CPUs the per-CPU caches are kept for, and which one is running. */
export interface IovaCpus {
  readonly count: number;
  current(): number;
}

export interface IovaDomainOptions {
  /** Simulated CPUs for the rcache (default: one CPU, always CPU 0). */
  readonly cpus?: IovaCpus;
}

/** Counts for reports. */
export interface IovaDomainStats {
  /** Ranges in the tree (allocated, cached or reserved; the anchor not counted). */
  readonly ranges: number;
  /** Granules those ranges cover. */
  readonly granules: number;
  /** Ranges waiting in the per-CPU caches and depots (still in the tree). */
  readonly cached: number;
  /** `max32_alloc_size`: the smallest size known not to fit below 4 GiB. */
  readonly max32AllocSize: number;
}

const ONE_CPU: IovaCpus = { count: 1, current: () => 0 };

/** alloc_iova_fast rounds sizes below this up to a power of two. */
const RCACHE_ROUNDUP_BELOW = pow2(IOVA_RANGE_CACHE_MAX_SIZE - 1);
const MAX_LIMIT_PFN = Number.MAX_SAFE_INTEGER - 1;

// Module-local aliases: under the CommonJS transpilers the tests and benches run on, every use of
// an imported binding is a getter call, which the fast path cannot afford.
const checkInt: typeof checkInteger = checkInteger;
const rbPrev = IovaRbTree.prev;
const rbNext = IovaRbTree.next;
const log2 = ilog2;

/**
 * `struct iova_domain` with `init_iova_domain` and `iova_domain_init_rcaches`.
 *
 * The anchor node sits just above the top of the usable space as in the kernel; the kernel puts it
 * at ~0UL, the model at the first pfn beyond kdma's 52-bit address space, so that no allocation can
 * hand out an address the rest of kdma cannot represent (a limit above it behaves as "no limit").
 */
export class IovaDomain {
  /** IOVA page size in bytes (a power of two). */
  readonly granule: number;
  /** `iova_shift(iovad)`. */
  readonly shift: number;
  /** Lowest pfn handed out (dma-iommu uses 1 so that IOVA 0 never is). */
  readonly startPfn: number;
  /** `dma_32bit_pfn`: the first pfn at or above 4 GiB. */
  readonly dma32bitPfn: number;
  /** Pfn of the anchor node (`IOVA_ANCHOR`). */
  readonly anchorPfn: number;
  /** `max32_alloc_size`: allocations below 4 GiB of this many granules or more fail at once. */
  max32AllocSize: number;

  private readonly tree = new IovaRbTree();
  private readonly anchor: Iova;
  private cachedNode: Iova;
  private cached32Node: Iova;
  private readonly rcaches: IovaRcaches;
  private readonly cpus: IovaCpus;

  constructor(granule: number, startPfn: number, options: IovaDomainOptions = {}) {
    checkInteger(granule, 'granule', 1, 2 ** 32);
    if (!isPowerOfTwo(granule)) throw new RangeError(`granule must be a power of two, got ${granule}`);
    this.granule = granule;
    this.shift = ilog2(granule);
    this.anchorPfn = ADDRESS_LIMIT / granule;
    checkInteger(startPfn, 'startPfn', 0, this.anchorPfn - 1);
    this.startPfn = startPfn;
    this.dma32bitPfn = pow2(32 - this.shift);
    this.max32AllocSize = this.dma32bitPfn;
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const cpus = options.cpus ?? ONE_CPU;
    if (typeof cpus !== 'object' || cpus === null || typeof cpus.current !== 'function') {
      throw new TypeError(`options.cpus must be { count, current() }, got ${describe(cpus)}`);
    }
    checkInteger(cpus.count, 'options.cpus.count', 1, 4096);
    this.cpus = cpus;
    this.anchor = new Iova(this.anchorPfn, this.anchorPfn);
    this.tree.insert(this.anchor, null);
    this.cachedNode = this.anchor;
    this.cached32Node = this.anchor;
    this.rcaches = new IovaRcaches({ freeCachedPfn: (pfn) => this.freeCachedPfn(pfn) }, cpus.count);
  }

  // --- include/linux/iova.h helpers --------------------------------------------------------

  /** `iova_offset(iovad, iova)`: the offset of a bus address inside its granule. */
  iovaOffset(addr: number): number {
    return addrMod(addr, this.granule);
  }

  /** `iova_align(iovad, size)`: `size` rounded up to whole granules. */
  iovaAlign(size: number): number {
    return Math.ceil(size / this.granule) * this.granule;
  }

  /** `iova_align_down(iovad, size)`. */
  iovaAlignDown(size: number): number {
    return Math.floor(size / this.granule) * this.granule;
  }

  /** `iova_pfn(iovad, iova)`: the pfn of a bus address. */
  iovaPfn(addr: number): number {
    return Math.floor(addr / this.granule);
  }

  /** `iova_dma_addr(iovad, iova)`: the bus address of a range's first granule. */
  iovaDmaAddr(iova: IovaRange): number {
    return iova.pfnLo * this.granule;
  }

  /** `iova_size(iova)`: a range's size in granules. */
  static iovaSize(iova: IovaRange): number {
    return iova.pfnHi - iova.pfnLo + 1;
  }

  // --- the tree -----------------------------------------------------------------------------

  /** `__get_cached_rbnode`: where a top-down walk below `limitPfn` (exclusive) starts. */
  private getCachedRbnode(limitPfn: number): Iova {
    return limitPfn <= this.dma32bitPfn ? this.cached32Node : this.cachedNode;
  }

  /** `__cached_rbnode_insert_update`. */
  private cachedRbnodeInsertUpdate(node: Iova): void {
    if (node.pfnHi < this.dma32bitPfn) this.cached32Node = node;
    else this.cachedNode = node;
  }

  /** `__cached_rbnode_delete_update`: moves a cached node off a range about to be freed. */
  private cachedRbnodeDeleteUpdate(free: Iova): void {
    let cached = this.cached32Node;
    if (free === cached || (free.pfnHi < this.dma32bitPfn && free.pfnLo >= cached.pfnLo)) {
      this.cached32Node = rbNext(free) as Iova;
    }
    if (free.pfnLo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    cached = this.cachedNode;
    if (free.pfnLo >= cached.pfnLo) this.cachedNode = rbNext(free) as Iova;
  }

  /**
   * `iova_find_limit(iovad, limit_pfn)`: the node to restart a failed walk from, the lowest one at
   * or above the limit; the anchor for limits above 4 GiB ("an incredibly crude approximation
   * which only really helps the most likely case").
   */
  private findLimit(limitPfn: number): Iova {
    if (limitPfn > this.dma32bitPfn) return this.anchor;
    let node = this.tree.root as Iova;
    while (node.pfnHi < limitPfn) node = node.right as Iova;
    for (;;) {
      while (node.left !== null && node.left.pfnLo >= limitPfn) node = node.left;
      if (node.left === null) return node;
      let next = node.left;
      let restarted = false;
      while (next.right !== null) {
        next = next.right;
        if (next.pfnLo >= limitPfn) {
          node = next;
          restarted = true;
          break;
        }
      }
      if (!restarted) return node;
    }
  }

  /**
   * `__alloc_and_insert_iova_range(iovad, size, limit_pfn, new, size_aligned)` with the exclusive
   * `limitPfn`: walks down from the cached node for the highest gap that fits below the limit;
   * if that fails, retries once from the limit down to just above where the first walk started
   * (v5.11's retry, with v6.2's retry_pfn fix that 6.1 stable carries). On failure remembers the
   * size in `max32_alloc_size`.
   */
  private allocAndInsertIovaRange(node: Iova, size: number, limitPfn: number, sizeAligned: boolean): boolean {
    // The anchor is the top of the space: a higher limit allocates exactly as "no limit".
    if (limitPfn > this.anchorPfn) limitPfn = this.anchorPfn;
    const align = sizeAligned ? pow2(fls(size - 1)) : 1;
    let highPfn = limitPfn;
    let lowPfn = this.startPfn;
    if (limitPfn <= this.dma32bitPfn && size >= this.max32AllocSize) return false;

    let curr: Iova | null = this.getCachedRbnode(limitPfn);
    const retryPfn = curr.pfnHi;
    let prev: Iova = this.anchor;
    let newPfn = 0;
    for (;;) {
      // do { ... } while (curr && new_pfn <= curr->pfn_hi && new_pfn >= low_pfn)
      let c = curr as Iova;
      for (;;) {
        if (c.pfnLo < highPfn) highPfn = c.pfnLo;
        // (high_pfn - size) & align_mask; an unsigned underflow fails the checks below.
        newPfn = highPfn >= size ? Math.floor((highPfn - size) / align) * align : Infinity;
        prev = c;
        curr = rbPrev(c);
        if (curr === null || newPfn > curr.pfnHi || newPfn < lowPfn) break;
        c = curr;
      }
      if (highPfn < size || newPfn < lowPfn) {
        if (lowPfn === this.startPfn && retryPfn < limitPfn) {
          highPfn = limitPfn;
          lowPfn = retryPfn + 1;
          curr = this.findLimit(limitPfn);
          continue;
        }
        this.max32AllocSize = size;
        return false;
      }
      break;
    }
    node.pfnLo = newPfn;
    node.pfnHi = newPfn + size - 1;
    this.tree.insert(node, prev);
    this.cachedRbnodeInsertUpdate(node);
    return true;
  }

  /**
   * `alloc_iova(iovad, size, limit_pfn, size_aligned)`: `size` granules at or below the inclusive
   * `limitPfn` and at or above `startPfn`, the highest that fits; naturally aligned to
   * `roundup_pow_of_two(size)` when `sizeAligned`. Null when nothing fits.
   */
  allocIova(size: number, limitPfn: number, sizeAligned = false): IovaRange | null {
    this.checkSize(size);
    checkInteger(limitPfn, 'limitPfn', 0, Number.MAX_SAFE_INTEGER - 1);
    if (typeof sizeAligned !== 'boolean') throw new TypeError(`sizeAligned must be a boolean, got ${describe(sizeAligned)}`);
    return this.allocIovaChecked(size, limitPfn, sizeAligned);
  }

  private allocIovaChecked(size: number, limitPfn: number, sizeAligned: boolean): Iova | null {
    const node = new Iova(0, 0);
    return this.allocAndInsertIovaRange(node, size, limitPfn + 1, sizeAligned) ? node : null;
  }

  /** `private_find_iova`: the node whose range holds `pfn`. */
  private privateFindIova(pfn: number): Iova | null {
    let node = this.tree.root;
    while (node !== null) {
      if (pfn < node.pfnLo) node = node.left;
      else if (pfn > node.pfnHi) node = node.right;
      else return node;
    }
    return null;
  }

  /** `private_free_iova`. */
  private privateFreeIova(node: Iova): void {
    this.cachedRbnodeDeleteUpdate(node);
    this.tree.erase(node);
  }

  /** `find_iova(iovad, pfn)`: the allocated or reserved range holding `pfn`, or null. */
  findIova(pfn: number): IovaRange | null {
    checkInteger(pfn, 'pfn', 0, Number.MAX_SAFE_INTEGER);
    if (pfn >= this.anchorPfn) return null;
    return this.privateFindIova(pfn);
  }

  /** `__free_iova(iovad, iova)`: frees a range returned by `allocIova`/`findIova`/`reserveIova`. */
  freeIovaRange(iova: IovaRange): void {
    if (!(iova instanceof Iova) || iova === this.anchor || this.privateFindIova(iova.pfnLo) !== iova) {
      throw new RangeError('iova must be a range of this domain');
    }
    this.privateFreeIova(iova);
  }

  /** `free_iova(iovad, pfn)`: frees the range holding `pfn`; nothing happens when there is none. */
  freeIova(pfn: number): void {
    checkInteger(pfn, 'pfn', 0, Number.MAX_SAFE_INTEGER);
    if (pfn >= this.anchorPfn) return;
    const node = this.privateFindIova(pfn);
    if (node !== null) this.privateFreeIova(node);
  }

  /** Frees a pfn coming back from a range cache (`iova_magazine_free_pfns`). */
  private freeCachedPfn(pfn: number): void {
    const node = this.privateFindIova(pfn);
    // WARN_ON(!iova): a cached pfn always has its node.
    if (node !== null) this.privateFreeIova(node);
  }

  /**
   * `reserve_iova(iovad, pfn_lo, pfn_hi)`: keeps [pfnLo, pfnHi] from ever being allocated. Ranges
   * it overlaps are extended rather than split, as in the kernel (an overlapped allocation grows);
   * returns the node holding the top of the range, or null for pfns beyond the space (the
   * kernel's WARN_ON on "nonsensical pfns").
   */
  reserveIova(pfnLo: number, pfnHi: number): IovaRange | null {
    checkInteger(pfnLo, 'pfnLo', 0, Number.MAX_SAFE_INTEGER);
    checkInteger(pfnHi, 'pfnHi', 0, Number.MAX_SAFE_INTEGER);
    if (pfnHi < pfnLo) throw new RangeError(`pfnHi must be >= pfnLo, got [${pfnLo}, ${pfnHi}]`);
    if (pfnHi >= this.anchorPfn) return null;
    let lo = pfnLo;
    const hi = pfnHi;
    let overlap = false;
    for (let node = this.tree.first(); node !== null; node = rbNext(node)) {
      if (lo <= node.pfnHi && hi >= node.pfnLo) {
        // __adjust_overlap_range
        if (lo < node.pfnLo) node.pfnLo = lo;
        if (hi > node.pfnHi) lo = node.pfnHi + 1;
        if (lo >= node.pfnLo && hi <= node.pfnHi) return node;
        overlap = true;
      } else if (overlap) {
        break;
      }
    }
    const node = new Iova(lo, hi);
    this.tree.insert(node, null);
    return node;
  }

  // --- the fast path --------------------------------------------------------------------------

  /**
   * `alloc_iova_fast(iovad, size, limit_pfn, flush_rcache)`: rounds sizes below
   * `1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)` granules up to a power of two ("freeing
   * non-power-of-two-sized allocations back into the IOVA caches will come back to bite us
   * badly"), takes a cached range of that class on the current CPU when one fits below the
   * limit, else allocates size-aligned from the tree; on failure, when `flushRcache`, returns
   * every cached range to the tree and tries once more. Returns the pfn, or 0.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache = true): number {
    if (!(Number.isSafeInteger(size) && size >= 1 && size <= this.anchorPfn)) this.checkSize(size);
    if (!(Number.isSafeInteger(limitPfn) && limitPfn >= 0 && limitPfn <= MAX_LIMIT_PFN)) checkInt(limitPfn, 'limitPfn', 0, MAX_LIMIT_PFN);
    if (flushRcache !== true && flushRcache !== false) throw new TypeError(`flushRcache must be a boolean, got ${describe(flushRcache)}`);
    if (size < RCACHE_ROUNDUP_BELOW) size = roundupPowOfTwo(size);
    const cpu = this.currentCpu();
    const pfn = this.rcaches.get(cpu, size, limitPfn + 1);
    if (pfn !== 0) return pfn;
    for (;;) {
      const node = this.allocIovaChecked(size, limitPfn, true);
      if (node !== null) return node.pfnLo;
      if (!flushRcache) return 0;
      flushRcache = false;
      for (let c = 0; c < this.cpus.count; c++) this.rcaches.freeCpuCached(c);
      this.rcaches.freeGlobalCached();
    }
  }

  /**
   * `free_iova_fast(iovad, pfn, size)`: puts the range into the current CPU's cache for its size
   * class, or frees it to the tree when the class is not cached. Like the kernel, it trusts the
   * caller: `pfn` must be the start of a range `allocIovaFast` returned, `size` its size.
   */
  freeIovaFast(pfn: number, size: number): void {
    if (!(Number.isSafeInteger(pfn) && pfn >= 0 && pfn < this.anchorPfn)) checkInt(pfn, 'pfn', 0, this.anchorPfn - 1);
    if (!(Number.isSafeInteger(size) && size >= 1 && size <= this.anchorPfn)) this.checkSize(size);
    if (this.rcaches.insert(this.currentCpu(), pfn, size)) return;
    this.freeIova(pfn);
  }

  /** `free_cpu_cached_iovas(cpu, iovad)` (CPU hotplug): returns one CPU's cached ranges to the tree. */
  freeCpuCachedIovas(cpu: number): void {
    checkInteger(cpu, 'cpu', 0, this.cpus.count - 1);
    this.rcaches.freeCpuCached(cpu);
  }

  /** `free_global_cached_iovas(iovad)`: returns the depots' ranges to the tree. */
  freeGlobalCachedIovas(): void {
    this.rcaches.freeGlobalCached();
  }

  /** `put_iova_domain(iovad)`: frees every range (the domain is empty afterwards). */
  putIovaDomain(): void {
    for (let c = 0; c < this.cpus.count; c++) this.rcaches.freeCpuCached(c);
    this.rcaches.freeGlobalCached();
    for (let node = this.tree.first(); node !== null && node !== this.anchor; node = this.tree.first()) this.privateFreeIova(node);
    this.cachedNode = this.anchor;
    this.cached32Node = this.anchor;
    this.max32AllocSize = this.dma32bitPfn;
  }

  // --- inspection ---------------------------------------------------------------------------

  /** Every range in the tree, lowest first (the anchor excluded). */
  *ranges(): IterableIterator<IovaRange> {
    for (let node = this.tree.first(); node !== null && node !== this.anchor; node = rbNext(node)) yield node;
  }

  /** Calls `fn(pfn, order)` for every range waiting in a cache. */
  forEachCached(fn: (pfn: number, order: number) => void): void {
    this.rcaches.forEachCached(fn);
  }

  stats(): IovaDomainStats {
    let ranges = 0;
    let granules = 0;
    for (const r of this.ranges()) {
      ranges++;
      granules += r.pfnHi - r.pfnLo + 1;
    }
    return { ranges, granules, cached: this.rcaches.cachedCount(), max32AllocSize: this.max32AllocSize };
  }

  /** @internal Checks the tree's invariants (tests). */
  verify(): void {
    this.tree.verify();
    let prevHi = -1;
    for (let node = this.tree.first(); node !== null; node = rbNext(node)) {
      if (node.pfnLo <= prevHi || node.pfnHi < node.pfnLo) throw new Error(`iova: overlapping or empty range [${node.pfnLo}, ${node.pfnHi}]`);
      prevHi = node.pfnHi;
    }
  }

  private currentCpu(): number {
    const cpu = this.cpus.current();
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus.count) {
      throw new RangeError(`cpus.current() must be in [0, ${this.cpus.count - 1}], got ${String(cpu)}`);
    }
    return cpu;
  }

  private checkSize(size: number): void {
    checkInt(size, 'size', 1, this.anchorPfn);
  }
}

/** `fls_long(x)`: 1-based index of the highest set bit, 0 for 0. */
function fls(x: number): number {
  return x === 0 ? 0 : log2(x) + 1;
}

const ROUNDUP_TABLE = new Uint8Array(33);
for (let n = 1; n <= 32; n++) ROUNDUP_TABLE[n] = pow2(Math.ceil(Math.log2(n)));

/** `roundup_pow_of_two(n)`. */
function roundupPowOfTwo(n: number): number {
  if (n <= 32) return ROUNDUP_TABLE[n] as number;
  return pow2(log2(n - 1) + 1);
}
