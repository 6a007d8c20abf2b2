/**
 * `enum dma_data_direction` (include/linux/dma-direction.h): which way the data of a streaming
 * mapping moves, which decides the cache maintenance and the swiotlb bounce.
 */

import { describe } from './describe.js';

/** `DMA_BIDIRECTIONAL`: either way; always legal, may cost a clean and an invalidate. */
export const DMA_BIDIRECTIONAL = 0;
/** `DMA_TO_DEVICE`: memory to device (the CPU wrote it). */
export const DMA_TO_DEVICE = 1;
/** `DMA_FROM_DEVICE`: device to memory (the CPU will read it). */
export const DMA_FROM_DEVICE = 2;
/** `DMA_NONE`: for debugging only; never valid for a mapping. */
export const DMA_NONE = 3;

/** `enum dma_data_direction`. */
export type DmaDataDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/** A direction that a mapping or a sync may take: what `valid_dma_direction()` accepts. */
export type ValidDmaDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE;

/** Names as dma-debug's `dir2name[]` prints them, indexed by direction. */
export const DMA_DIRECTION_NAMES: readonly string[] = Object.freeze([
  'DMA_BIDIRECTIONAL',
  'DMA_TO_DEVICE',
  'DMA_FROM_DEVICE',
  'DMA_NONE',
]);

/** `valid_dma_direction(dir)`: BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE; DMA_NONE and anything else are not. */
export function validDmaDirection(dir: unknown): dir is ValidDmaDirection {
  return dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE;
}

/**
 * Checks that `dir` is one of the four `enum dma_data_direction` values, DMA_NONE included (e.g. for
 * dma-debug, which records it). TypeError for a non-number, RangeError for any other number.
 */
export function checkDmaDirection(dir: unknown, argName = 'dir'): DmaDataDirection {
  if (dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE || dir === DMA_NONE) return dir;
  throw badDirection(dir, argName, 'DMA_BIDIRECTIONAL (0), DMA_TO_DEVICE (1), DMA_FROM_DEVICE (2) or DMA_NONE (3)');
}

/**
 * Checks a direction for a map, unmap or sync call: the kernel's `BUG_ON(!valid_dma_direction(dir))`,
 * so DMA_NONE is rejected too. TypeError for a non-number, RangeError for any other number.
 */
export function checkValidDmaDirection(dir: unknown, argName = 'dir'): ValidDmaDirection {
  if (dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE) return dir;
  throw badDirection(dir, argName, 'DMA_BIDIRECTIONAL (0), DMA_TO_DEVICE (1) or DMA_FROM_DEVICE (2)');
}

function badDirection(dir: unknown, argName: string, allowed: string): Error {
  if (typeof dir !== 'number') {
    return new TypeError(`${argName} must be a DMA data direction (a number), got ${describe(dir)}`);
  }
  const what = dir === DMA_NONE ? 'DMA_NONE (3), which no mapping may take' : String(dir);
  return new RangeError(`${argName} must be ${allowed}, got ${what}`);
}

/** The direction's name as dma-debug prints it (`dir2name[]`), e.g. `'DMA_TO_DEVICE'`. */
export function dmaDirectionName(dir: DmaDataDirection): string {
  return DMA_DIRECTION_NAMES[checkDmaDirection(dir)] as string;
}
