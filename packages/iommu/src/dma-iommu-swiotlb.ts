import { DMA_ATTR_SKIP_CPU_SYNC, DMA_BIDIRECTIONAL, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { alignUp } from '@kdma/hw';
import { DMA_MAPPING_ERROR, EIO, type Device } from '@kdma/dma-mapping';
import type { Scatterlist } from '@kdma/scatterlist';
import { dmaDomain, iommuDmaMapPage, iommuDmaUnmapPage, type IommuDmaCookie } from './dma-iommu.js';

/*
 * Untrusted devices (dma-iommu.c, v5.16+): a device behind an external port (`dev->untrusted`)
 * must not reach data that happens to share an IOMMU granule with its buffer, so a buffer that
 * does not fill whole granules is bounced through a granule-aligned swiotlb slot whose padding is
 * zeroed, and only that slot is mapped.
 */

/** `dev_use_swiotlb`: an untrusted device bounces what it must not see around. */
export function devUseSwiotlb(dev: Device): boolean {
  return dev.untrusted;
}

/**
 * The bounce of `iommu_dma_map_page`: `phys` copied into a granule-aligned slot (padding zeroed);
 * returns the slot's physical address, or `DMA_MAPPING_ERROR`.
 */
export function iommuDmaBounceMap(dev: Device, phys: number, size: number, granule: number, dir: DmaDataDirection, attrs: number): number {
  const { machine } = dev;
  const swiotlb = machine.swiotlb;
  if (swiotlb === null || !swiotlb.isActive(dev)) {
    machine.warnOnce(dev, 'iommu-dma-bounce-inactive', 'DMA bounce buffers are inactive, unable to map unaligned transaction.');
    return DMA_MAPPING_ERROR;
  }
  const tlb = swiotlb.tblMapSingle(dev, phys, size, granule - 1, dir, attrs);
  if (tlb === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  // Clean up the padding: the rest of the granules the device will be able to reach.
  if (tlb % granule === 0) {
    const aligned = alignUp(size, granule);
    let start = tlb;
    let length = aligned;
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL)) {
      start += size;
      length -= size;
    }
    if (length > 0) machine.cpu.fill(machine.mm.physToVirt(start), length, 0);
  }
  return tlb;
}

function cookie(dev: Device): IommuDmaCookie {
  return dmaDomain(dev).dmaCookie as IommuDmaCookie;
}

/** `sg_dma_is_swiotlb`: the list was mapped entry by entry through swiotlb. */
export function iommuDmaIsBounced(dev: Device, first: Scatterlist): boolean {
  return dev.untrusted && cookie(dev).swiotlbSg.has(first);
}

/** `iommu_dma_map_sg_swiotlb`: no merging; each entry is a `map_page` of its own. */
export function iommuDmaMapSgSwiotlb(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    s.dmaAddress = iommuDmaMapPage(dev, s.pfn, s.offset, s.length, dir, attrs);
    if (s.dmaAddress === DMA_MAPPING_ERROR) {
      for (let j = 0; j < i; j++) {
        const done = sgl[j] as Scatterlist;
        iommuDmaUnmapPage(dev, done.dmaAddress, done.dmaLength, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      }
      return -EIO;
    }
    s.dmaLength = s.length;
  }
  const first = sgl[0];
  if (first !== undefined) cookie(dev).swiotlbSg.add(first);
  return nents;
}

/** `iommu_dma_unmap_sg_swiotlb`. */
export function iommuDmaUnmapSgSwiotlb(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    iommuDmaUnmapPage(dev, s.dmaAddress, s.dmaLength, dir, attrs);
  }
  const first = sgl[0];
  if (first !== undefined) cookie(dev).swiotlbSg.delete(first);
}
