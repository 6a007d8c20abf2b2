/** `@kdma/arch-powerpc`: arch/powerpc's DMA mapping on the kdma machine. */
export { arch, POWERPC_OPS, POWERPC_PLATFORM_NAMES, POWERPC_PLATFORMS, PPC32_LOWMEM_SIZE, powerpcFacts, powerpcPlatform, type PowerpcBus, type PowerpcPlatform } from './arch.js';
export {
  CBE_IOPTE_M,
  CBE_IOPTE_PP_R,
  CBE_IOPTE_PP_W,
  CBE_IOPTE_SO_R,
  CBE_IOPTE_SO_RW,
  CBE_IOPTE_SO_W,
  CELL_DYNAMIC_WINDOW_SIZE,
  CELL_FIXED_PAGE_SIZE,
  CellIommu,
  dmaIommuFixedOps,
  IO_SEGMENT_SHIFT,
  type CellFixedWindow,
  type CellIopte,
  type IopteOrdering,
} from './cell-iommu.js';
export { archData, deviceBus, getDmaOffset, getIommuTableBase, setDmaOffset, type PowerpcArchData } from './device.js';
export { dmaDirectOps } from './dma.js';
export { dmaIommuOps } from './dma-iommu.js';
export { CONSISTENT_SIZE, dmaSync, powerpcDirectHooks } from './dma-noncoherent.js';
export { ppcSwiotlbDmaOps } from './dma-swiotlb.js';
export { ibmebusDmaOps } from './ibmebus.js';
export { IOMMU_PAGE_SHIFT, IOMMU_PAGE_SIZE, IoPageTable, PowerpcIommu } from './io-page-table.js';
export { IOMAP_MAX_ORDER, iommuRangeAlloc, IommuTable, type TceOps } from './iommu.js';
export { Lv1, LV1_ILLEGAL_PARAMETER_VALUE, LV1_SUCCESS, PS3_IOC0_IO_BASE, PS3_SB_IO_BASE, type Lv1Call } from './lv1.js';
export { createMachine, powerpcDescription, type PowerpcMachine } from './machine.js';
export { PS3_DMA_16M, PS3_DMA_1M, PS3_DMA_4K, PS3_DMA_64K, type IommuFixed, type PowerpcDeviceOptions, type PowerpcOptions } from './options.js';
export { PS3_SB_IOPTE_FLAGS, type Ps3DmaRegion } from './ps3-mm.js';
export { ps3Device, ps3Ioc0DmaOps, ps3SbDmaOps } from './ps3-system-bus.js';
export { TCE_PCI_READ, TCE_PCI_WRITE, type TceHcalls } from './pseries-iommu.js';
export { powerpcState, type PowerpcState } from './state.js';
export { VIO_CMO_BALANCE_CHUNK, VIO_CMO_MIN_ENT, VioCmo, vioCmoOf, vioDmaMappingOps, type VioDevCmo } from './vio.js';
