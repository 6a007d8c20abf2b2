/**
 * The IOVA range caches of drivers/iommu/iova.c ("Magazines and Vmem", Bonwick and Adams, 2001):
 * per size class (orders 0 … IOVA_RANGE_CACHE_MAX_SIZE - 1 granules), each simulated CPU keeps a
 * `loaded` and a `prev` magazine of freed pfns, and full magazines go to a shared depot. A freed
 * range stays in the rbtree while it sits in a cache, as in the kernel; only a magazine dropped
 * from a full depot, or a flush, returns its ranges to the tree.
 *
 * This is Linux 6.1's rcache (the kernel of the traces in src/__fixtures__): IOVA_MAG_SIZE 128 and
 * a fixed depot of MAX_GLOBAL_MAGS = 32 magazines per size class. v6.7 (911aa1245da8, "iommu/iova:
 * Make the rcache depot scale better") changed the magazine to 127 entries (1 KiB) and the depot
 * to an unbounded list drained by a 100 ms timer; the allocation order a driver sees is the same
 * until a depot overflows.
 */
import { pow2 } from '@kdma/hw';

/** `IOVA_RANGE_CACHE_MAX_SIZE`: log2 of the largest cached size plus one (sizes 1 … 32 granules). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** `IOVA_MAG_SIZE` (v6.1; 127 from v6.7). */
export const IOVA_MAG_SIZE = 128;
/** `MAX_GLOBAL_MAGS`: full magazines a size class's depot holds (v6.1). */
export const MAX_GLOBAL_MAGS = 32;

/** `struct iova_magazine`. */
export class IovaMagazine {
  size = 0;
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);

  /** `iova_magazine_full`. */
  full(): boolean {
    return this.size === IOVA_MAG_SIZE;
  }

  /** `iova_magazine_empty`. */
  empty(): boolean {
    return this.size === 0;
  }

  /**
   * `iova_magazine_pop(mag, limit_pfn)`: the topmost pfn not above `limitPfn`, swapped with the
   * last entry and removed ("Try harder to allocate from rcache magazine"); 0 when none fits.
   */
  pop(limitPfn: number): number {
    const pfns = this.pfns;
    let i = this.size - 1;
    while ((pfns[i] as number) > limitPfn) {
      if (i === 0) return 0;
      i--;
    }
    const pfn = pfns[i] as number;
    this.size--;
    pfns[i] = pfns[this.size] as number;
    return pfn;
  }

  /** `iova_magazine_push`. */
  push(pfn: number): void {
    this.pfns[this.size++] = pfn;
  }
}

/** `struct iova_cpu_rcache`. */
class IovaCpuRcache {
  loaded = new IovaMagazine();
  prev = new IovaMagazine();
}

/** `struct iova_rcache`: one size class. */
class IovaRcache {
  readonly depot: IovaMagazine[] = [];
  readonly cpuRcaches: IovaCpuRcache[];

  constructor(cpus: number) {
    this.cpuRcaches = [];
    for (let i = 0; i < cpus; i++) this.cpuRcaches.push(new IovaCpuRcache());
  }
}

/** What the caches need from the domain: returning a cached range to the rbtree. */
export interface IovaRcacheOwner {
  /** `private_find_iova` + `private_free_iova` for one cached pfn. */
  freeCachedPfn(pfn: number): void;
}

const ORDER_TABLE = new Uint8Array(65);
for (let s = 2; s <= 64; s++) ORDER_TABLE[s] = Math.ceil(Math.log2(s));

/** `order_base_2(size)` for a positive integer: ceil(log2(size)). */
export function orderBase2(size: number): number {
  if (size <= 64) return ORDER_TABLE[size] as number;
  let order = 7;
  while (pow2(order) < size) order++;
  return order;
}

/** The rcaches of one IOVA domain (`iovad->rcaches[IOVA_RANGE_CACHE_MAX_SIZE]`). */
export class IovaRcaches {
  private readonly rcaches: IovaRcache[] = [];

  constructor(
    private readonly owner: IovaRcacheOwner,
    readonly cpuCount: number,
  ) {
    // iova_domain_init_rcaches: both magazines of every CPU exist from the start.
    for (let i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++) this.rcaches.push(new IovaRcache(cpuCount));
  }

