import {
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { addrMod, alignUp, bitMask, hex } from '@kdma/hw';
import { DMA_MAPPING_ERROR, EINVAL, ENOMEM, type Device, type Machine } from '@kdma/dma-mapping';
import { DMA_F_CAN_SKIP_SYNC, minNotZero, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { IommuDmaFlushQueue } from './dma-iommu-fq.js';
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './io-pgtable.js';
import { IovaDomain } from './iova.js';
import type { DevIommu } from './iommu.js';
import {
  devIommu,
  IOMMU_DOMAIN_DMA_FQ,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  mapRange,
  unmapRange,
  type IommuDomain,
  type IommuIotlbGather,
} from './iommu.js';
import {
  iommuDmaAlloc,
  iommuDmaAllocNoncontiguous,
  iommuDmaAllocPages,
  iommuDmaFree,
  iommuDmaFreeNoncontiguous,
  iommuDmaFreePages,
  iommuDmaGetSgtable,
  iommuDmaMmap,
} from './dma-iommu-alloc.js';
import { iommuDmaBounceMap, iommuDmaIsBounced, iommuDmaMapSgSwiotlb, iommuDmaUnmapSgSwiotlb, devUseSwiotlb } from './dma-iommu-swiotlb.js';

/*
 * dma-iommu (drivers/iommu/dma-iommu.c): the generic dma_map_ops of every device behind an IOMMU
 * with a DMA domain. Each mapping gets IOVA from the domain's `IovaDomain` (below the device's
 * mask, 32-bit first for PCI devices), then page-table entries with `IOMMU_READ`/`IOMMU_WRITE`
 * from the direction; physically scattered memory becomes one contiguous range of bus addresses.
 */

/** `iova_rcache_range()`: the largest mapping the per-CPU IOVA caches serve (128 KiB). */
export const IOVA_RCACHE_RANGE = 4096 * 2 ** 5;

/** `struct iommu_dma_cookie`: the IOVA allocator and flush queue of a DMA domain. */
export class IommuDmaCookie {
  readonly iovad: IovaDomain;
  /** The flush queue of a lazy (`IOMMU_DOMAIN_DMA_FQ`) domain, else null. */
  readonly fq: IommuDmaFlushQueue | null;
  readonly granule: number;
  /** Reused by every unmap (no allocation on the hot path). */
  readonly gather: IommuIotlbGather = iommuIotlbGatherInit();
  /** Scatterlists mapped entry by entry through swiotlb (`sg_dma_mark_swiotlb`). */
  readonly swiotlbSg = new WeakSet<Scatterlist>();

  constructor(machine: Machine, domain: IommuDomain) {
    const granule = domain.granule;
    this.granule = granule;
    // base_pfn = 1: IOVA 0 is never handed out.
    const basePfn = Math.max(1, Math.ceil(domain.geometry.apertureStart / granule));
    const hw = machine.hw;
    this.iovad = new IovaDomain(granule, basePfn, { cpus: { count: hw.cpus.length, current: () => hw.currentCpu.id } });
    // iova_reserve_iommu_regions: the driver's reserved windows never become DMA addresses.
    for (const region of domain.iommu.driver.reservedRegions ?? []) {
      if (region.type === 'sw-msi') continue;
      const lo = Math.floor(region.start / granule);
      const hi = Math.floor((region.start + region.length - 1) / granule);
      this.iovad.reserveIova(lo, hi);
    }
    this.fq = domain.type === IOMMU_DOMAIN_DMA_FQ ? new IommuDmaFlushQueue(machine, domain, this.iovad) : null;
  }

  /** Called by `iommuDomainFree`. */
  destroy(): void {
    this.fq?.destroy();
  }
}

/**
 * `iommu_dma_init_domain` (+ `iommu_dma_init_fq`): gives a DMA domain its cookie; a lazy domain
 * gets a flush queue.
 */
export function iommuDmaInitDomain(machine: Machine, domain: IommuDomain): IommuDmaCookie {
  const cookie = new IommuDmaCookie(machine, domain);
  domain.dmaCookie = cookie;
  return cookie;
}

/**
 * Drains a lazy DMA domain's flush queue now (what its 10 ms timer does): one IOTLB invalidation,
 * then every queued IOVA is free again. Nothing to do for a strict domain.
 */
export function iommuDmaFlushQueueDrain(domain: IommuDomain): void {
  if (domain.dmaCookie instanceof IommuDmaCookie) domain.dmaCookie.fq?.drain();
}

/** The DMA domain of a device using iommu_dma_ops (its group's default domain, with a cookie). */
export function dmaDomain(dev: Device): IommuDomain {
  // iommu_probe_device is the one writer of dev.iommu (a DevIommu, or null): a field read, not
  // an instanceof walk, on every map and unmap; anything else there still ends in the error.
  const domain = (dev.iommu as DevIommu | null)?.group?.defaultDomain;
  if (domain !== null && domain !== undefined && domain.dmaCookie !== null) return domain;
  throw new Error(`${dev.name} uses iommu_dma_ops but has no IOMMU DMA domain`);
}

function cookieOf(domain: IommuDomain): IommuDmaCookie {
  return domain.dmaCookie as IommuDmaCookie;
}

/** `dma_get_mask`. */
function dmaGetMask(dev: Device): number {
  return dev.dmaMask !== 0 ? dev.dmaMask : bitMask(32);
}

/**
 * `dma_info_to_prot`: the PTE permissions of a mapping — read for TO_DEVICE, write for
 * FROM_DEVICE, both for BIDIRECTIONAL (nothing for DMA_NONE) — plus `IOMMU_CACHE` for a coherent
 * device and `IOMMU_PRIV` for `DMA_ATTR_PRIVILEGED`.
 */
export function dmaInfoToProt(dir: DmaDataDirection, coherent: boolean, attrs: number): number {
  let prot = coherent ? IOMMU_CACHE : 0;
  if ((attrs & DMA_ATTR_PRIVILEGED) !== 0) prot |= IOMMU_PRIV;
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      return prot | IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE:
      return prot | IOMMU_READ;
    case DMA_FROM_DEVICE:
      return prot | IOMMU_WRITE;
    default:
      return 0;
  }
}

/** `bits_per`. */
function bitsPer(value: number): number {
  return value <= 0 ? 1 : Math.floor(Math.log2(value)) + 1;
}

/**
 * `iommu_dma_alloc_iova`: `size` bytes (granule multiple) of IOVA below the device's limit; a PCI
 * device tries below 4 GiB first and, once that fails, uses its whole mask from then on ("Using
 * %d-bit DMA addresses"). Returns the IOVA, 0 on failure.
 */
export function iommuDmaAllocIova(domain: IommuDomain, dev: Device, size: number, dmaLimit: number): number {
  const cookie = cookieOf(domain);
  const g = cookie.granule;
  const iovaLen = size / g;
  let limit = minNotZero(dmaLimit, dev.busDmaLimit);
  if (domain.geometry.forceAperture) limit = Math.min(limit, domain.geometry.apertureEnd);
  const mask32 = 2 ** 32 - 1;
  const state = limit > mask32 ? devIommu(dev) : null;
  if (state !== null && state.pci32bitWorkaround) {
    const pfn = cookie.iovad.allocIovaFast(iovaLen, Math.floor(mask32 / g), false);
    if (pfn !== 0) return pfn * g;
    state.pci32bitWorkaround = false;
    dev.machine.printk('info', dev, `Using ${bitsPer(limit)}-bit DMA addresses`);
  }
  const pfn = cookie.iovad.allocIovaFast(iovaLen, Math.floor(limit / g));
  return pfn * g;
}

/** `iommu_dma_free_iova`: now (strict), or through the flush queue when the unmap was queued. */
export function iommuDmaFreeIova(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather | null): void {
  const cookie = cookieOf(domain);
  const g = cookie.granule;
  if (gather !== null && gather.queued && cookie.fq !== null) cookie.fq.queueIova(iova / g, size / g);
  else cookie.iovad.freeIovaFast(iova / g, size / g);
}

/**
 * `__iommu_dma_map`: IOVA for `[phys, phys + size)` rounded out to granules, mapped with `prot`;
 * returns the IOVA plus the sub-granule offset of `phys`, or `DMA_MAPPING_ERROR`.
 */
export function iommuDmaMapPhys(dev: Device, phys: number, size: number, prot: number, dmaMask: number): number {
  return mapPhysIn(dmaDomain(dev), dev, phys, size, prot, dmaMask);
}

function mapPhysIn(domain: IommuDomain, dev: Device, phys: number, size: number, prot: number, dmaMask: number): number {
  const g = domain.granule;
  if (dev.dmaParms.minAlignMask > g - 1) {
    dev.machine.warnOnce(dev, 'iommu-dma-min-align', 'Unsupported alignment constraint');
    return DMA_MAPPING_ERROR;
  }
  const iovaOff = addrMod(phys, g);
  const len = alignUp(size + iovaOff, g);
  const iova = iommuDmaAllocIova(domain, dev, len, dmaMask);
  if (iova === 0) return DMA_MAPPING_ERROR;
  if (mapRange(domain, iova, phys - iovaOff, len, prot) !== 0) {
    iommuDmaFreeIova(domain, iova, len, null);
    return DMA_MAPPING_ERROR;
  }
  return iova + iovaOff;
}

/**
 * `__iommu_dma_unmap`: removes the PTEs of `[addr, addr + size)` (granule-rounded); strict: the
 * IOTLB is invalidated and the IOVA freed now; lazy: both wait in the flush queue.
 */
export function iommuDmaUnmapRange(dev: Device, addr: number, size: number): void {
  unmapRangeIn(dmaDomain(dev), dev, addr, size);
}

function unmapRangeIn(domain: IommuDomain, dev: Device, addr: number, size: number): void {
  const cookie = cookieOf(domain);
  const g = cookie.granule;
  const iovaOff = addrMod(addr, g);
  const start = addr - iovaOff;
  const len = alignUp(size + iovaOff, g);
  const gather = cookie.gather;
  gather.start = Number.MAX_SAFE_INTEGER;
  gather.end = 0;
  gather.queued = cookie.fq !== null;
  const unmapped = unmapRange(domain, start, len, gather);
  if (unmapped !== len) {
    dev.machine.warnOnce(dev, 'iommu-dma-unmap', `WARNING: __iommu_dma_unmap: unmapped ${unmapped} of ${len} bytes at ${hex(start)}`);
  }
  if (!gather.queued) iommuIotlbSync(domain, gather);
  // The kernel frees the IOVA regardless; a model that keeps running after a double unmap must
  // not hand the same IOVA out twice, so nothing is freed when nothing was mapped.
  if (unmapped > 0) iommuDmaFreeIova(domain, start, len, gather);
}

/**
 * Cleans/invalidates each physically contiguous mapped run of `[iova, iova + size)` for the CPU
 * (`forCpu`) or the device, by software walk; unmapped granules are skipped. `phys` and `runLen`
 * are the walk of `iova` the caller already made. The kernel assumes a streaming mapping is one
 * physical run (`iommu_iova_to_phys` of its start); walking keeps a wrong size from touching
 * memory outside the mapping. Allocates nothing; a range inside the first run needs no more walks.
 */
function syncPhysRuns(dev: Device, domain: IommuDomain, iova: number, size: number, dir: DmaDataDirection, forCpu: boolean, phys: number, runLen: number): void {
  const hooks = dev.machine.directHooks;
  if (size <= runLen) {
    if (size <= 0) return;
    if (forCpu) hooks.syncForCpu(phys, size, dir);
    else hooks.syncForDevice(phys, size, dir);
    return;
  }
  const g = domain.granule;
  let at = iova;
  const end = iova + size;
  let pa = phys;
  let len = runLen;
  while (at < end) {
    if (at !== iova) {
      pa = domain.walk(at);
      len = domain.lastWalkLength;
    }
    if (pa < 0) {
      at = (Math.floor(at / g) + 1) * g;
      continue;
    }
    const n = Math.min(end - at, len);
    if (forCpu) hooks.syncForCpu(pa, n, dir);
    else hooks.syncForDevice(pa, n, dir);
    at += n;
  }
}

/** `iommu_dma_sync_single_for_cpu` with the walk of `addr` done (`phys` ≥ 0, its run `runLen`). */
function syncSingleForCpuAt(dev: Device, domain: IommuDomain, addr: number, size: number, dir: DmaDataDirection, phys: number, runLen: number): void {
  if (!dev.dmaCoherent) syncPhysRuns(dev, domain, addr, size, dir, true, phys, runLen);
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.syncForCpu(dev, phys, size, dir);
}

/** `iommu_dma_sync_single_for_cpu`. */
export function iommuDmaSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const bounced = devUseSwiotlb(dev);
  if (dev.dmaCoherent && !bounced) return;
  const domain = dmaDomain(dev);
  const phys = domain.walk(addr);
  if (phys < 0) return;
  syncSingleForCpuAt(dev, domain, addr, size, dir, phys, domain.lastWalkLength);
}

