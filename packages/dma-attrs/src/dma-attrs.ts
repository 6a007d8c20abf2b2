/**
 * DMA attributes: include/linux/dma-attrs.h (2008–2016) and today's `unsigned long attrs`
 * (include/linux/dma-mapping.h since v4.8, commit 00085f1e).
 *
 * Both forms carry the same bits: v4.8 kept the old `enum dma_attr` ordinal as the bit number, so
 * `DMA_ATTR_X` here is the bit value `1 << ordinal` and the 2011 struct takes that same value.
 */

import { describe } from './describe.js';

/** `DMA_ATTR_WRITE_BARRIER` (2008): DMA to this region forces pending DMA writes to complete. Removed in v5.5 (no backend implemented it). */
export const DMA_ATTR_WRITE_BARRIER = 0x1;
/** `DMA_ATTR_WEAK_ORDERING` (2008, Cell IOMMU): reads and writes may pass each other. */
export const DMA_ATTR_WEAK_ORDERING = 0x2;
/** `DMA_ATTR_WRITE_COMBINE` (v3.4): the buffer may be mapped write-combined; what `dma_alloc_writecombine` passes. */
export const DMA_ATTR_WRITE_COMBINE = 0x4;
/** `DMA_ATTR_NON_CONSISTENT` (v3.4): the platform may return non-consistent memory synced by `dma_cache_sync`. Removed in v5.10. */
export const DMA_ATTR_NON_CONSISTENT = 0x8;
/** `DMA_ATTR_NO_KERNEL_MAPPING` (2012): no kernel virtual mapping; the CPU address is a cookie for mmap/free only. */
export const DMA_ATTR_NO_KERNEL_MAPPING = 0x10;
/** `DMA_ATTR_SKIP_CPU_SYNC` (2012): map/unmap skip the CPU cache maintenance. */
export const DMA_ATTR_SKIP_CPU_SYNC = 0x20;
/** `DMA_ATTR_FORCE_CONTIGUOUS` (2012): physically contiguous even behind an IOMMU. */
export const DMA_ATTR_FORCE_CONTIGUOUS = 0x40;
/** `DMA_ATTR_ALLOC_SINGLE_PAGES` (2016): do not bother building the buffer from large pages. */
export const DMA_ATTR_ALLOC_SINGLE_PAGES = 0x80;
/** `DMA_ATTR_NO_WARN` (2016, after the switch to unsigned long): no allocation-failure report, like `__GFP_NOWARN`. */
export const DMA_ATTR_NO_WARN = 0x100;
/** `DMA_ATTR_PRIVILEGED` (2017): accessible at the device's elevated privilege level only (IOMMU_PRIV). */
export const DMA_ATTR_PRIVILEGED = 0x200;
/** `DMA_ATTR_MMIO` (≈v6.18, later addition): the physical address is not RAM; no cache maintenance, no swiotlb. */
export const DMA_ATTR_MMIO = 0x400;
/**
 * `DMA_ATTR_DEBUGGING_IGNORE_CACHELINES` (v7.0, later addition; introduced as `DMA_ATTR_CPU_CACHE_CLEAN`):
 * dma-debug does not report cache-line overlap for mappings that all carry it.
 */
export const DMA_ATTR_DEBUGGING_IGNORE_CACHELINES = 0x800;
/** `DMA_ATTR_REQUIRE_COHERENT` (v7.0, later addition): fail the mapping rather than bounce or flush caches. */
export const DMA_ATTR_REQUIRE_COHERENT = 0x1000;

/**
 * Names as the kernel's trace events print them (`decode_dma_attrs` in include/trace/events/dma.h:
 * the constant without `DMA_ATTR_`), keyed by bit value; iteration order is bit order.
 */
export const DMA_ATTR_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [DMA_ATTR_WRITE_BARRIER]: 'WRITE_BARRIER',
  [DMA_ATTR_WEAK_ORDERING]: 'WEAK_ORDERING',
  [DMA_ATTR_WRITE_COMBINE]: 'WRITE_COMBINE',
  [DMA_ATTR_NON_CONSISTENT]: 'NON_CONSISTENT',
  [DMA_ATTR_NO_KERNEL_MAPPING]: 'NO_KERNEL_MAPPING',
  [DMA_ATTR_SKIP_CPU_SYNC]: 'SKIP_CPU_SYNC',
  [DMA_ATTR_FORCE_CONTIGUOUS]: 'FORCE_CONTIGUOUS',
  [DMA_ATTR_ALLOC_SINGLE_PAGES]: 'ALLOC_SINGLE_PAGES',
  [DMA_ATTR_NO_WARN]: 'NO_WARN',
  [DMA_ATTR_PRIVILEGED]: 'PRIVILEGED',
  [DMA_ATTR_MMIO]: 'MMIO',
  [DMA_ATTR_DEBUGGING_IGNORE_CACHELINES]: 'DEBUGGING_IGNORE_CACHELINES',
  [DMA_ATTR_REQUIRE_COHERENT]: 'REQUIRE_COHERENT',
});

/** Every attribute bit this package knows; any other bit is carried along and ignored, as the kernel ignores it. */
export const DMA_ATTR_KNOWN_MASK = 0x1fff;

/** Known bits in bit order, for the string form (built once; read-only). */
const KNOWN_BITS: readonly number[] = Object.freeze(Object.keys(DMA_ATTR_NAMES).map(Number));

/** Reads a struct's bits; set once by the class's static block so that the bitmap stays private. */
let flagsOf: (attrs: DmaAttrs) => number;
/** Writes a struct's bits (same reason). */
let setFlags: (attrs: DmaAttrs, flags: number) => void;

