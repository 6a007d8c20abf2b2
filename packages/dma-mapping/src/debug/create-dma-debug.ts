import type { Machine } from '../machine.js';
import { DmaApiDebug } from './dma-debug.js';
import type { DmaDebug } from './dma-debug-hooks.js';

/**
 * `dma_debug_init` for one machine (`createMachine({ dmaDebug: true })`): the hash, the
 * active-cacheline tracking and the ownership sanitizer, subscribed to the machine's accesses.
 */
export function createDmaDebug(machine: Machine): DmaDebug {
  return new DmaApiDebug(machine);
}