/** `iommu_dma_sync_single_for_device`. */
export function iommuDmaSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const bounced = devUseSwiotlb(dev);
  if (dev.dmaCoherent && !bounced) return;
  const domain = dmaDomain(dev);
  const phys = domain.walk(addr);
  if (phys < 0) return;
  const runLen = domain.lastWalkLength;
  const swiotlb = dev.machine.swiotlb;
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.syncForDevice(dev, phys, size, dir);
  if (!dev.dmaCoherent) syncPhysRuns(dev, domain, addr, size, dir, false, phys, runLen);
}

function sgPhys(dev: Device, sg: Scatterlist): number {
  return sg.pfn * dev.machine.pageSize + sg.offset;
}

/** `iommu_dma_sync_sg_for_cpu`: by the CPU-side addresses, entry by entry. */
export function iommuDmaSyncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  const first = sgl[0];
  if (first !== undefined && iommuDmaIsBounced(dev, first)) {
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i] as Scatterlist;
      iommuDmaSyncSingleForCpu(dev, sg.dmaAddress, sg.length, dir);
    }
  } else if (!dev.dmaCoherent) {
    const hooks = dev.machine.directHooks;
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i] as Scatterlist;
      hooks.syncForCpu(sgPhys(dev, sg), sg.length, dir);
    }
  }
}

