// @kdma/swiotlb: the software IO TLB of kernel/dma/swiotlb.c — the io_tlb bounce-buffer pool.
export {
  IO_TLB_SHIFT,
  IO_TLB_SIZE,
  IO_TLB_SEGSIZE,
  IO_TLB_DEFAULT_SIZE,
  IO_TLB_MIN_SLABS,
  IO_TLB_SEGMENT_BYTES,
  INVALID_PHYS_ADDR,
  SWIOTLB_MAP_ERROR,
  nrSlots,
} from './io-tlb.js';
export { IoTlbPool } from './io-tlb-pool.js';
export { IoTlbMem, limitNareas, swiotlbAllocPool, swiotlbFreePool } from './io-tlb-mem.js';
export type { IoTlbMemConfig, SwiotlbMemStats } from './io-tlb-mem.js';
export { swiotlbInit, swiotlbInitRestricted } from './swiotlb-init.js';
export type { SwiotlbInitOptions, SwiotlbRestrictedOptions } from './swiotlb-init.js';
export { swiotlbAlignOffset, swiotlbFindSlots, swiotlbReleaseSlots, swiotlbSearchPoolArea } from './slots.js';
export { swiotlbBounce } from './bounce.js';
export {
  isSwiotlbActive,
  isSwiotlbBuffer,
  isSwiotlbForAlloc,
  isSwiotlbForceBounce,
  swiotlbAlloc,
  swiotlbFindPool,
  swiotlbFree,
  swiotlbMaxMappingSize,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
} from './map.js';
export { allocPoolPages, freePoolPages, zoneGfpFor } from './pool-memory.js';
export type { PoolPages } from './pool-memory.js';
export { swiotlbDevice } from './types.js';
export type { SwiotlbDevice, SwiotlbHardware, SwiotlbMm, SwiotlbZones } from './types.js';
