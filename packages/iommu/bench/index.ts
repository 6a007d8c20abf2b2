/**
 * `pnpm bench` for @kdma/iommu: the IOVA allocator and io-pgtable figures, then the dma-iommu
 * ones (map+unmap pairs, a device reading through the IOMMU). Medians of one run.
 *
 *   pnpm exec tsx --conditions=@kdma/source bench/index.ts
 */

import { runIoPgtableBench } from './io-pgtable.bench.js';
import { runIommuBench } from './iommu.bench.js';
import { runIovaBench } from './iova.bench.js';

console.log(`@kdma/iommu bench: medians, node ${process.version}`);
runIovaBench();
runIoPgtableBench();
runIommuBench();