/** `iommu_dma_sync_sg_for_device`. */
export function iommuDmaSyncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection): void {
  const first = sgl[0];
  if (first !== undefined && iommuDmaIsBounced(dev, first)) {
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i] as Scatterlist;
      iommuDmaSyncSingleForDevice(dev, sg.dmaAddress, sg.length, dir);
    }
  } else if (!dev.dmaCoherent) {
    const hooks = dev.machine.directHooks;
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i] as Scatterlist;
      hooks.syncForDevice(sgPhys(dev, sg), sg.length, dir);
    }
  }
}

/**
 * `iommu_dma_map_page`: keeps the sub-granule offset (the bus address has the same low bits as
 * the physical one); an untrusted device's buffer that does not fill its granules is bounced
 * through swiotlb first, so the device sees no neighbouring data.
 */
export function iommuDmaMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  let phys = pfn * dev.machine.pageSize + offset;
  const coherent = dev.dmaCoherent;
  const prot = dmaInfoToProt(dir, coherent, attrs);
  const domain = dmaDomain(dev);
  const g = domain.granule;
  let bounced = false;
  if (devUseSwiotlb(dev) && (addrMod(phys, g) !== 0 || addrMod(size, g) !== 0)) {
    phys = iommuDmaBounceMap(dev, phys, size, g, dir, attrs);
    if (phys === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
    bounced = true;
  }
  if (!coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) dev.machine.directHooks.syncForDevice(phys, size, dir);
  const iova = mapPhysIn(domain, dev, phys, size, prot, dmaGetMask(dev));
  if (iova === DMA_MAPPING_ERROR && bounced) dev.machine.swiotlb?.unmap(dev, phys, size, dir, attrs);
  return iova;
}

