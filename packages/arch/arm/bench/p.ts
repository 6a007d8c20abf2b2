import { DMA_FROM_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle } from '@kdma/dma-mapping';
import { createMachine } from '../src/index.js';
const machine = createMachine({ iommu: 'arm-smmu' });
const dev = machine.createDevice({ name: 'eth0', iommu: true });
const kva = machine.mm.kmalloc(2048) as number;
const N = 2e6; let t0 = 0;
for (let i = 0; i < N; i++) { if (i === 2e5) t0 = performance.now(); const a = dmaMapSingle(dev, kva, 1536, DMA_FROM_DEVICE); dmaMappingError(dev, a); dmaUnmapSingle(dev, a, 1536, DMA_FROM_DEVICE); }
console.log(((performance.now() - t0) * 1e6 / (N - 2e5)).toFixed(1), 'ns');
