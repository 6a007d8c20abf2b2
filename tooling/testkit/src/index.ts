/** The conformance kit: every arch package runs `describeDmaConformance` in its own tests. */
export { countBounces, type BounceCount } from './bounce-count.js';
export { describeDmaConformance, type ConformanceOptions } from './conformance.js';
export { describeDmaDebugConformance, provokeDmaDebugError } from './dma-debug-conformance.js';
export { type BoundaryRefusal, type KernelRefusals } from './kernel-refusals.js';
export { firstDifference, pattern } from './patterns.js';
export { CONFORMANCE_SUITE_SUFFIX, DMA_DEBUG_SUITE_SUFFIX, KIT_SUITE_SUFFIXES } from './suite-titles.js';