/**
 * `iommu_dma_unmap_page`. The kernel looks the physical address up first (WARN when there is
 * none); it is needed for the CPU sync and the swiotlb check, so a coherent device that never
 * bounces skips the walk — an unmap of nothing is still reported, by `__iommu_dma_unmap`.
 */
export function iommuDmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const domain = dmaDomain(dev);
  const bounces = devUseSwiotlb(dev);
  let phys = -1;
  if (!dev.dmaCoherent || bounces) {
    phys = domain.walk(addr);
    if (phys < 0) {
      dev.machine.printk('warn', dev, `WARNING: iommu_dma_unmap_page: ${hex(addr)} is not mapped`);
      return;
    }
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) syncSingleForCpuAt(dev, domain, addr, size, dir, phys, domain.lastWalkLength);
  }
  unmapRangeIn(domain, dev, addr, size);
  const swiotlb = dev.machine.swiotlb;
  if (bounces && swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.unmap(dev, phys, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
}

/**
 * `__finalise_sg`: after the whole list was mapped at `dmaAddr`, restores each entry's offset and
 * length and writes the DMA segments: an entry joins the previous segment when that one is open,
 * the entry starts on a granule, the join point is not on a segment boundary and the result stays
 * within the max segment size; an entry that does not end on a granule closes its segment.
 * Returns the number of DMA segments.
 */
function finaliseSg(dev: Device, sgl: Scatterlist[], nents: number, dmaAddr: number): number {
  const segMask = dev.dmaParms.segmentBoundaryMask;
  const boundary = segMask + 1;
  const maxLen = dev.dmaParms.maxSegmentSize;
  let cur = 0;
  let curLen = 0;
  let count = 0;
  let addr = dmaAddr;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    // Restore this segment's original unaligned fields first.
    const sIovaOff = s.dmaAddress;
    const sLength = s.dmaLength;
    const sIovaLen = s.length;
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
    s.offset += sIovaOff;
    s.length = sLength;
    if (curLen !== 0 && sIovaOff === 0 && addrMod(addr, boundary) !== 0 && maxLen - curLen >= sLength) {
      curLen += sLength;
    } else {
      if (i > 0) cur++;
      curLen = sLength;
      count++;
      (sgl[cur] as Scatterlist).dmaAddress = addr + sIovaOff;
    }
    (sgl[cur] as Scatterlist).dmaLength = curLen;
    addr += sIovaLen;
    if (sLength + sIovaOff < sIovaLen) curLen = 0;
  }
  return count;
}

