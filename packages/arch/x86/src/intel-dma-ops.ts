import type { DmaDataDirection } from '@kdma/dma-attrs';
import { DMA_MAPPING_ERROR, ENXIO, type Device } from '@kdma/dma-mapping';
import { dmaDirectGetRequiredMask, getDmaOps, setDmaOps, type DmaMapOps } from '@kdma/dma-mapping/ops';
import {
  devIommu,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_DOMAIN_IDENTITY,
  iommuAttachGroup,
  iommuDmaInitDomain,
  iommuDmaOps,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuOf,
} from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { pciSlot } from './intel-iommu.js';

/*
 * VT-d's per-device choice under `iommu=pt` (drivers/iommu/intel-iommu.c, `iommu_no_mapping` and
 * `iommu_should_identity_map`): every device starts in the identity domain (`si_domain`), where a
 * mapping is the physical address. A device whose DMA mask cannot cover memory is moved to a DMA
 * domain of its own the first time it maps or allocates — "32bit %s uses non-identity mapping" —
 * and from then on gets IOVA, below its mask, like any translated device. Until then its ops are
 * `intel_dma_ops` taking the identity path; after, today's `iommu_dma_ops`.
 */

/** `iommu_should_identity_map(pdev, 0)`: the smaller of the two masks covers all of RAM. */
function shouldIdentityMap(dev: Device): boolean {
  let mask = dev.dmaMask;
  if (dev.coherentDmaMask !== 0 && dev.coherentDmaMask < mask) mask = dev.coherentDmaMask;
  return mask >= dmaDirectGetRequiredMask(dev);
}

/**
 * `iommu_no_mapping` at a map or an allocation: true while the device may stay identity-mapped;
 * otherwise it leaves `si_domain` for a DMA domain and `iommu_dma_ops`.
 */
export function iommuNoMapping(dev: Device): boolean {
  if (shouldIdentityMap(dev)) return true;
  const state = devIommu(dev);
  const iommu = iommuOf(dev.machine);
  if (state === null || iommu === null) return true;
  const group = state.group;
  const identity = group.defaultDomain;
  if (identity === null || identity.type !== IOMMU_DOMAIN_IDENTITY || group.domain !== identity) return true;
  const lazy = !dev.machine.iommuStrict && iommu.driver.deferredFlush !== false;
  const domain = iommuDomainAlloc(dev.machine, lazy ? IOMMU_DOMAIN_DMA_FQ : IOMMU_DOMAIN_DMA);
  if (domain === null) return true;
  iommuDmaInitDomain(dev.machine, domain);
  iommuAttachGroup(domain, group);
  group.defaultDomain = domain;
  iommuDomainFree(identity);
  setDmaOps(dev, iommuDmaOps);
  dev.machine.printk('info', null, `32bit 0000:${pciSlot(state.translation.index)} uses non-identity mapping`);
  return false;
}

/** The ops the device has now (identity: dma-direct; moved: iommu_dma_ops). */
function current(dev: Device): DmaMapOps {
  const ops = getDmaOps(dev);
  return ops === intelDmaOps ? dev.machine.directOps : ops;
}

/** The identity path's entry points: the check first, then whichever ops the device has now. */
function mapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  iommuNoMapping(dev);
  return current(dev).mapPage?.(dev, pfn, offset, size, dir, attrs) ?? DMA_MAPPING_ERROR;
}

function mapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  iommuNoMapping(dev);
  return current(dev).mapSg?.(dev, sgl, nents, dir, attrs) ?? 0;
}

function alloc(dev: Device, size: number, gfp: number, attrs: number): { cpuAddr: number; dmaHandle: number } | null {
  iommuNoMapping(dev);
  return current(dev).alloc?.(dev, size, gfp, attrs) ?? null;
}

/**
 * `intel_dma_ops` for a device in `si_domain`: dma-direct's behaviour, and the move to a DMA
 * domain when its mask turns out too small for the machine.
 */
export const intelDmaOps: DmaMapOps = Object.freeze<DmaMapOps>({
  name: 'intel_dma_ops',
  alloc,
  free: (dev, size, cpuAddr, dmaHandle, attrs) => current(dev).free?.(dev, size, cpuAddr, dmaHandle, attrs),
  mmap: (dev, vma, cpuAddr, dmaHandle, size, attrs) => current(dev).mmap?.(dev, vma, cpuAddr, dmaHandle, size, attrs) ?? -ENXIO,
  getSgtable: (dev, cpuAddr, dmaHandle, size, attrs) => current(dev).getSgtable?.(dev, cpuAddr, dmaHandle, size, attrs) ?? -ENXIO,
  mapPage,
  unmapPage: (dev, addr, size, dir, attrs) => current(dev).unmapPage?.(dev, addr, size, dir, attrs),
  mapSg,
  unmapSg: (dev, sgl, nents, dir, attrs) => current(dev).unmapSg?.(dev, sgl, nents, dir, attrs),
  syncSingleForCpu: (dev, addr, size, dir) => current(dev).syncSingleForCpu?.(dev, addr, size, dir),
  syncSingleForDevice: (dev, addr, size, dir) => current(dev).syncSingleForDevice?.(dev, addr, size, dir),
  syncSgForCpu: (dev, sgl, nents, dir) => current(dev).syncSgForCpu?.(dev, sgl, nents, dir),
  syncSgForDevice: (dev, sgl, nents, dir) => current(dev).syncSgForDevice?.(dev, sgl, nents, dir),
  dmaSupported: (dev, mask) => current(dev).dmaSupported?.(dev, mask) ?? true,
  getRequiredMask: (dev) => dmaDirectGetRequiredMask(dev),
  maxMappingSize: (dev) => current(dev).maxMappingSize?.(dev) ?? Number.MAX_SAFE_INTEGER,
});
