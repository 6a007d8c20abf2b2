/** `@kdma/arch-alpha`: arch/alpha's DMA mapping on the kdma machine. */
export { ALPHA_IOMMU_NAMES, ALPHA_PLATFORM_NAMES, alphaFacts, arch } from './arch.js';
export {
  sizeForMemory,
  TSUNAMI_DAC_OFFSET,
  TSUNAMI_DIRECT_MAP_BASE,
  TSUNAMI_DIRECT_MAP_SIZE,
  TSUNAMI_SG_ISA_BASE,
  TSUNAMI_SG_ISA_SIZE,
  TSUNAMI_SG_PCI_BASE,
  TSUNAMI_TLB_ENTRIES,
  TSUNAMI_TLB_PTES,
  tsunamiInit,
  tsunamiOf,
  TsunamiPchip,
  type TsunamiStats,
} from './core-tsunami.js';
export { alphaDescription, alphaMemoryLayout, createMachine } from './machine.js';
export { IOMMU_INVALID_PTE, IOMMU_RESERVED_PTE, iommuPtePaddr, mkIommuPte, PciIommuArena } from './pci-iommu-arena.js';
export {
  alphaPciAllocCoherent,
  alphaPciFreeCoherent,
  alphaPciMapPage,
  alphaPciMapSg,
  alphaPciOps,
  alphaPciSupported,
  alphaPciUnmapPage,
  alphaPciUnmapSg,
  ISA_DMA_MASK,
  pciDacDmaSupported,
  pciMapSingle1,
} from './pci-iommu.js';
export { alphaNoopMapPage, alphaNoopMapSg, alphaNoopOps, alphaNoopSupported } from './pci-noop.js';
