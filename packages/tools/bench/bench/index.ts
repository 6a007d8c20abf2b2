/**
 * `pnpm bench` for @kdma/bench: dma_map_benchmark's defaults (one thread, 4 KiB, BIDIRECTIONAL,
 * 32-bit mask) over every path on arm and x86, one second each, printed as the kernel tool prints
 * it, with the `TypedArray.set` baseline and the ratios.
 *
 *   pnpm exec tsx --conditions=@kdma/source bench/index.ts
 */
import { formatBenchText, runBench } from '../src/index.js';

const result = await runBench({ arch: 'all', path: 'all', granule: 1, seconds: 1 });
console.log(formatBenchText(result));
