/** `@kdma/arch-microblaze`: arch/microblaze's DMA mapping on the kdma machine. */
export { arch, KERNEL_BASE_ADDR } from './arch.js';
export { flushDcacheRange, invalidateDcacheRange } from './cacheflush.js';
export { dmaSync, microblazeDirectHooks, uncachedShadowSize } from './dma-mapping.js';
export { createMachine, microblazeDescription } from './machine.js';