/** `__invalidate_sg`: undoes the in-place layout after a failure. */
function invalidateSg(sgl: Scatterlist[], nents: number): void {
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaAddress !== DMA_MAPPING_ERROR) s.offset += s.dmaAddress;
    if (s.dmaLength !== 0) s.length = s.dmaLength;
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
  }
}

/**
 * `iommu_dma_map_sg`: one IOVA allocation for the whole list. Each entry is widened to whole
 * granules in place, padded where a segment would otherwise straddle the device's segment
 * boundary, the list mapped back to back (physically contiguous neighbours in one `iommu_map`),
 * and `__finalise_sg` merges what the device may see as one segment. Returns the DMA segment
 * count, or -ENOMEM (no IOVA) / -EINVAL.
 */
export function iommuDmaMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  if (devUseSwiotlb(dev)) return iommuDmaMapSgSwiotlb(dev, sgl, nents, dir, attrs);
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) iommuDmaSyncSgForDevice(dev, sgl, nents, dir);
  const domain = dmaDomain(dev);
  const g = domain.granule;
  const prot = dmaInfoToProt(dir, dev.dmaCoherent, attrs);
  const boundary = dev.dmaParms.segmentBoundaryMask + 1;
  let iovaLen = 0;
  let prev: Scatterlist | null = null;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    const sIovaOff = s.offset % g;
    const origLength = s.length;
    s.dmaAddress = sIovaOff;
    s.dmaLength = origLength;
    s.offset -= sIovaOff;
    const sLength = alignUp(origLength + sIovaOff, g);
    s.length = sLength;
    // Pad so that a segment which would straddle the boundary starts exactly on it (the single
    // size-aligned IOVA allocation starts on a boundary whenever the boundary is smaller).
    const padLen = addrMod(boundary - addrMod(iovaLen, boundary), boundary);
    if (padLen !== 0 && padLen < sLength - 1 && prev !== null) {
      prev.length += padLen;
      iovaLen += padLen;
    }
    iovaLen += sLength;
    prev = s;
  }
  const iova = iommuDmaAllocIova(domain, dev, iovaLen, dmaGetMask(dev));
  if (iova === 0) {
    invalidateSg(sgl, nents);
    return -ENOMEM;
  }
  // iommu_map_sg: physically contiguous neighbours in one map.
  const pageSize = dev.machine.pageSize;
  let mapped = 0;
  let start = 0;
  let len = 0;
  let failed = false;
  for (let i = 0; i <= nents && !failed; i++) {
    const s = i < nents ? (sgl[i] as Scatterlist) : null;
    const phys = s === null ? -1 : s.pfn * pageSize + s.offset;
    if (len > 0 && phys !== start + len) {
      if (mapRange(domain, iova + mapped, start, len, prot) !== 0) failed = true;
      else mapped += len;
      len = 0;
    }
    if (s === null) break;
    if (len > 0) len += s.length;
    else {
      len = s.length;
      start = phys;
    }
  }
  if (failed || mapped < iovaLen) {
    if (mapped > 0) {
      const gather = iommuIotlbGatherInit();
      unmapRange(domain, iova, mapped, gather);
      iommuIotlbSync(domain, gather);
    }
    iommuDmaFreeIova(domain, iova, iovaLen, null);
    invalidateSg(sgl, nents);
    return -EINVAL;
  }
  return finaliseSg(dev, sgl, nents, iova);
}

