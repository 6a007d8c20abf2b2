/** The conformance kit: every arch package runs `describeDmaConformance` in its own tests. */
export { describeDmaConformance, type ConformanceOptions } from './conformance.js';
export { describeDmaDebugConformance } from './dma-debug-conformance.js';
export { firstDifference, pattern } from './patterns.js';
