/**
 * Memory zones (kernel `struct zone`, `enum zone_type`): physical address ranges that GFP zone
 * modifiers select. The arch names them: x86-64 has DMA (ISA's 16 MiB), DMA32 (4 GiB) and NORMAL;
 * 2011 ARM has NORMAL, or DMA up to a machine's `dma_zone_size` then NORMAL.
 */
import type { ZoneType } from './gfp.js';
import type { MemMap } from './memmap.js';

/** One zone of the machine: it ends (exclusive) at physical address `end`; the last at Infinity. */
export interface ZoneSpec {
  readonly name: ZoneType;
  readonly end: number;
}

/** x86-64: ZONE_DMA below 16 MiB (MAX_DMA_PFN), ZONE_DMA32 below 4 GiB, then ZONE_NORMAL. */
export const X86_64_ZONES: readonly ZoneSpec[] = Object.freeze([
  Object.freeze({ name: 'DMA', end: 16 * 2 ** 20 } as const),
  Object.freeze({ name: 'DMA32', end: 4 * 2 ** 30 } as const),
  Object.freeze({ name: 'NORMAL', end: Infinity } as const),
]);

/** One ZONE_NORMAL covering all memory (ARM without a DMA zone limit, and the default). */
export const NORMAL_ONLY_ZONES: readonly ZoneSpec[] = Object.freeze([Object.freeze({ name: 'NORMAL', end: Infinity } as const)]);

const RANK: Readonly<Record<ZoneType, number>> = { DMA: 0, DMA32: 1, NORMAL: 2 };

/** The zones of a machine, and the pieces of RAM in each ("spans": a zone within a region). */
export class Zones {
  /** Zone names in ascending address order. */
  readonly names: readonly ZoneType[];
  /** Physical start and end (exclusive) of each zone. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** For each GFP zone type, the index of the highest zone it may use (allocation tries it first). */
  private readonly highest: Readonly<Record<ZoneType, number>>;

  /** Spans sorted by pfn (and therefore by slot): a zone's RAM within one region. */
  readonly spanCount: number;
  readonly spanStartPfn: Float64Array;
  readonly spanEndPfn: Float64Array;
  readonly spanFirstSlot: Int32Array;
  readonly spanZone: Uint8Array;
  private lastSpan = 0;

  constructor(specs: readonly ZoneSpec[], memmap: MemMap) {
    if (!Array.isArray(specs) || specs.length === 0) throw new TypeError('zones must be a non-empty array of { name, end }');
    const pageSize = memmap.pageSize;
    const names: ZoneType[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let previousEnd = 0;
    specs.forEach((spec: ZoneSpec, i) => {
      if (typeof spec !== 'object' || spec === null) throw new TypeError(`zones[${i}] must be { name, end }`);
      const { name, end } = spec;
      if (name !== 'DMA' && name !== 'DMA32' && name !== 'NORMAL') {
        throw new TypeError(`zones[${i}].name must be 'DMA', 'DMA32' or 'NORMAL', got ${String(name)}`);
      }
      const lastName = names[names.length - 1];
      if (lastName !== undefined && RANK[name] <= RANK[lastName]) {
        throw new RangeError(`zones[${i}].name ${name} must come after ${lastName} (zones are in DMA, DMA32, NORMAL order)`);
      }
      const last = i === specs.length - 1;
      if (last ? end !== Infinity : !(typeof end === 'number' && Number.isSafeInteger(end) && end > previousEnd && end % pageSize === 0)) {
        throw new RangeError(
          last
            ? `zones[${i}].end must be Infinity (the last zone takes the rest of memory), got ${String(end)}`
            : `zones[${i}].end must be a page-aligned address above ${previousEnd}, got ${String(end)}`,
        );
      }
      names.push(name);
      starts.push(previousEnd);
      ends.push(end);
      previousEnd = end;
    });
    this.names = Object.freeze(names);
    this.starts = Object.freeze(starts);
    this.ends = Object.freeze(ends);

    // gfp_zone() with OPT_ZONE_DMA/OPT_ZONE_DMA32: a modifier for a zone the machine lacks means
    // NORMAL; any type may use the zones at or below its rank.
    const highestFor = (type: ZoneType): number => {
      const target = names.includes(type) ? RANK[type] : RANK.NORMAL;
      let index = -1;
      names.forEach((n, i) => {
        if (RANK[n] <= target) index = i;
      });
      return index;
    };
    this.highest = { DMA: highestFor('DMA'), DMA32: highestFor('DMA32'), NORMAL: highestFor('NORMAL') };

    const spans: [number, number, number, number][] = [];
    for (let r = 0; r < memmap.regionCount; r++) {
      const [rs, re, slot] = memmap.region(r);
      for (let z = 0; z < names.length; z++) {
        const zs = Math.ceil((starts[z] as number) / pageSize);
        const ze = (ends[z] as number) === Infinity ? Infinity : Math.floor((ends[z] as number) / pageSize);
        const s = Math.max(rs, zs);
        const e = Math.min(re, ze);
        if (e > s) spans.push([s, e, slot + (s - rs), z]);
      }
    }
    this.spanCount = spans.length;
    this.spanStartPfn = Float64Array.from(spans, (s) => s[0]);
    this.spanEndPfn = Float64Array.from(spans, (s) => s[1]);
    this.spanFirstSlot = Int32Array.from(spans, (s) => s[2]);
    this.spanZone = Uint8Array.from(spans, (s) => s[3]);
  }

  get count(): number {
    return this.names.length;
  }

  /** The index of the highest zone a GFP zone type may allocate from (-1: none). */
  highestZoneFor(type: ZoneType): number {
    return this.highest[type];
  }

  /** The index of the zone holding physical address `paddr`. */
  zoneIndexOfAddress(paddr: number): number {
    for (let z = 0; z < this.ends.length; z++) if (paddr < (this.ends[z] as number)) return z;
    return this.ends.length - 1;
  }

  /** The span holding `pfn`, or -1 for a pfn without RAM. */
  spanOfPfn(pfn: number): number {
    const last = this.lastSpan;
    if (pfn >= (this.spanStartPfn[last] as number) && pfn < (this.spanEndPfn[last] as number)) return last;
    let lo = 0;
    let hi = this.spanCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (pfn < (this.spanStartPfn[mid] as number)) hi = mid - 1;
      else if (pfn >= (this.spanEndPfn[mid] as number)) lo = mid + 1;
      else {
        this.lastSpan = mid;
        return mid;
      }
    }
    return -1;
  }

  /** The span holding `slot`. */
  spanOfSlot(slot: number): number {
    let lo = 0;
    let hi = this.spanCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.spanFirstSlot[mid] as number) <= slot) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
