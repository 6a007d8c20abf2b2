/**
 * The kernel's `iommu:map` / `iommu:unmap` trace events (include/trace/events/iommu.h) in ftrace's
 * text format: a parser, the reconstruction of dma-iommu's IOVA allocations from them, and a replay
 * of those allocations through `IovaDomain` that counts how many IOVAs the model chooses exactly
 * as the kernel did.
 */
import { checkInteger, describe } from '@kdma/hw';
import { IovaDomain } from './iova.js';

/** `iommu:map`: `iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu`. */
export interface IommuMapEvent {
  readonly kind: 'map';
  /** First and one-past-last IOVA of the event (bytes). */
  readonly iova: number;
  readonly end: number;
  readonly paddr: number;
  readonly size: number;
  /** ftrace timestamp, seconds. */
  readonly time: number;
  readonly task: string;
  readonly pid: number;
  readonly cpu: number;
}

/** `iommu:unmap`: `iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu`. */
export interface IommuUnmapEvent {
  readonly kind: 'unmap';
  readonly iova: number;
  readonly end: number;
  readonly size: number;
  readonly unmappedSize: number;
  readonly time: number;
  readonly task: string;
  readonly pid: number;
  readonly cpu: number;
}

export type IommuTraceEvent = IommuMapEvent | IommuUnmapEvent;

// "<task>-<pid> [<cpu>] <flags> <seconds>: <event>: <fields>"
const PREFIX = /^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+(?:\S+\s+)?(\d+\.\d+):\s+(\S+):\s*(.*)$/;
const MAP_FIELDS = /^IOMMU: iova=0x([0-9a-f]+) - 0x([0-9a-f]+) paddr=0x([0-9a-f]+) size=(\d+)\s*$/;
const UNMAP_FIELDS = /^IOMMU: iova=0x([0-9a-f]+) - 0x([0-9a-f]+) size=(\d+) unmapped_size=(\d+)\s*$/;

/**
 * Parses ftrace text: every `map`/`unmap` event, in order. Empty lines, `#` comments and other
 * events are skipped; a line that is not an ftrace event line, or a malformed map/unmap line,
 * throws a SyntaxError naming the line.
 */
