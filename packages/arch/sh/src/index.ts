/** `@kdma/arch-sh`: arch/sh's DMA mapping on the kdma machine. */
export { arch, MEMORY_SIZE, MEMORY_START, SH_PLATFORM_NAMES, SH_PLATFORMS, shFacts, type ShPlatform } from './arch.js';
export { p2SegAddr, p2WindowSize } from './addrspace.js';
export { flushInvalidateRegion, flushPurgeRegion, flushWbackRegion } from './cacheflush.js';
export { dmaCacheSync, dmaCacheSyncPhys } from './consistent.js';
export { nommuDmaOps, shDirectHooks } from './dma-nommu.js';
export { createMachine, shDescription } from './machine.js';
