/** `@kdma/arch-arm`: arch/arm's DMA mapping on the kdma machine. */
export { arch, PHYS_OFFSET } from './arch.js';
export { dmacMapArea, dmacUnmapArea, v7DmaCleanRange, v7DmaFlushRange, v7DmaInvRange } from './cache-maintenance.js';
export { armDirectHooks, pgprotDmacoherent } from './dma-mapping.js';
export { armDescription, createMachine } from './machine.js';
export type { ArmOptions } from './options.js';
export { ARM_SMMU_DEV_NAME, armSmmuDriver, armSmmuFaultMessage } from './arm-smmu.js';
export {
  ARM_DMA_IOMMU_ALIGNMENT,
  armCoherentIommuOps,
  armIommuAllocIova,
  armIommuAttachDevice,
  armIommuCreateMapping,
  armIommuDetachDevice,
  armIommuFreeIova,
  armIommuIovaToPhys,
  armIommuOps,
  armIommuReleaseMapping,
  DmaIommuMapping,
} from './dma-mapping-iommu.js';
