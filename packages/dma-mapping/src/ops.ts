/**
 * `@kdma/dma-mapping/ops`: the provider API (include/linux/dma-map-ops.h). It "is for
 * implementations of dma_map_ops and related code. It should not be included in drivers just
 * using the DMA API." — arch backends, swiotlb glue, IOMMU ops and the machine builder.
 */
export type { ArchCoherence, ArchDescription, ArchFacts, ArchZone, DmaDirectHooks } from './arch.js';
export { DmaCoherentMem, dmaAllocFromDevCoherent, dmaDeclareCoherentMemory, dmaMmapFromDevCoherent, dmaReleaseCoherentMemory, dmaReleaseFromDevCoherent } from './coherent.js';
export type { DmaDebug, DmaDebugError, DmaDebugErrorKind, DmaDebugHooks } from './debug/dma-debug-hooks.js';
export { devIsDmaCoherent, type DeviceDmaParameters } from './device.js';
export {
  dmaAddressingLimited as dmaDirectAddressingLimited,
  dmaCapable,
  dmaDirectAlloc,
  dmaDirectAllocPages,
  dmaDirectFree,
  dmaDirectFreePages,
  dmaDirectGetRequiredMask,
  dmaDirectGetSgtable,
  dmaDirectMapPage,
  dmaDirectMapSg,
  dmaDirectMaxMappingSize,
  dmaDirectMmap,
  dmaDirectOps,
  dmaDirectSupported,
  dmaDirectSyncSingleForCpu,
  dmaDirectSyncSingleForDevice,
  dmaDirectUnmapPage,
  dmaDirectUnmapSg,
  dmaToPhys,
  noKernelMappingCookie,
  physToDma,
} from './dma-direct.js';
export { DMA_F_CAN_SKIP_SYNC, getDmaOps, setDmaOps, type DmaMapOps } from './dma-map-ops.js';
export { dmaPgprot } from './dma-pgprot.js';
export { minNotZero } from './limits.js';
export { buildMachine, Machine, type IommuStats, type MachineIommu } from './machine.js';
export type { MachineOptions } from './machine-options.js';
export { dmaCommonGetSgtable, dmaCommonMmap, dmaCommonVaddrToPfn } from './ops-helpers.js';
export { dmaCommonContiguousRemap, dmaCommonFreeRemap, dmaCommonPagesRemap } from './remap.js';
export type { SwiotlbBackend, SwiotlbStats } from './swiotlb-backend.js';
export { DeviceIoTlb, devIoTlb, MachineSwiotlb, type SwiotlbAllocator } from './swiotlb.js';
export { swiotlbDeviceInit, swiotlbInit } from './swiotlb-init.js';
export {
  IO_TLB_OVERFLOW,
  swiotlbAllocCoherent,
  swiotlbDmaMappingError,
  swiotlbDmaOps,
  swiotlbDmaSupported,
  swiotlbFreeCoherent,
  swiotlbMapPage,
  swiotlbMapSg,
  swiotlbUnmapPage,
  swiotlbUnmapSg,
} from './swiotlb-dma-ops.js';
