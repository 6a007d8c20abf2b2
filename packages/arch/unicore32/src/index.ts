/** `@kdma/arch-unicore32`: arch/unicore32's DMA mapping on the kdma machine. */
export { arch, PCI_DMA_THRESHOLD, PHYS_OFFSET } from './arch.js';
export { swiotlbDmaMapOps, unicore32CacheSync, unicore32DirectHooks, unicoreSwiotlbAllocCoherent } from './dma-swiotlb.js';
export { puv3SwiotlbInit } from './swiotlb-setup.js';
export { createMachine, unicore32Description } from './machine.js';
export { PUV3_PCI_WINDOW_BITS, puv3PciBridge } from './pci.js';
