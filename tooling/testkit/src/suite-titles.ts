/*
 * How the kit names its describe blocks: `${arch.name}: DMA API conformance` and
 * `${arch.name}: dma-debug`. The workspace's jest reporter (tooling/jest/totals-reporter.cjs)
 * recognises the kit's tests by these endings and records them per arch package in
 * .jest/conformance.json, which the README's architecture table reads (tooling/arch-table).
 */

/** The ending of the title of the kit's DMA API describe block. */
export const CONFORMANCE_SUITE_SUFFIX = ': DMA API conformance';
/** The ending of the title of the kit's dma-debug describe block. */
export const DMA_DEBUG_SUITE_SUFFIX = ': dma-debug';
/** Both, in the order the kit declares them. */
export const KIT_SUITE_SUFFIXES: readonly string[] = Object.freeze([CONFORMANCE_SUITE_SUFFIX, DMA_DEBUG_SUITE_SUFFIX]);
