/**
 * A picture's worth of machine state at one moment: the physical memory map (RAM regions, zones,
 * CMA, the kernel image, the swiotlb pool, which pages are in use), the vmalloc (and consistent)
 * area, the IOVA space of each IOMMU domain and the swiotlb slots. A reader over the packages'
 * public objects (`mm.pageState`, `mm.vmallocSpace.list()`, `IovaDomain.ranges()`, the io_tlb
 * pools' slot arrays); it changes nothing.
 */
import type { Machine } from '@kdma/dma-mapping';
import { MachineSwiotlb } from '@kdma/dma-mapping/ops';
import { IOMMU_DOMAIN_BLOCKED, IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_DMA_FQ, IOMMU_DOMAIN_IDENTITY, IOMMU_DOMAIN_UNMANAGED, IommuDmaCookie, iommuGetDomainForDev, iommuOf } from '@kdma/iommu';
import type { BuddyInfo, MmStats, VmapSpace } from '@kdma/mm';

/** Pages of one physical-map bin, by state (sampled evenly when a bin holds many pages). */
export interface PhysBin {
  /** First physical address of the bin. */
  readonly base: number;
  readonly size: number;
  /** Fractions (0..1) of the bin's pages in each state. */
  readonly allocated: number;
  readonly reserved: number;
  readonly cmaUsed: number;
  readonly cmaFree: number;
  readonly free: number;
}

export interface PhysRange {
  readonly name: string;
  readonly base: number;
  readonly size: number;
}

export interface PhysicalMap {
  readonly pageSize: number;
  readonly regions: readonly PhysRange[];
  readonly zones: readonly PhysRange[];
  readonly cma: { readonly base: number; readonly size: number; readonly used: number } | null;
  readonly kernelImage: readonly PhysRange[];
  readonly swiotlbPools: readonly PhysRange[];
  /** Per RAM region, its bins in address order. */
  readonly bins: readonly (readonly PhysBin[])[];
  /** True when bins were sampled rather than counted page by page. */
  readonly sampled: boolean;
}

export interface VmAreaView {
  readonly start: number;
  readonly size: number;
  readonly kind: string;
  readonly memoryType: string;
}

export interface VirtualArea {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly used: number;
  readonly guardPages: number;
  readonly areas: readonly VmAreaView[];
}

export interface IovaRangeView {
  readonly lo: number;
  readonly hi: number;
  readonly cached: boolean;
}

export interface IovaSpace {
  readonly domain: number;
  readonly type: string;
  readonly devices: readonly string[];
  readonly granule: number;
  /**
   * Allocated and reserved ranges, in granules (pfn of the IOVA), lowest first, merged when many;
   * `cached`: freed by the driver but parked in a per-CPU rcache magazine (still in the tree).
   */
  readonly ranges: readonly IovaRangeView[];
  readonly rangeCount: number;
  readonly granulesInUse: number;
  /** Ranges parked in the per-CPU rcaches (freed, not yet back in the tree). */
  readonly cached: number;
  readonly mappedBytes: number;
}

export interface SwiotlbPoolView {
  readonly start: number;
  readonly nslabs: number;
  readonly nareas: number;
  /** Used slots as runs `[first, count]`. */
  readonly used: readonly (readonly [number, number])[];
  readonly usedSlots: number;
}

export interface MemorySnapshot {
  readonly label: string;
  /** A few words for picture rows: `before`, `during 1`, `twin`, `after`. */
  readonly short: string;
  readonly simulatedNs: number;
  readonly mm: MmStats;
  readonly buddyinfo: readonly BuddyInfo[];
  readonly physical: PhysicalMap;
  readonly vmalloc: VirtualArea;
  /** ARM's 2011 consistent area, when the machine has one. */
  readonly consistent: VirtualArea | null;
  readonly iova: readonly IovaSpace[];
  readonly swiotlb: readonly SwiotlbPoolView[];
}

const DOMAIN_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [IOMMU_DOMAIN_BLOCKED, 'BLOCKED'],
  [IOMMU_DOMAIN_UNMANAGED, 'UNMANAGED'],
  [IOMMU_DOMAIN_DMA, 'DMA'],
  [IOMMU_DOMAIN_DMA_FQ, 'DMA_FQ'],
  [IOMMU_DOMAIN_IDENTITY, 'IDENTITY'],
]);

const BINS = 512;
const SAMPLES_PER_BIN = 128;
const MAX_RANGES = 4000;

export function takeSnapshot(machine: Machine, label: string, short = label): MemorySnapshot {
  const mm = machine.mm;
  return {
    label,
    short,
    simulatedNs: machine.clock.now(),
    mm: mm.stats(),
    buddyinfo: mm.buddyinfo(),
    physical: physicalMap(machine),
    vmalloc: virtualArea(mm.vmallocSpace),
    consistent: mm.consistentSpace.total > 0 ? virtualArea(mm.consistentSpace) : null,
    iova: iovaSpaces(machine),
    swiotlb: swiotlbPools(machine),
  };
}

