/**
 * The IOVA allocator (drivers/iommu/iova.c), the io-pgtable formats (io-pgtable*.c and VT-d's
 * second level) and the iommu trace parser: the part of @kdma/iommu that the core and dma-iommu
 * build on. Re-exported by src/index.ts.
 */
export { IovaDomain, type IovaCpus, type IovaDomainOptions, type IovaDomainStats, type IovaRange } from './iova.js';
export { IOVA_MAG_SIZE, IOVA_RANGE_CACHE_MAX_SIZE, MAX_GLOBAL_MAGS } from './iova-rcache.js';
export {
  allocIoPgtableOps,
  IO_PGTABLE_FMTS,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_PERMS,
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  type IoPgtableCfg,
  type IoPgtableEffectiveCfg,
  type IoPgtableFlushOps,
  type IoPgtableFmt,
  type IoPgtableMapped,
  type IoPgtableOps,
  type IoPgtableStats,
  type IoPgtableWalk,
  type PartialUnmap,
} from './io-pgtable.js';
export {
  parseIommuTrace,
  reconstructAllocations,
  replayIovaTrace,
  type IommuMapEvent,
  type IommuTraceEvent,
  type IommuUnmapEvent,
  type IovaTraceMismatch,
  type IovaTraceReplay,
  type IovaTraceReplayOptions,
  type ReconstructOptions,
  type TraceAllocation,
} from './iommu-trace.js';
