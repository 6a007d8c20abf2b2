import type { DmaDataDirection } from '@kdma/dma-attrs';
import { DMA_MAPPING_ERROR, type Device } from '@kdma/dma-mapping';
import { dmaCapable, dmaDirectAlloc, dmaDirectFree, dmaDirectGetSgtable, dmaDirectMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';

/*
 * arch/alpha/kernel/pci-noop.c: `alpha_noop_ops`, built for `CONFIG_ALPHA_JENSEN` — an EISA
 * machine with no PCI and no translation: the bus address is the physical address
 * (`virt_to_phys`), masks below 24 bits are refused, and there is nothing to unmap or sync.
 * Followed from today's kernel (where Jensen runs on dma-direct): coherent memory respects the
 * coherent mask and a buffer the device cannot reach fails to map instead of being handed out.
 */

/** `alpha_noop_map_page`: the physical address, if the device reaches it. */
export function alphaNoopMapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, _attrs: number): number {
  const paddr = pfn * dev.machine.pageSize + offset;
  if (!dmaCapable(dev, paddr, size)) return DMA_MAPPING_ERROR;
  return paddr;
}

/** `alpha_noop_map_sg`: each entry's physical address; 0 when one is out of reach. */
export function alphaNoopMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    sg.dmaAddress = alphaNoopMapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    if (sg.dmaAddress === DMA_MAPPING_ERROR) return 0;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `alpha_noop_supported`: "mask < 0x00ffffffUL ? 0 : 1". */
export function alphaNoopSupported(_dev: Device, mask: number): boolean {
  return mask >= 0x00ff_ffff;
}

/** `alpha_noop_ops`. */
export const alphaNoopOps: DmaMapOps = Object.freeze({
  name: 'alpha_noop_ops',
  alloc: dmaDirectAlloc,
  free: dmaDirectFree,
  mmap: dmaDirectMmap,
  getSgtable: dmaDirectGetSgtable,
  mapPage: alphaNoopMapPage,
  mapSg: alphaNoopMapSg,
  dmaSupported: alphaNoopSupported,
});