export function parseIommuTrace(text: string): IommuTraceEvent[] {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${describe(text)}`);
  const events: IommuTraceEvent[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const p = PREFIX.exec(line);
    if (p === null) throw new SyntaxError(`line ${n + 1}: not an ftrace event line: ${line.trim()}`);
    const event = p[5] as string;
    if (event !== 'map' && event !== 'unmap') continue;
    const common = { time: Number(p[4]), task: (p[1] as string).trim(), pid: Number(p[2]), cpu: Number(p[3]) };
    const fields = p[6] as string;
    if (event === 'map') {
      const m = MAP_FIELDS.exec(fields);
      if (m === null) throw new SyntaxError(`line ${n + 1}: malformed map event: ${fields}`);
      events.push({ kind: 'map', iova: hexNumber(m[1] as string, n), end: hexNumber(m[2] as string, n), paddr: hexNumber(m[3] as string, n), size: Number(m[4]), ...common });
    } else {
      const m = UNMAP_FIELDS.exec(fields);
      if (m === null) throw new SyntaxError(`line ${n + 1}: malformed unmap event: ${fields}`);
      events.push({ kind: 'unmap', iova: hexNumber(m[1] as string, n), end: hexNumber(m[2] as string, n), size: Number(m[3]), unmappedSize: Number(m[4]), ...common });
    }
  }
  return events;
}

function hexNumber(digits: string, line: number): number {
  const value = parseInt(digits, 16);
  if (!Number.isSafeInteger(value)) throw new SyntaxError(`line ${line + 1}: 0x${digits} is beyond 2^53`);
  return value;
}

/** One IOVA allocation of dma-iommu, as reconstructed from a trace. */
export interface TraceAllocation {
  /** The allocation's IOVA range in bytes: the unmap event's, or the union of its maps when never unmapped. */
  readonly iova: number;
  readonly end: number;
  /** Index (into the event list) of its first map event, or -1 when it was mapped before the trace began. */
  readonly mapIndex: number;
  /** Index of its unmap event, or -1 when the trace ends with it still mapped. */
  readonly unmapIndex: number;
  /** How many map events it took (an sg list maps one event per segment). */
  readonly maps: number;
}

/** How `reconstructAllocations` groups the map events that are never unmapped. */
export interface ReconstructOptions {
  /**
   * `'merge'`: a never-unmapped map that continues the previous map event exactly joins its
   * allocation, when the joined range could be one allocation (it starts naturally aligned to
   * its size rounded up to a power of two, as alloc_iova_fast's ranges do). `'split'`: each such
   * map is an allocation. `'auto'` (default): merge when the trace shows the driver mapping sg
   * lists (some unmapped allocation took more than one map event), else split — a driver that only
   * maps single pages (e1000) can get adjacent ascending IOVAs from two calls, when the rcache
   * hands back what it freed last.
   */
  readonly liveMaps?: 'auto' | 'merge' | 'split';
  /** IOVA granule for the alignment test (default 4096). */
  readonly granule?: number;
}

/**
 * Groups map events into dma-iommu's allocations: one `dma_map_page`/`dma_map_sg`/`dma_alloc`
 * call allocates one IOVA range and maps it with one or more ascending, contiguous map events,
 * and unmaps the whole range with one unmap event. Maps that touch adjacent ranges cannot tell
 * where one call ends, so a map belongs to the first later unmap that overlaps it (an IOVA is
 * not reused before it is unmapped); maps never unmapped are grouped as `options.liveMaps` says.
 * Returned in trace order (by first event).
 */
export function reconstructAllocations(events: readonly IommuTraceEvent[], options: ReconstructOptions = {}): TraceAllocation[] {
  if (!Array.isArray(events)) throw new TypeError(`events must be an array, got ${describe(events)}`);
  const granule = options.granule ?? 4096;
  checkInteger(granule, 'options.granule', 1);
  let liveMaps = options.liveMaps ?? 'auto';
  if (liveMaps !== 'auto' && liveMaps !== 'merge' && liveMaps !== 'split') throw new RangeError(`options.liveMaps must be 'auto', 'merge' or 'split', got ${describe(liveMaps)}`);
  const open: number[] = []; // indices of map events not yet matched to an unmap
  const result: { alloc: TraceAllocation; first: number }[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as IommuTraceEvent;
    if (e.kind === 'map') {
      open.push(i);
      continue;
    }
    let first = -1;
    let maps = 0;
    for (let k = 0; k < open.length; ) {
      const m = events[open[k] as number] as IommuMapEvent;
      if (m.iova < e.end && m.end > e.iova) {
        if (first < 0) first = open[k] as number;
        maps++;
        open.splice(k, 1);
      } else {
        k++;
      }
    }
    result.push({ alloc: { iova: e.iova, end: e.end, mapIndex: first, unmapIndex: i, maps }, first: first >= 0 ? first : i });
  }
  if (liveMaps === 'auto') liveMaps = result.some((r) => r.alloc.maps > 1) ? 'merge' : 'split';
  const merge = liveMaps === 'merge';
  // Still mapped at the end: runs of map events, each continuing the one before it.
  let prevMapIndex = -1;
  let group: { iova: number; end: number; mapIndex: number; maps: number } | null = null;
  const flush = (): void => {
    if (group !== null) result.push({ alloc: { ...group, unmapIndex: -1 }, first: group.mapIndex });
    group = null;
  };
  const openSet = new Set(open);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as IommuTraceEvent;
    if (e.kind !== 'map') continue;
    if (openSet.has(i)) {
      const g = group as { iova: number; end: number; mapIndex: number; maps: number } | null;
      if (merge && g !== null && prevMapIndex >= 0 && openSet.has(prevMapIndex) && g.end === e.iova && couldBeOneAllocation(g.iova, e.end, granule)) {
        g.end = e.end;
        g.maps++;
      } else {
        flush();
        group = { iova: e.iova, end: e.end, mapIndex: i, maps: 1 };
      }
    }
    prevMapIndex = i;
  }
  flush();
  result.sort((a, b) => a.first - b.first);
  return result.map((r) => r.alloc);
}

/** Whether [iova, end) is aligned as one alloc_iova_fast range of its size would be. */
function couldBeOneAllocation(iova: number, end: number, granule: number): boolean {
  const granules = Math.ceil((end - iova) / granule);
  let align = 1;
  while (align < granules) align *= 2;
  return (iova / granule) % align === 0;
}

export interface IovaTraceReplayOptions extends ReconstructOptions {
  /** IOVA granule in bytes (default 4096, VT-d's). */
  readonly granule?: number;
  /** The domain's start pfn (default 1, dma-iommu's `base_pfn`). */
  readonly startPfn?: number;
  /**
   * The device's DMA limit in bytes, inclusive, after dma-iommu clamps it to the aperture
   * (default 2^48 - 1: a 64-bit PCI device behind a 48-bit VT-d domain).
   */
  readonly dmaLimit?: number;
  /**
   * Whether dma-iommu first tries below 4 GiB ("Try to get PCI devices a SAC address"; default
   * true, for PCI devices whose limit is above 4 GiB).
   */
  readonly pciSac?: boolean;
}

/** A replayed allocation whose IOVA differs from the kernel's. */
export interface IovaTraceMismatch {
  /** Index of its first map event. */
  readonly mapIndex: number;
  readonly granules: number;
  readonly kernelIova: number;
  /** The model's choice; 0 when it could not allocate. */
  readonly modelIova: number;
}

export interface IovaTraceReplay {
  /** Allocations replayed (those whose first map is in the trace). */
  readonly allocations: number;
  /** Of them, how many got exactly the kernel's IOVA. */
  readonly reproduced: number;
  readonly mismatches: readonly IovaTraceMismatch[];
  /** The domain after the replay. */
  readonly domain: IovaDomain;
}

/**
 * Replays a strict-mode trace's allocations through an `IovaDomain` as Linux 6.1's
 * iommu_dma_alloc_iova drove it (one CPU): each allocation takes `alloc_iova_fast` with its size
 * in granules — below 4 GiB without flushing the caches first for a PCI device whose limit is
 * higher, then below the limit — and is freed with `free_iova_fast` at its unmap. The model's
 * own choice is what it frees, so a mismatch does not poison the comparisons after it more than
 * the kernel's different state would.
 */
export function replayIovaTrace(events: readonly IommuTraceEvent[], options: IovaTraceReplayOptions = {}): IovaTraceReplay {
  const granule = options.granule ?? 4096;
  const startPfn = options.startPfn ?? 1;
  const dmaLimit = options.dmaLimit ?? 2 ** 48 - 1;
  const pciSac = options.pciSac ?? true;
  checkInteger(dmaLimit, 'options.dmaLimit', 0, Number.MAX_SAFE_INTEGER);
  const domain = new IovaDomain(granule, startPfn);
  const allocations = reconstructAllocations(events, options);
  const byMap = new Map<number, TraceAllocation>();
  const byUnmap = new Map<number, TraceAllocation>();
  for (const a of allocations) {
    if (a.mapIndex >= 0) byMap.set(a.mapIndex, a);
    if (a.unmapIndex >= 0) byUnmap.set(a.unmapIndex, a);
  }
  const modelPfn = new Map<TraceAllocation, number>();
  const mismatches: IovaTraceMismatch[] = [];
  const mask32 = 2 ** 32 - 1;
  let replayed = 0;
  let reproduced = 0;
  for (let i = 0; i < events.length; i++) {
    const started = byMap.get(i);
    if (started !== undefined) {
      const granules = Math.ceil((started.end - started.iova) / granule);
      let pfn = 0;
      if (pciSac && dmaLimit > mask32) pfn = domain.allocIovaFast(granules, Math.floor(mask32 / granule), false);
      if (pfn === 0) pfn = domain.allocIovaFast(granules, Math.floor(dmaLimit / granule), true);
      replayed++;
      if (pfn !== 0) modelPfn.set(started, pfn);
      if (pfn * granule === started.iova) reproduced++;
      else mismatches.push({ mapIndex: i, granules, kernelIova: started.iova, modelIova: pfn * granule });
    }
    const ended = byUnmap.get(i);
    if (ended !== undefined) {
      const pfn = modelPfn.get(ended);
      if (pfn !== undefined) {
        domain.freeIovaFast(pfn, Math.ceil((ended.end - ended.iova) / granule));
        modelPfn.delete(ended);
      }
    }
  }
  return { allocations: replayed, reproduced, mismatches, domain };
}
