/**
 * Creating an io_tlb_mem: the default one at boot (`swiotlb_init_remap`, with the `swiotlb=`
 * parameter's size, areas and force) and a restricted DMA pool (`rmem_swiotlb_device_init`, the
 * device tree's "restricted-dma-pool").
 */
import { checkInteger, describe, isPowerOfTwo, pow2 } from '@kdma/hw';
import { IO_TLB_DEFAULT_SIZE, IO_TLB_MIN_SLABS, IO_TLB_SEGSIZE, IO_TLB_SIZE } from './io-tlb.js';
import { IoTlbMem, limitNareas } from './io-tlb-mem.js';
import { IoTlbPool } from './io-tlb-pool.js';
import { allocPoolPages } from './pool-memory.js';
import type { SwiotlbHardware, SwiotlbMm, SwiotlbZones } from './types.js';

/** `swiotlb=` and the arch's choices; every member has a default. */
export interface SwiotlbInitOptions {
  /** Bytes of the default pool (`swiotlb=<nslabs>` × 2 KiB); default `IO_TLB_DEFAULT_SIZE`, 64 MiB. */
  readonly size?: number;
  /** `swiotlb=,<nareas>`; default the number of CPUs. Rounded up to a power of two. */
  readonly areas?: number;
  /** `swiotlb=force`: every dma-direct mapping bounces. */
  readonly force?: boolean;
  /** CONFIG_SWIOTLB_DYNAMIC: grow by transient and new pools when full. */
  readonly dynamic?: boolean;
  /** Map as before the CVE-2022-0854 fix (copy in only for TO_DEVICE/BIDIRECTIONAL). */
  readonly leakyBounce?: boolean;
  /** `ARCH_LOW_ADDRESS_LIMIT` (inclusive): the pool lies below it; default 4 GiB − 1. */
  readonly physLimit?: number;
  /**
   * The arch's zones (for the zone modifier of pages below `physLimit`); default: ZONE_DMA32
   * (below 4 GiB) when mm has it, else none.
   */
  readonly zones?: SwiotlbZones;
}

const FOUR_GIB_MASK = 2 ** 32 - 1;
const MiB = 2 ** 20;

