import type { Device } from '@kdma/dma-mapping';
import { swiotlbDmaOps, type DmaMapOps } from '@kdma/dma-mapping/ops';
import { getDmaOffset } from './device.js';
import { dmaDirectAllocCoherent, dmaDirectFreeCoherent, dmaDirectGetSgtable, dmaDirectMmapCoherent } from './dma.js';
import { pow2 } from '@kdma/hw';

/*
 * arch/powerpc/kernel/dma-swiotlb.c (Freescale, Becky Bruce): 85xx/86xx boards with more RAM than
 * their PCI inbound window reaches (`ppc_swiotlb_enable`). Streaming mappings are lib/swiotlb.c's —
 * mapped in place when `dma_capable`, bounced through the io_tlb pool when not — but coherent
 * memory comes from `dma_direct_alloc_coherent`, i.e. lowmem, which every device reaches.
 */

/**
 * `swiotlb_powerpc_get_required`: the mask that covers RAM up to the device's
 * `max_direct_dma_addr` (the PCI window), plus its offset.
 */
export function swiotlbPowerpcGetRequired(dev: Device): number {
  let end = dev.machine.maxPhysAddress;
  const maxDirect = dev.busDmaLimit === 0 ? 0 : dev.busDmaLimit + 1;
  if (maxDirect !== 0 && end > maxDirect) end = maxDirect;
  end += getDmaOffset(dev);
  return pow2(Math.floor(Math.log2(end)) + 1) - 1;
}

/**
 * `swiotlb_dma_ops` of PowerPC: the core's 2012 swiotlb ops with `.alloc = dma_direct_alloc_coherent`,
 * `.free = dma_direct_free_coherent` and `get_required_mask = swiotlb_powerpc_get_required`. (The
 * 2012 struct had no mmap; `dma_direct_mmap_coherent` serves.)
 */
export const ppcSwiotlbDmaOps: DmaMapOps = Object.freeze({
  ...swiotlbDmaOps,
  name: 'swiotlb_dma_ops',
  alloc: dmaDirectAllocCoherent,
  free: dmaDirectFreeCoherent,
  mmap: dmaDirectMmapCoherent,
  getSgtable: dmaDirectGetSgtable,
  getRequiredMask: swiotlbPowerpcGetRequired,
});
