import type { DmaDirectHooks, Machine } from '@kdma/dma-mapping/ops';
import { arch } from './arch.js';

/**
 * x86's dma-direct hooks: none do anything, because every device snoops the caches
 * (`dev_is_dma_coherent` is constant true; the sync hooks are empty inlines).
 */
export function x86DirectHooks(_machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: arch.honouredAttrs,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  };
}
