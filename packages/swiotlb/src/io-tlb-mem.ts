/**
 * `struct io_tlb_mem`: a software IO TLB as a device sees it — the default one every device
 * starts with, or a restricted pool of its own. It holds the pools (one, plus those a dynamic
 * swiotlb grew), the policy bits (`force_bounce`, `for_alloc`, `can_grow`), the debugfs counters
 * (`io_tlb_used`, `io_tlb_used_hiwater`), kdma's bounce counters, and the CPU buffer the bounces
 * copy through.
 */
import { IO_TLB_MIN_SLABS, IO_TLB_SIZE, IO_TLB_SEGSIZE } from './io-tlb.js';
import { IoTlbPool } from './io-tlb-pool.js';
import { allocPoolPages, freePoolPages } from './pool-memory.js';
import type { SwiotlbHardware, SwiotlbMm, SwiotlbZones } from './types.js';
import { pow2 } from '@kdma/hw';

/** `machine.swiotlb.stats()` (DESIGN.md): slots, and bytes bounced each way. */
export interface SwiotlbMemStats {
  /** Slots of every pool, dynamic and transient ones included. */
  readonly totalSlots: number;
  /** Slots mapped or allocated now. */
  readonly usedSlots: number;
  /** The most slots ever used at once (`io_tlb_used_hiwater`). */
  readonly highWaterSlots: number;
  /** Bytes copied from original buffers into slots (map, sync for device). */
  readonly bouncedToDevice: number;
  /** Bytes copied from slots back to original buffers (unmap, sync for CPU). */
  readonly bouncedFromDevice: number;
  /** Mappings refused: "swiotlb buffer is full". */
  readonly failures: number;
}

/** How an io_tlb_mem behaves; `swiotlbInit` and `swiotlbInitRestricted` fill it in. */
export interface IoTlbMemConfig {
  /** The debugfs directory name: `'swiotlb'` for the default one, the reserved-memory node's otherwise. */
  readonly name: string;
  /** `force_bounce`: every mapping bounces (`swiotlb=force`, a restricted pool). */
  readonly forceBounce: boolean;
  /** `for_alloc`: coherent allocations come from it too (restricted pools). */
  readonly forAlloc: boolean;
  /** `can_grow` (CONFIG_SWIOTLB_DYNAMIC): new pools when the ones there are full. */
  readonly canGrow: boolean;
  /** `phys_limit`: where grown pools must lie below. */
  readonly physLimit: number;
  /** The bounce of kernels before the CVE-2022-0854 fix: map copies only for TO_DEVICE/BIDIRECTIONAL. */
  readonly leakyBounce: boolean;
  /** `default_nslabs` and `default_nareas`: the size of a grown pool, the areas a search visits. */
  readonly defaultNslabs: number;
  readonly defaultNareas: number;
  /** The arch's zones, for placing grown and transient pools. */
  readonly zones: SwiotlbZones;
}

/** `DEFAULT_RATELIMIT_INTERVAL` (5 s) and `DEFAULT_RATELIMIT_BURST` of `dev_warn_ratelimited`. */
const RATELIMIT_INTERVAL_NS = 5e9;
const RATELIMIT_BURST = 10;

interface Ratelimit {
  begin: number;
  printed: number;
  missed: number;
}

export class IoTlbMem {
  readonly hw: SwiotlbHardware;
  readonly mm: SwiotlbMm;
  readonly config: IoTlbMemConfig;
  /** `mem->pools`: newest first, as `list_add_rcu` puts them; the boot pool is the last. */
  readonly pools: IoTlbPool[] = [];
  /** `mem->nslabs`: slots of the pools on `pools` (transient ones are not there). */
  nslabs = 0;
  /** `total_used` (debugfs `io_tlb_used`), transient slots included. */
  totalUsed = 0;
  /** `used_hiwater`. */
  usedHiwater = 0;
  /** `transient_nslabs`: slots of the live transient pools. */
  transientNslabs = 0;
  bouncedToDevice = 0;
  bouncedFromDevice = 0;
  failures = 0;
  /** The pool `swiotlbFindSlots` found (its out-parameter `*retpool`). */
  foundPool: IoTlbPool | null = null;
  /** `dyn_alloc` is queued. */
  private dynAllocPending = false;
  private readonly warned = new Set<string>();
  private readonly ratelimits = new Map<string, Ratelimit>();

  constructor(hw: SwiotlbHardware, mm: SwiotlbMm, config: IoTlbMemConfig) {
    this.hw = hw;
    this.mm = mm;
    this.config = config;
  }

  /** PAGE_SIZE, for the page alignment of mappings of a page or more. */
  get pageSize(): number {
    return this.mm.pageSize;
  }

  /** `mem->defpool`: the pool it was created with. */
  get defpool(): IoTlbPool | null {
    return this.pools[this.pools.length - 1] ?? null;
  }

  get forceBounce(): boolean {
    return this.config.forceBounce;
  }

  get forAlloc(): boolean {
    return this.config.forAlloc;
  }

