/**
 * GFP flags, with the bit values of the kernel the DMA-mapping framework was designed in (v3.4,
 * include/linux/gfp.h), so that `mode:0x…` in an allocation failure reads as it did then.
 *
 * GFP values are small masks (below 2^32), never addresses, so 32-bit operators are safe on them.
 */

/** __GFP_DMA: the page must come from ZONE_DMA (ISA's 16 MiB, or the arch's DMA limit). */
export const __GFP_DMA = 0x01;
/** __GFP_HIGHMEM: highmem is acceptable; kdma has no highmem, so this means NORMAL. */
export const __GFP_HIGHMEM = 0x02;
/** __GFP_DMA32: the page must be below 4 GiB (ZONE_DMA32, or NORMAL where there is none). */
export const __GFP_DMA32 = 0x04;
/** __GFP_MOVABLE: the page may be migrated; kdma has no ZONE_MOVABLE and ignores it. */
export const __GFP_MOVABLE = 0x08;
/** __GFP_WAIT: the caller may sleep (reclaim); later renamed __GFP_DIRECT_RECLAIM. */
export const __GFP_WAIT = 0x10;
/** __GFP_HIGH: the caller may dip into emergency reserves; GFP_ATOMIC is exactly this bit. */
export const __GFP_HIGH = 0x20;
/** __GFP_IO: the allocator may start physical I/O. */
export const __GFP_IO = 0x40;
/** __GFP_FS: the allocator may call into the filesystem. */
export const __GFP_FS = 0x80;
/** __GFP_COLD: cache-cold page wanted. */
export const __GFP_COLD = 0x100;
/** __GFP_NOWARN: an allocation failure prints nothing. */
export const __GFP_NOWARN = 0x200;
/** __GFP_REPEAT: try hard. */
export const __GFP_REPEAT = 0x400;
/** __GFP_NOFAIL: retry forever (kdma cannot reclaim, so it still fails when memory is gone). */
export const __GFP_NOFAIL = 0x800;
/** __GFP_NORETRY: fail rather than retry. */
export const __GFP_NORETRY = 0x1000;
/** __GFP_COMP: a compound page. */
export const __GFP_COMP = 0x4000;
/** __GFP_ZERO: the allocator clears the memory (clear_page: cached CPU stores). */
export const __GFP_ZERO = 0x8000;

/** GFP_NOWAIT: neither sleeps nor uses reserves (v3.4: `GFP_ATOMIC & ~__GFP_HIGH`, i.e. 0). */
export const GFP_NOWAIT = 0;
/** GFP_ATOMIC: does not sleep, may use reserves. */
export const GFP_ATOMIC = __GFP_HIGH;
/** GFP_NOIO: may sleep but not start I/O. */
export const GFP_NOIO = __GFP_WAIT;
/** GFP_NOFS: may sleep and do I/O, not filesystem calls. */
export const GFP_NOFS = __GFP_WAIT | __GFP_IO;
/** GFP_KERNEL: the usual kernel allocation (0xd0). */
export const GFP_KERNEL = __GFP_WAIT | __GFP_IO | __GFP_FS;
/** GFP_DMA: the zone modifier alone, as the kernel spells it. */
export const GFP_DMA = __GFP_DMA;
/** GFP_DMA32: the zone modifier alone, as the kernel spells it. */
export const GFP_DMA32 = __GFP_DMA32;

/** The zone a GFP mask asks for at most (kernel `enum zone_type` as far as kdma models it). */
export type ZoneType = 'DMA' | 'DMA32' | 'NORMAL';

/** Throws unless `gfp` is a GFP mask: TypeError for a non-number, RangeError for a bad number. */
export function checkGfp(gfp: unknown, name = 'gfp'): asserts gfp is number {
  if (typeof gfp !== 'number') {
    throw new TypeError(`${name} must be a GFP mask (a number), got ${gfp === null ? 'null' : typeof gfp}`);
  }
  if (!Number.isInteger(gfp) || gfp < 0 || gfp > 0xffffffff) {
    throw new RangeError(`${name} must be a GFP mask (an integer in [0, 0xffffffff]), got ${gfp}`);
  }
}

/**
 * gfp_zone(): the highest zone type the mask allows. Unknown bits are ignored, as in the kernel;
 * contradictory zone modifiers (the kernel's GFP_ZONE_BAD, a BUG there) throw RangeError.
 */
export function gfpZone(gfp: number): ZoneType {
  const zoneBits = gfp & (__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
  switch (zoneBits) {
    case 0:
    case __GFP_HIGHMEM:
      return 'NORMAL';
    case __GFP_DMA:
      return 'DMA';
    case __GFP_DMA32:
      return 'DMA32';
    default:
      throw new RangeError(`gfp 0x${gfp.toString(16)} combines zone modifiers (GFP_ZONE_BAD): pick one of __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM`);
  }
}

/** gfpflags_allow_blocking(): may the caller sleep? */
export function gfpflagsAllowBlocking(gfp: number): boolean {
  return (gfp & __GFP_WAIT) !== 0;
}

/** The kernel's `%x` of a GFP mask, for messages. */
export function formatGfp(gfp: number): string {
  return `0x${gfp.toString(16)}`;
}
