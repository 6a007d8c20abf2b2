/**
 * `@kdma/dma-mapping`: the consumer API (include/linux/dma-mapping.h) — what a driver may call.
 * Implementations use `@kdma/dma-mapping/ops`.
 */
export * from '@kdma/dma-attrs';
export type { DmaDebugError, DmaDebugErrorKind } from './debug/dma-debug-hooks.js';
export { Device } from './device.js';
export type { DeviceOptions } from './device-options.js';
export { DMA_MAPPING_ERROR, type DmaAllocation } from './dma-map-ops.js';
export {
  dmaAddressingLimited,
  dmaBitMask,
  dmaGetCacheAlignment,
  dmaGetMask,
  dmaGetMaxSegSize,
  dmaGetMergeBoundary,
  dmaGetMinAlignMask,
  dmaGetRequiredMask,
  dmaGetSegBoundary,
  dmaMaxMappingSize,
  dmaNeedSync,
  dmaOptMappingSize,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSetMaxSegSize,
  dmaSetMinAlignMask,
  dmaSetSegBoundary,
  dmaSupported,
} from './dma-mask.js';
export { EADDRINUSE, EAGAIN, EBUSY, EFAULT, EINVAL, EIO, ENOMEM, ENOTSUPP, ENXIO, EOPNOTSUPP, EREMOTEIO } from './errno.js';
export type { Machine } from './machine.js';
export * from './mapping.js';
