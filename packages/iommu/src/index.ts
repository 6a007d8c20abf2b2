/**
 * `@kdma/iommu`: drivers/iommu — the IOVA allocator and io-pgtable formats (index-iova), the IOMMU
 * core (domains, groups, map/unmap, IOTLB, faults), the generic IOMMU-backed DMA ops
 * (`iommu_dma_ops`) and the hooks arch packages use to put devices behind their IOMMU models.
 */
export * from './index-iova.js';
export { EEXIST, ENODEV, ENOSYS, ERANGE } from './errno.js';
export { Iotlb } from './iotlb.js';
export {
  bitmapClear,
  bitmapFindNextZeroArea,
  bitmapSet,
  dmaGetSegBoundaryNrPages,
  iommuAreaAlloc,
  iommuIsSpanBoundary,
  iommuNumPages,
} from './iommu-helper.js';
export { iommuPgsize, pgsizeBitmapOf, pgsizeList, type PgsizeChoice } from './iommu-pgsize.js';
export {
  IommuDevice,
  iommuDeviceRegister,
  iommuOf,
  type IommuCounters,
  type IommuDriver,
  type IommuFaultInfo,
  type IommuResvRegion,
  type IommuResvType,
} from './iommu-device.js';
export {
  DevIommu,
  devIommu,
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  iommuAttachDevice,
  iommuAttachGroup,
  iommuDetachDevice,
  iommuDetachGroup,
  iommuDomainAlloc,
  iommuDomainFree,
  IommuDomain,
  iommuFlushIotlbAll,
  iommuGetDmaDomain,
  iommuGetDomainForDev,
  IommuGroup,
  iommuGroupAddDevice,
  iommuGroupGet,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuMapSg,
  iommuSetFaultHandler,
  IommuTranslation,
  iommuUnmap,
  iommuUnmapFast,
  reportIommuFault,
  type IommuDomainGeometry,
  type IommuDomainType,
  type IommuFaultHandler,
  type IommuIotlbGather,
} from './iommu.js';
export { IOVA_DEFAULT_FQ_SIZE, IOVA_DEFAULT_FQ_TIMEOUT, IommuDmaFlushQueue } from './dma-iommu-fq.js';
export {
  dmaInfoToProt,
  IOVA_RCACHE_RANGE,
  IommuDmaCookie,
  iommuDmaAllocIova,
  iommuDmaFlushQueueDrain,
  iommuDmaInitDomain,
  iommuDmaOps,
} from './dma-iommu.js';
export type { IommuDmaBuffer } from './dma-iommu-alloc.js';
export { IOMMU_OPTION_NAMES, iommuProbeDevice, iommuSetupMachine, type IommuMachineOptions } from './iommu-probe.js';
