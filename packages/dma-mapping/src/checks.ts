import { checkValidDmaDirection, normalizeDmaAttrs, type DmaAttrsInput, type DmaDataDirection } from '@kdma/dma-attrs';
import { ADDRESS_LIMIT, checkAddress, checkInteger, checkSize, describe } from '@kdma/hw';
import { GFP_KERNEL } from '@kdma/mm';

/*
 * Argument checks for the consumer API: values that are not valid JavaScript for the call throw
 * TypeError/RangeError naming the argument; the kernel's own failure values are for the kernel's
 * own failures.
 */

const { floor } = Math;

/** A byte count of at least one. */
export function checkDmaSize(size: unknown, name = 'size'): asserts size is number {
  // Sizes below 4 GiB (every streaming mapping) in two operations, small enough to inline.
  if (typeof size === 'number' && size >>> 0 === size && size !== 0) return;
  checkSize(size, name, 1);
}

/** `gfp`, absent meaning `GFP_KERNEL`. */
export function gfpArg(gfp: unknown): number {
  if (gfp === undefined) return GFP_KERNEL;
  checkInteger(gfp, 'gfp', 0, 2 ** 31 - 1);
  return gfp;
}

/** `attrs` in either form, as the number the ops see. */
export function attrsArg(attrs: DmaAttrsInput): number {
  return normalizeDmaAttrs(attrs, 'attrs');
}

/** A direction a map or sync may take: `BUG_ON(!valid_dma_direction(dir))` becomes RangeError. */
export function dirArg(dir: unknown, name = 'dir'): DmaDataDirection {
  return checkValidDmaDirection(dir, name);
}

/** A bus address as a driver passes it back: an address, or `DMA_MAPPING_ERROR` (−1). */
export function checkDmaAddr(addr: unknown, name: string): asserts addr is number {
  // Bus addresses below 4 GiB in two operations, small enough to inline; the rest the long way.
  if (typeof addr === 'number' && addr >>> 0 === addr) return;
  checkWideDmaAddr(addr, name);
}

function checkWideDmaAddr(addr: unknown, name: string): asserts addr is number {
  if (typeof addr === 'number' && addr >= -1 && addr < ADDRESS_LIMIT && floor(addr) === addr) return;
  throw badDmaAddr(addr, name);
}

function badDmaAddr(addr: unknown, name: string): Error {
  if (typeof addr !== 'number') return new TypeError(`${name} must be a number, got ${describe(addr)}`);
  return new RangeError(`${name} must be a DMA address or DMA_MAPPING_ERROR, got ${addr}`);
}

/** A kernel virtual address (or cookie) as the driver holds it. */
export function checkCpuAddr(addr: unknown, name: string): asserts addr is number {
  checkAddress(addr, name);
}

/** A DMA mask: any non-negative integer (`dmaBitMask(64)` is `Number.MAX_SAFE_INTEGER`). */
export function checkMask(mask: unknown, name = 'mask'): asserts mask is number {
  checkInteger(mask, name, 0, Number.MAX_SAFE_INTEGER);
}

/** A scatterlist and its entry count. */
export function checkSgl(sgl: unknown, nents: unknown): void {
  if (!Array.isArray(sgl)) throw new TypeError(`sgl must be an array of scatterlist entries (sgt.sgl), got ${describe(sgl)}`);
  checkInteger(nents, 'nents', 1, sgl.length);
}