function bool(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function roundUpPowerOfTwo(n: number): number {
  return isPowerOfTwo(n) ? n : pow2(Math.ceil(Math.log2(n)));
}

/** What mm's zone names tell without the arch's table: ZONE_DMA32 ends at 4 GiB by definition. */
function defaultZones(mm: SwiotlbMm): SwiotlbZones {
  return mm.zoneNames.includes('DMA32') ? [{ name: 'DMA32', end: FOUR_GIB_MASK + 1 }] : [];
}

/** `%pa`. */
function pa(value: number): string {
  return `0x${value.toString(16).padStart(16, '0')}`;
}

/**
 * `swiotlb_init_remap`: the default io_tlb_mem, or null when no memory could be found (after
 * halving down to 1 MiB, "No low mem"). The kernel's sizing rules apply: the size is a whole
 * number of segments; the areas (default: one per CPU) are a power of two; the slot count is
 * raised to a power of two and to at least one segment per area (`round_up_default_nslabs`);
 * areas are then limited so each holds a segment.
 */
export function swiotlbInit(hw: SwiotlbHardware, mm: SwiotlbMm, options: SwiotlbInitOptions = {}): IoTlbMem | null {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const size = options.size ?? IO_TLB_DEFAULT_SIZE;
  checkInteger(size, 'options.size', 1, 2 ** 40);
  const areas = options.areas ?? hw.cpus.length;
  checkInteger(areas, 'options.areas', 0, 1024);
  const force = bool(options.force, 'options.force');
  const dynamic = bool(options.dynamic, 'options.dynamic');
  const leakyBounce = bool(options.leakyBounce, 'options.leakyBounce');
  const physLimit = options.physLimit ?? FOUR_GIB_MASK;
  checkInteger(physLimit, 'options.physLimit');
  const zones = options.zones ?? defaultZones(mm);
  if (!Array.isArray(zones)) throw new TypeError(`options.zones must be an array of { name, end }, got ${describe(zones)}`);
  const info = (message: string): void => hw.dmesg.printk('info', `software IO TLB: ${message}`);
  const warn = (message: string): void => hw.dmesg.printk('warn', `software IO TLB: ${message}`);

  // setup_io_tlb_npages: avoid a tail segment of fewer than IO_TLB_SEGSIZE slots.
  let defaultNslabs = Math.ceil(Math.floor(size / IO_TLB_SIZE) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
  // swiotlb_adjust_nareas + round_up_default_nslabs.
  const defaultNareas = areas === 0 ? 1 : roundUpPowerOfTwo(areas);
  info(`area num ${defaultNareas}.`);
  let rounded = false;
  if (defaultNslabs < IO_TLB_SEGSIZE * defaultNareas) {
    defaultNslabs = roundUpPowerOfTwo(IO_TLB_SEGSIZE * defaultNareas);
    rounded = true;
  } else if (!isPowerOfTwo(defaultNslabs)) {
    defaultNslabs = roundUpPowerOfTwo(defaultNslabs);
    rounded = true;
  }
  if (rounded) info(`SWIOTLB bounce buffer size roundup to ${Math.floor((defaultNslabs * IO_TLB_SIZE) / MiB)}MB`);

  let nslabs = defaultNslabs;
  let nareas = limitNareas(defaultNareas, nslabs);
  let pages = allocPoolPages(mm, zones, nslabs * IO_TLB_SIZE, physLimit, true);
  while (pages === null) {
    warn(`swiotlb_memblock_alloc: Failed to allocate ${nslabs * IO_TLB_SIZE} bytes tlb structure`);
    if (nslabs <= IO_TLB_MIN_SLABS) {
      warn('No low mem');
      return null;
    }
    nslabs = Math.ceil(Math.floor(nslabs / 2) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
    nareas = limitNareas(nareas, nslabs);
    pages = allocPoolPages(mm, zones, nslabs * IO_TLB_SIZE, physLimit, true);
  }
  if (nslabs !== defaultNslabs) {
    info(`SWIOTLB bounce buffer size adjusted ${defaultNslabs} -> ${nslabs} slabs`);
    defaultNslabs = nslabs;
  }
  // Boot memory is zero, as memblock's is: the pool's pages have not been touched since power-on.
  const start = pages.pfn * mm.pageSize;
  const pool = new IoTlbPool(start, nslabs, nareas, false, pages);
  const mem = new IoTlbMem(hw, mm, {
    name: 'swiotlb',
    forceBounce: force,
    forAlloc: false,
    canGrow: dynamic,
    physLimit,
    leakyBounce,
    defaultNslabs,
    defaultNareas,
    zones,
  });
  mem.addPool(pool);
  info(`mapped [mem ${pa(pool.start)}-${pa(pool.end)}] (${Math.floor((nslabs * IO_TLB_SIZE) / MiB)}MB)`);
  return mem;
}

/** A restricted DMA pool: `size` bytes reserved below `physLimit` for one device (or a few). */
export interface SwiotlbRestrictedOptions {
  /** The reserved-memory node's name (debugfs directory). */
  readonly name: string;
  /** Bytes; at least one slot. */
  readonly size: number;
  /** The pool must lie below this (the device's reach); default every address. */
  readonly physLimit?: number;
  readonly zones?: SwiotlbZones;
  readonly leakyBounce?: boolean;
}

/**
 * `rmem_swiotlb_setup` + `rmem_swiotlb_device_init`: an io_tlb_mem of one area over memory of
 * its own, which its device must bounce everything through (`force_bounce`) and allocate its
 * coherent buffers from (`for_alloc`). Null when the memory cannot be found.
 */
export function swiotlbInitRestricted(hw: SwiotlbHardware, mm: SwiotlbMm, options: SwiotlbRestrictedOptions): IoTlbMem | null {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  if (typeof options.name !== 'string') throw new TypeError(`options.name must be a string, got ${describe(options.name)}`);
  checkInteger(options.size, 'options.size', IO_TLB_SIZE, 2 ** 40);
  const physLimit = options.physLimit ?? Number.MAX_SAFE_INTEGER;
  checkInteger(physLimit, 'options.physLimit');
  const leakyBounce = bool(options.leakyBounce, 'options.leakyBounce');
  const zones = options.zones ?? defaultZones(mm);
  const nslabs = Math.floor(options.size / IO_TLB_SIZE);
  const pages = allocPoolPages(mm, zones, nslabs * IO_TLB_SIZE, physLimit, true);
  if (pages === null) {
    hw.dmesg.printk('err', `Reserved memory: failed to reserve ${options.size} bytes for ${options.name}`);
    return null;
  }
  const start = pages.pfn * mm.pageSize;
  hw.dmesg.printk('info', `Reserved memory: created restricted DMA pool at ${pa(start)}, size ${Math.floor(options.size / MiB)} MiB`);
  hw.cpuFill(start, nslabs * IO_TLB_SIZE, 0, 'normal');
  const mem = new IoTlbMem(hw, mm, {
    name: options.name,
    forceBounce: true,
    forAlloc: true,
    canGrow: false,
    physLimit,
    leakyBounce,
    defaultNslabs: nslabs,
    defaultNareas: 1,
    zones,
  });
  mem.addPool(new IoTlbPool(start, nslabs, 1, false, pages));
  return mem;
}