/** `iommu_dma_unmap_sg`: the list is one IOVA range, from the first segment to the end of the last. */
export function iommuDmaUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  const first = sgl[0];
  if (first !== undefined && iommuDmaIsBounced(dev, first)) {
    iommuDmaUnmapSgSwiotlb(dev, sgl, nents, dir, attrs);
    return;
  }
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) iommuDmaSyncSgForCpu(dev, sgl, nents, dir);
  let start = 0;
  let end = 0;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i] as Scatterlist;
    if (s.dmaLength === 0) break;
    if (i === 0) start = s.dmaAddress;
    end = s.dmaAddress + s.dmaLength;
  }
  if (end !== 0) iommuDmaUnmapRange(dev, start, end - start);
}

/** `iommu_dma_map_resource`: MMIO of a peer device, never cached. */
export function iommuDmaMapResource(dev: Device, phys: number, size: number, dir: DmaDataDirection, attrs: number): number {
  return iommuDmaMapPhys(dev, phys, size, dmaInfoToProt(dir, false, attrs) | IOMMU_MMIO, dmaGetMask(dev));
}

/** `iommu_dma_unmap_resource`. */
export function iommuDmaUnmapResource(dev: Device, addr: number, size: number, _dir: DmaDataDirection, _attrs: number): void {
  iommuDmaUnmapRange(dev, addr, size);
}

/** `iommu_dma_max_mapping_size`: swiotlb's limit for an untrusted device (v6.9), else unlimited. */
export function iommuDmaMaxMappingSize(dev: Device): number {
  const swiotlb = dev.machine.swiotlb;
  if (devUseSwiotlb(dev) && swiotlb !== null && swiotlb.isActive(dev)) return swiotlb.maxMappingSize(dev);
  return Number.MAX_SAFE_INTEGER;
}

/** `iommu_dma_get_merge_boundary`: segments merge at granule boundaries. */
export function iommuDmaGetMergeBoundary(dev: Device): number {
  return dmaDomain(dev).granule - 1;
}

/** `iommu_dma_opt_mapping_size`: what the IOVA caches serve without the tree. */
export function iommuDmaOptMappingSize(): number {
  return IOVA_RCACHE_RANGE;
}

/** `iommu_dma_ops`: what `setDmaOps` gives a device behind an IOMMU with a DMA domain. */
export const iommuDmaOps: DmaMapOps = Object.freeze({
  name: 'iommu_dma_ops',
  flags: DMA_F_CAN_SKIP_SYNC,
  alloc: iommuDmaAlloc,
  free: iommuDmaFree,
  mmap: iommuDmaMmap,
  getSgtable: iommuDmaGetSgtable,
  allocPages: iommuDmaAllocPages,
  freePages: iommuDmaFreePages,
  allocNoncontiguous: iommuDmaAllocNoncontiguous,
  freeNoncontiguous: iommuDmaFreeNoncontiguous,
  mapPage: iommuDmaMapPage,
  unmapPage: iommuDmaUnmapPage,
  mapSg: iommuDmaMapSg,
  unmapSg: iommuDmaUnmapSg,
  mapResource: iommuDmaMapResource,
  unmapResource: iommuDmaUnmapResource,
  syncSingleForCpu: iommuDmaSyncSingleForCpu,
  syncSingleForDevice: iommuDmaSyncSingleForDevice,
  syncSgForCpu: iommuDmaSyncSgForCpu,
  syncSgForDevice: iommuDmaSyncSgForDevice,
  dmaSupported: () => true,
  maxMappingSize: iommuDmaMaxMappingSize,
  optMappingSize: iommuDmaOptMappingSize,
  getMergeBoundary: iommuDmaGetMergeBoundary,
});