  get canGrow(): boolean {
    return this.config.canGrow;
  }

  get leakyBounce(): boolean {
    return this.config.leakyBounce;
  }

  /** `add_mem_pool`: searched first from now on. */
  addPool(pool: IoTlbPool): void {
    this.pools.unshift(pool);
    this.nslabs += pool.nslabs;
  }

  /** `inc_used_and_hiwater`. */
  incUsed(nslots: number): void {
    this.totalUsed += nslots;
    if (this.totalUsed > this.usedHiwater) this.usedHiwater = this.totalUsed;
  }

  /** `dec_used`. */
  decUsed(nslots: number): void {
    this.totalUsed -= nslots;
  }

  stats(): SwiotlbMemStats {
    return {
      totalSlots: this.nslabs + this.transientNslabs,
      usedSlots: this.totalUsed,
      highWaterSlots: this.usedHiwater,
      bouncedToDevice: this.bouncedToDevice,
      bouncedFromDevice: this.bouncedFromDevice,
      failures: this.failures,
    };
  }

  /** `dev_WARN_ONCE`: once per device and message site. */
  warnOnce(devName: string, site: string, message: string): void {
    const key = `${devName}\u0000${site}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.hw.dmesg.printk('warn', `${devName}: ${message}`);
  }

  /** `dev_warn_ratelimited`: at most 10 messages per 5 s of machine time per call site. */
  warnRatelimited(site: string, devName: string, message: string): void {
    const now = this.hw.clock.now();
    let rs = this.ratelimits.get(site);
    if (rs === undefined) {
      rs = { begin: now, printed: 0, missed: 0 };
      this.ratelimits.set(site, rs);
    }
    if (now - rs.begin >= RATELIMIT_INTERVAL_NS) {
      if (rs.missed > 0) this.hw.dmesg.printk('warn', `${site}: ${rs.missed} callbacks suppressed`);
      rs.begin = now;
      rs.printed = 0;
      rs.missed = 0;
    }
    if (rs.printed < RATELIMIT_BURST) {
      rs.printed++;
      this.hw.dmesg.printk('warn', `${devName}: ${message}`);
    } else {
      rs.missed++;
    }
  }

  /**
   * `schedule_work(&mem->dyn_alloc)`: the worker runs later, on the machine clock's next tick
   * (`clock.advance`), and adds a pool of `default_nslabs` for the mappings after it.
   */
  scheduleDynAlloc(): void {
    if (this.dynAllocPending) return;
    this.dynAllocPending = true;
    this.hw.clock.setTimer(0, () => {
      this.dynAllocPending = false;
      this.dynAlloc();
    });
  }

  /** `swiotlb_dyn_alloc`. */
  private dynAlloc(): void {
    const pool = swiotlbAllocPool(this, IO_TLB_MIN_SLABS, this.config.defaultNslabs, this.config.defaultNareas, this.config.physLimit);
    if (pool === null) {
      this.warnRatelimited('swiotlb_dyn_alloc', 'software IO TLB', 'Failed to allocate new pool');
      return;
    }
    this.addPool(pool);
  }
}

/** `limit_nareas`: every area holds at least one whole segment. */
export function limitNareas(nareas: number, nslots: number): number {
  if (nslots < nareas * IO_TLB_SEGSIZE) return Math.max(1, Math.floor(nslots / IO_TLB_SEGSIZE));
  return nareas;
}

/**
 * `swiotlb_alloc_pool`: a late pool of `nslabs` slots (at most one max-order block), halving down
 * to `minslabs` when memory is short; its memory is zeroed (`swiotlb_init_io_tlb_pool`'s memset).
 */
export function swiotlbAllocPool(mem: IoTlbMem, minslabs: number, nslabs: number, nareas: number, physLimit: number): IoTlbPool | null {
  const { mm } = mem;
  const maxSlabs = (mm.pageSize / IO_TLB_SIZE) * pow2(mm.maxOrder);
  if (nslabs > maxSlabs) {
    nslabs = maxSlabs;
    nareas = limitNareas(nareas, nslabs);
  }
  for (;;) {
    const pages = allocPoolPages(mm, mem.config.zones, nslabs * IO_TLB_SIZE, physLimit, false);
    if (pages !== null) {
      const start = pages.pfn * mm.pageSize;
      mem.hw.cpuFill(start, nslabs * IO_TLB_SIZE, 0, 'normal');
      return new IoTlbPool(start, nslabs, nareas, true, pages);
    }
    if (nslabs <= minslabs) return null;
    nslabs = Math.max(IO_TLB_SEGSIZE, Math.ceil(Math.floor(nslabs / 2) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE);
    nareas = limitNareas(nareas, nslabs);
  }
}

/** `swiotlb_dyn_free`: a dynamic pool's pages go back to the page allocator. */
export function swiotlbFreePool(mem: IoTlbMem, pool: IoTlbPool): void {
  if (pool.pages !== null) freePoolPages(mem.mm, pool.pages);
}
