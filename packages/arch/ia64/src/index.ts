/** `@kdma/arch-ia64`: arch/ia64's DMA mapping (removed from Linux in 6.7) on the kdma machine. */
export { arch, IA64_IOMMU_NAMES, IA64_PLATFORM_NAMES, ia64Facts } from './arch.js';
export { HWSW_SWIOTLB_SIZE, hwswDmaGetOps, hwswDmaOps, useSwiotlb } from './hwsw-iommu.js';
export { ia64DmarFaultMessage, ia64IntelDmaOps, ia64IntelIommuDriver } from './intel-iommu.js';
export { createMachine, IA64_OPTION_NAMES, ia64Description, ia64DirectHooks, ia64MemoryLayout, type Ia64Options } from './machine.js';
export { machvecDmaSyncSg, machvecDmaSyncSingle } from './machvec.js';
export { dmaMarkClean, Ia64IcacheState, ia64IcacheState, pageIcacheClean } from './mark-clean.js';
export { ia64SwiotlbAllocCoherent, ia64SwiotlbDmaOps } from './pci-swiotlb.js';
export {
  IOPGSIZE,
  PCI32_DIRECT_BASE,
  PCI32_MAPPED_BASE,
  PCIBR_INT_ATES,
  PcibrBus,
  pcibrInit,
  pcibrOf,
  SN2_NODE0_MEMORY,
  sn2DmaMapping,
  type PcibrMapping,
  type PcibrStats,
} from './pcibr-dma.js';
export {
  DELAYED_RESOURCE_CNT,
  Ioc,
  iocOf,
  PDIR_ENTRY_SIZE,
  sbaAllocCoherent,
  sbaDmaOps,
  sbaDmaSupported,
  sbaFreeCoherent,
  sbaInit,
  sbaMapPage,
  sbaMapSg,
  sbaUnmapPage,
  sbaUnmapSg,
  ZX1_IOC_HPA,
  ZX1_IOVA_BASE,
  ZX1_IOVA_SIZE,
  zx1IovpSize,
  type SbaStats,
} from './sba-iommu.js';
export { pcibrDmaMap, pcibrDmaMapConsistent, snDmaAllocCoherent, snDmaFreeCoherent, snDmaGetRequiredMask, snDmaMapPage, snDmaMapSg, snDmaOps, snDmaSupported, snDmaUnmapPage, snDmaUnmapSg } from './sn-pci-dma.js';
