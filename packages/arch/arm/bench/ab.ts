import * as N from '../src/index.js';
import * as NM from '@kdma/dma-mapping';
import { measureEach } from '@kdma/measure';
const O = await import('/tmp/abold/packages/arch/arm/src/index.ts');
const OM = await import('/tmp/abold/packages/dma-mapping/src/index.ts');
function mk(A: any, M: any, dir: number) { const machine = A.createMachine({ iommu: 'arm-smmu' }); const dev = machine.createDevice({ name: 'd', iommu: true }); const kva = machine.mm.kmalloc(2048);
  return () => { const a = M.dmaMapSingle(dev, kva, 1536, dir); M.dmaMappingError(dev, a); M.dmaUnmapSingle(dev, a, 1536, dir); }; }
const r = measureEach([
  { name: 'old smmu FROM', fn: mk(O, OM, 2) },
  { name: 'new smmu FROM', fn: mk(N, NM, 2) },
  { name: 'old smmu TO', fn: mk(O, OM, 1) },
  { name: 'new smmu TO', fn: mk(N, NM, 1) },
], { samples: 31 });
for (const x of r) console.log(x.name.padEnd(14), x.medianNs.toFixed(1));