/**
 * `struct dma_attrs` (2008–2016): an opaque bitmap that callers only touch through
 * `initDmaAttrs`/`dmaSetAttr`/`dmaGetAttr`, so that the kernel could widen it without changing users.
 * Created zeroed by `defineDmaAttrs()` (`DEFINE_DMA_ATTRS`).
 */
export class DmaAttrs {
  #flags = 0;

  static {
    flagsOf = (attrs) => attrs.#flags;
    setFlags = (attrs, flags) => {
      attrs.#flags = flags;
    };
  }

  /** The attributes as `dmaAttrsToString` spells them, for messages and debugging. */
  toString(): string {
    return dmaAttrsToString(this.#flags);
  }
}

/** `DEFINE_DMA_ATTRS(x)`: a zero-initialised attribute struct. */
export function defineDmaAttrs(): DmaAttrs {
  return new DmaAttrs();
}

function checkStruct(attrs: unknown, argName: string): asserts attrs is DmaAttrs {
  if (!(attrs instanceof DmaAttrs)) {
    throw new TypeError(`${argName} must be a DmaAttrs struct (from defineDmaAttrs()), got ${describe(attrs)}`);
  }
}

/** `init_dma_attrs(attrs)`: `bitmap_zero`; the kernel dereferences attrs, so a missing struct is an error here. */
export function initDmaAttrs(attrs: DmaAttrs): void {
  checkStruct(attrs, 'attrs');
  setFlags(attrs, 0);
}

/**
 * Checks that `attr` is exactly one known attribute bit; the kernel's `BUG_ON(attr >= DMA_ATTR_MAX)`.
 * Unlike the kernel, the check runs even when `attrs` is null, so that a bad attribute is caught at once.
 */
function checkAttr(attr: unknown, argName: string): number {
  if (typeof attr !== 'number') {
    throw new TypeError(`${argName} must be a DMA_ATTR_* bit value, got ${describe(attr)}`);
  }
  if (DMA_ATTR_NAMES[attr] === undefined) {
    throw new RangeError(`${argName} must be exactly one known DMA_ATTR_* bit value, got ${String(attr)}`);
  }
  return attr;
}

/**
 * `dma_set_attr(attr, attrs)`: a no-op when attrs is null or undefined, as the kernel's (callers
 * passed NULL for "no attributes" and the setter had to tolerate it).
 */
export function dmaSetAttr(attr: number, attrs: DmaAttrs | null | undefined): void {
  const bit = checkAttr(attr, 'attr');
  if (attrs == null) return;
  checkStruct(attrs, 'attrs');
  setFlags(attrs, flagsOf(attrs) | bit);
}

/**
 * `dma_get_attr(attr, attrs)`: false when attrs is null or undefined, as the kernel's returns 0 for NULL.
 * Also accepts the number form, so code that holds either form can ask the same question.
 */
export function dmaGetAttr(attr: number, attrs: DmaAttrsInput): boolean {
  const bit = checkAttr(attr, 'attr');
  return (normalizeDmaAttrs(attrs) & bit) !== 0;
}

/** What every attrs argument accepts: the bit-value number (v4.8+), the 2011 struct, or nothing. */
export type DmaAttrsInput = number | DmaAttrs | null | undefined;

/**
 * Turns either form into today's `unsigned long attrs`, which is what the ops see. Absent or null
 * is 0 (the old API's NULL). Unknown bits pass through, to be ignored as the kernel ignores them.
 * Integers above 2^53 − 1 are rejected: a number that large cannot hold exact bits.
 * Cheap for numbers (no allocation): it sits on every map call.
 */
export function normalizeDmaAttrs(attrs: DmaAttrsInput, argName = 'attrs'): number {
  // The common case, a 32-bit flag word, small enough for the JIT to inline into every DMA call
  // (`>>> 0` keeps exactly the integers 0 … 2^32 − 1); larger integers take the long way.
  if (typeof attrs === 'number' && attrs >>> 0 === attrs) return attrs;
  return normalizeOtherDmaAttrs(attrs, argName);
}

function normalizeOtherDmaAttrs(attrs: DmaAttrsInput, argName: string): number {
  if (typeof attrs === 'number') {
    if (attrs >= 0 && Number.isSafeInteger(attrs)) return attrs;
  } else if (attrs == null) {
    return 0;
  } else if (attrs instanceof DmaAttrs) {
    return flagsOf(attrs);
  }
  throw new TypeError(
    `${argName} must be a non-negative integer of DMA_ATTR_* bits or a DmaAttrs struct, got ${describe(attrs)}`,
  );
}

/**
 * The attributes as the kernel's trace events print them: names in bit order joined by `|`, with any
 * unknown bits last as one hex number (`__print_flags` does the same); `"0"` when no bit is set.
 */
export function dmaAttrsToString(attrs: DmaAttrsInput): string {
  const value = normalizeDmaAttrs(attrs);
  if (value === 0) return '0';
  // Known bits are below 2^31, so `&` with the known mask is exact even when value is larger.
  const known = value & DMA_ATTR_KNOWN_MASK;
  const parts: string[] = [];
  for (const bit of KNOWN_BITS) {
    if ((known & bit) !== 0) parts.push(DMA_ATTR_NAMES[bit] as string);
  }
  const unknown = value - known;
  if (unknown !== 0) parts.push(`0x${unknown.toString(16)}`);
  return parts.join('|');
}