function physicalMap(machine: Machine): PhysicalMap {
  const mm = machine.mm;
  const page = mm.pageSize;
  const regions = machine.hw.ram.regions.map((r, i) => ({ name: `RAM ${i}`, base: r.base, size: r.size }));
  const totalPages = regions.reduce((n, r) => n + r.size / page, 0);
  // Zones as they cover RAM (a zone's span starts at the first RAM byte in it).
  const zones: PhysRange[] = [];
  let zoneStart = 0;
  const bottom = Math.min(...regions.map((r) => r.base));
  const top = Math.max(...regions.map((r) => r.base + r.size));
  for (const z of machine.arch.zones) {
    const start = Math.max(zoneStart, bottom);
    const end = Math.min(z.end, top);
    if (end > start) zones.push({ name: z.name, base: start, size: end - start });
    zoneStart = z.end;
    if (zoneStart >= top) break;
  }
  const cma = mm.cma;
  const img = mm.kernelImage;
  const phys = (kva: number): number => mm.virtToPhys(kva);
  const kernelImage = [
    { name: 'text', base: phys(img.text.start), size: img.text.end - img.text.start },
    { name: 'rodata', base: phys(img.rodata.start), size: img.rodata.end - img.rodata.start },
    { name: 'data', base: phys(img.data.start), size: img.data.end - img.data.start },
  ].filter((r) => r.size > 0);
  const swiotlbPools = swiotlbPoolList(machine).map((p, i) => ({ name: `swiotlb pool ${i}`, base: p.start, size: p.end - p.start }));
  let sampled = false;
  const bins = regions.map((r) => {
    const pages = r.size / page;
    const count = Math.max(8, Math.min(pages, Math.round((BINS * pages) / totalPages)));
    const out: PhysBin[] = [];
    for (let b = 0; b < count; b++) {
      const first = Math.floor((b * pages) / count);
      const last = Math.floor(((b + 1) * pages) / count);
      const n = last - first;
      const samples = Math.min(n, SAMPLES_PER_BIN);
      if (samples < n) sampled = true;
      let allocated = 0;
      let reserved = 0;
      let cmaUsed = 0;
      let cmaFree = 0;
      let free = 0;
      for (let s = 0; s < samples; s++) {
        const pfn = r.base / page + first + Math.floor((s * n) / samples);
        const state = mm.pageState(pfn);
        if (state === 'allocated') allocated++;
        else if (state === 'reserved') reserved++;
        else if (state === 'cma') {
          if (cma?.isAllocated(pfn) === true) cmaUsed++;
          else cmaFree++;
        } else free++;
      }
      const k = samples === 0 ? 1 : samples;
      out.push({ base: r.base + first * page, size: n * page, allocated: allocated / k, reserved: reserved / k, cmaUsed: cmaUsed / k, cmaFree: cmaFree / k, free: free / k });
    }
    return out;
  });
  return {
    pageSize: page,
    regions,
    zones,
    cma: cma === null ? null : { base: cma.basePfn * page, size: cma.count * page, used: cma.usedPages * page },
    kernelImage,
    swiotlbPools,
    bins,
    sampled,
  };
}

function virtualArea(space: VmapSpace): VirtualArea {
  return {
    name: space.name,
    start: space.start,
    end: space.end,
    used: space.used,
    guardPages: space.guardPages,
    areas: space.list().map((a) => ({ start: a.start, size: a.size, kind: a.kind, memoryType: a.pgprot.memoryType })),
  };
}

function iovaSpaces(machine: Machine): IovaSpace[] {
  const iommu = iommuOf(machine);
  if (iommu === null) return [];
  const spaces: IovaSpace[] = [];
  for (const domain of iommu.domains) {
    const cookie = domain.dmaCookie;
    if (!(cookie instanceof IommuDmaCookie)) continue;
    const iovad = cookie.iovad;
    const parked = new Set<number>();
    iovad.forEachCached((pfn) => parked.add(pfn));
    const all: IovaRangeView[] = [];
    let granules = 0;
    for (const r of iovad.ranges()) {
      all.push({ lo: r.pfnLo, hi: r.pfnHi, cached: parked.has(r.pfnLo) });
      granules += r.pfnHi - r.pfnLo + 1;
    }
    spaces.push({
      domain: domain.id,
      type: DOMAIN_TYPE_NAMES.get(domain.type) ?? String(domain.type),
      devices: machine.devices.filter((dev) => iommuGetDomainForDev(dev) === domain).map((dev) => dev.name),
      granule: iovad.granule,
      ranges: mergeRanges(all, MAX_RANGES),
      rangeCount: all.length,
      granulesInUse: granules,
      cached: iovad.stats().cached,
      mappedBytes: domain.mappedBytes,
    });
  }
  return spaces;
}

/** Merges the closest neighbours until at most `max` ranges remain (for drawing). */
function mergeRanges(ranges: IovaRangeView[], max: number): IovaRangeView[] {
  let out = ranges;
  while (out.length > max) {
    const merged: IovaRangeView[] = [];
    for (let i = 0; i < out.length; i += 2) {
      const a = out[i] as IovaRangeView;
      const b = out[i + 1];
      merged.push(b === undefined ? a : { lo: a.lo, hi: b.hi, cached: a.cached && b.cached });
    }
    out = merged;
  }
  return out;
}

function swiotlbPoolList(machine: Machine) {
  const backend = machine.swiotlb;
  if (!(backend instanceof MachineSwiotlb) || backend.defaultMem === null) return [];
  return backend.defaultMem.pools;
}

function swiotlbPools(machine: Machine): SwiotlbPoolView[] {
  return swiotlbPoolList(machine).map((pool) => {
    const used: [number, number][] = [];
    let usedSlots = 0;
    let runStart = -1;
    for (let i = 0; i <= pool.nslabs; i++) {
      const isUsed = i < pool.nslabs && pool.list[i] === 0;
      if (isUsed) {
        usedSlots++;
        if (runStart < 0) runStart = i;
      } else if (runStart >= 0) {
        used.push([runStart, i - runStart]);
        runStart = -1;
      }
    }
    return { start: pool.start, nslabs: pool.nslabs, nareas: pool.nareas, used, usedSlots };
  });
}
