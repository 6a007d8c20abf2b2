import type { Pgprot } from '@kdma/mm';
import type { Device } from './device.js';

/**
 * `dma_pgprot` (kernel/dma/mapping.c): coherent devices keep the cached protection; for the
 * others the arch picks write-combine or `pgprot_dmacoherent`. The kernel remap and the user
 * mapping both come from here so the two aliases never disagree.
 */
export function dmaPgprot(dev: Device, prot: Pgprot, attrs: number): Pgprot {
  if (dev.dmaCoherent) return prot;
  return dev.machine.directHooks.coherentPgprot(attrs, prot);
}