  /**
   * `iova_rcache_insert(iovad, pfn, size)`: caches a freed range of `size` granules on `cpu`;
   * false when the size is not cacheable (the caller then frees it to the tree).
   */
  insert(cpu: number, pfn: number, size: number): boolean {
    const logSize = orderBase2(size);
    if (logSize >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    const rcache = this.rcaches[logSize] as IovaRcache;
    const cpuRcache = rcache.cpuRcaches[cpu] as IovaCpuRcache;
    let magToFree: IovaMagazine | null = null;
    if (cpuRcache.loaded.full()) {
      if (!cpuRcache.prev.full()) {
        const t = cpuRcache.prev;
        cpuRcache.prev = cpuRcache.loaded;
        cpuRcache.loaded = t;
      } else {
        // The kernel allocates a new magazine with GFP_ATOMIC; the model's never fails.
        if (rcache.depot.length < MAX_GLOBAL_MAGS) rcache.depot.push(cpuRcache.loaded);
        else magToFree = cpuRcache.loaded;
        cpuRcache.loaded = new IovaMagazine();
      }
    }
    cpuRcache.loaded.push(pfn);
    if (magToFree !== null) this.freeMagazinePfns(magToFree);
    return true;
  }

  /**
   * `iova_rcache_get(iovad, size, limit_pfn)` with the exclusive `limitPfn` alloc_iova_fast
   * passes (`limit_pfn + 1`): a cached pfn of `size`'s class whose whole range fits, or 0.
   */
  get(cpu: number, size: number, limitPfn: number): number {
    const logSize = orderBase2(size);
    if (logSize >= IOVA_RANGE_CACHE_MAX_SIZE) return 0;
    const rcache = this.rcaches[logSize] as IovaRcache;
    const cpuRcache = rcache.cpuRcaches[cpu] as IovaCpuRcache;
    if (cpuRcache.loaded.empty()) {
      if (!cpuRcache.prev.empty()) {
        const t = cpuRcache.prev;
        cpuRcache.prev = cpuRcache.loaded;
        cpuRcache.loaded = t;
      } else if (rcache.depot.length > 0) {
        cpuRcache.loaded = rcache.depot.pop() as IovaMagazine;
      } else {
        return 0;
      }
    }
    return cpuRcache.loaded.pop(limitPfn - size);
  }

  /** `iova_magazine_free_pfns`: returns every pfn of `mag` to the tree and empties it. */
  private freeMagazinePfns(mag: IovaMagazine): void {
    for (let i = 0; i < mag.size; i++) this.owner.freeCachedPfn(mag.pfns[i] as number);
    mag.size = 0;
  }

  /** `free_cpu_cached_iovas(cpu, iovad)`: empties one CPU's magazines into the tree. */
  freeCpuCached(cpu: number): void {
    for (const rcache of this.rcaches) {
      const cpuRcache = rcache.cpuRcaches[cpu] as IovaCpuRcache;
      this.freeMagazinePfns(cpuRcache.loaded);
      this.freeMagazinePfns(cpuRcache.prev);
    }
  }

  /** `free_global_cached_iovas(iovad)`: empties every depot into the tree. */
  freeGlobalCached(): void {
    for (const rcache of this.rcaches) {
      for (const mag of rcache.depot) this.freeMagazinePfns(mag);
      rcache.depot.length = 0;
    }
  }

  /** Ranges held in all caches (per-CPU magazines and depots). */
  cachedCount(): number {
    let n = 0;
    for (const rcache of this.rcaches) {
      for (const c of rcache.cpuRcaches) n += c.loaded.size + c.prev.size;
      for (const mag of rcache.depot) n += mag.size;
    }
    return n;
  }

  /** Calls `fn(pfn, order)` for every cached range (for reports and tests). */
  forEachCached(fn: (pfn: number, order: number) => void): void {
    this.rcaches.forEach((rcache, order) => {
      const visit = (mag: IovaMagazine): void => {
        for (let i = 0; i < mag.size; i++) fn(mag.pfns[i] as number, order);
      };
      for (const c of rcache.cpuRcaches) {
        visit(c.loaded);
        visit(c.prev);
      }
      rcache.depot.forEach(visit);
    });
  }
}
