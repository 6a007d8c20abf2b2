/** The conformance kit: every arch package runs `describeDmaConformance` in its own tests. */
export { describeDmaConformance, type ConformanceOptions } from './conformance.js';
export { describeDmaDebugConformance } from './dma-debug-conformance.js';
export { firstDifference, pattern } from './patterns.js';
export { CONFORMANCE_SUITE_SUFFIX, DMA_DEBUG_SUITE_SUFFIX, KIT_SUITE_SUFFIXES } from './suite-titles.js';
