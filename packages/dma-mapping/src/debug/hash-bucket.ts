import type { DmaDebugEntry, DmaDebugRef } from './dma-debug-entry.js';
import { pow2 } from '@kdma/hw';

/** `HASH_SIZE`: the kernel's 16384 buckets. */
export const HASH_SIZE = 16384;
/** `HASH_FN_SHIFT`: a bucket covers 8 KiB of device addresses. */
export const HASH_FN_SHIFT = 13;
const BUCKET_SPAN = pow2(HASH_FN_SHIFT);

/**
 * `hash_fn`: `(dev_addr >> 13) & (HASH_SIZE - 1)`. The shift is a division, so addresses above
 * 2^32 keep their bits; the mask may then be a 32-bit `&`, because it keeps bits that ToInt32's
 * reduction modulo 2^32 leaves intact (the quotient is an integer below 2^53). `DMA_MAPPING_ERROR`
 * (−1, the kernel's all-ones) lands in the last bucket, as ~0 does. Kept tiny so V8 inlines it.
 */
export function hashFn(devAddr: number): number {
  return Math.floor(devAddr / 8192) & 16383;
}

type MatchFn = (ref: DmaDebugRef, entry: DmaDebugEntry) => boolean;

/** `containing_match`: same device, and the entry covers the whole referenced range. */
function containingMatch(ref: DmaDebugRef, entry: DmaDebugEntry): boolean {
  return entry.dev === ref.dev && entry.devAddr <= ref.devAddr && entry.devAddr + entry.size >= ref.devAddr + ref.size;
}

/** The reference starts inside the entry (and, since it is not contained, runs past its end). */
function startMatch(ref: DmaDebugRef, entry: DmaDebugEntry): boolean {
  return entry.dev === ref.dev && entry.devAddr <= ref.devAddr && ref.devAddr < entry.devAddr + entry.size;
}

/** The best-fit score: one point each for equal size, type, direction and sg_call_ents. */
function matchLevel(ref: DmaDebugRef, entry: DmaDebugEntry): number {
  let level = 0;
  if (entry.size === ref.size) level++;
  if (entry.type === ref.type) level++;
  if (entry.direction === ref.direction) level++;
  if (entry.sgCallEnts === ref.sgCallEnts) level++;
  return level;
}

const NO_ENTRIES: readonly DmaDebugEntry[] = Object.freeze([]);

/**
 * `__hash_bucket_find`: best fit, not first fit, because without an IOMMU the same buffer mapped
 * twice gives two entries with one device address. Each match scores one point for equal size,
 * type, direction and sg_call_ents; a perfect 4 wins at once, otherwise the best scorer wins only
 * if it was the sole match (several imperfect matches are ambiguous: null). `match` null is
 * `exact_match` (same device, same start address), written in because every unmap runs it.
 */
function bucketFind(bucket: readonly DmaDebugEntry[] | undefined, ref: DmaDebugRef, match: MatchFn | null): DmaDebugEntry | null {
  if (bucket === undefined) return null;
  const { devAddr, dev } = ref;
  let best: DmaDebugEntry | null = null;
  let matches = 0;
  let lastLevel = -1;
  for (let i = 0; i < bucket.length; i++) {
    const entry = bucket[i] as DmaDebugEntry;
    if (match === null ? entry.devAddr !== devAddr || entry.dev !== dev : !match(ref, entry)) continue;
    matches += 1;
    const level = matchLevel(ref, entry);
    if (level === 4) return entry;
    if (level > lastLevel) {
      lastLevel = level;
      best = entry;
    }
  }
  return matches === 1 ? best : null;
}

/**
 * `dma_entry_hash`: every live mapping and allocation, bucketed by device address. Buckets are
 * arrays created on first use; an entry is appended (`list_add_tail`) so that walks see mappings
 * in the order they were made.
 */
export class DmaDebugHash {
  private readonly buckets: (DmaDebugEntry[] | undefined)[] = new Array<DmaDebugEntry[] | undefined>(HASH_SIZE);
  private count = 0;

  /** Live entries. */
  get size(): number {
    return this.count;
  }

  /** `hash_bucket_add`. */
  add(entry: DmaDebugEntry): void {
    const index = hashFn(entry.devAddr);
    const bucket = this.buckets[index];
    if (bucket === undefined) this.buckets[index] = [entry];
    else bucket.push(entry);
    this.count++;
  }

  /** `hash_bucket_del`. */
  remove(entry: DmaDebugEntry): void {
    const bucket = this.buckets[hashFn(entry.devAddr)];
    if (bucket !== undefined) this.removeAt(bucket, bucket.indexOf(entry));
  }

  /**
   * `hash_bucket_del` of the entry at `index` of `bucket` (from `bucketOf`), for a caller that
   * has just walked the bucket. The later entries move down one slot (no `splice`, which
   * allocates the array it returns), so the bucket keeps the order the mappings were made in.
   */
  removeAt(bucket: readonly DmaDebugEntry[], index: number): void {
    const entries = bucket as DmaDebugEntry[];
    const last = entries.length - 1;
    if (index < 0 || index > last) return;
    for (let j = index; j < last; j++) entries[j] = entries[j + 1] as DmaDebugEntry;
    entries.pop();
    this.count--;
  }

  /** The entries in `devAddr`'s bucket, in the order they were added (for walks that are not a best-fit lookup). */
  bucketOf(devAddr: number): readonly DmaDebugEntry[] {
    return this.buckets[hashFn(devAddr)] ?? NO_ENTRIES;
  }

  /** `bucket_find_exact`: the unmap and free lookup. */
  findExact(ref: DmaDebugRef): DmaDebugEntry | null {
    return bucketFind(this.buckets[hashFn(ref.devAddr)], ref, null);
  }

  /**
   * `bucket_find_contain`: the sync lookup, for an address anywhere inside a mapping. A mapping is
   * filed under its start address, so the walk goes back one bucket (8 KiB) at a time, at most
   * down to address 0 or once round the table.
   */
  findContain(ref: DmaDebugRef): DmaDebugEntry | null {
    return this.walkBack(ref, containingMatch);
  }

  /**
   * The mapping a sync starts in when no mapping contains the whole synced range: what the
   * kernel's "syncs DMA memory outside allocated range" check was written for (2.6.30 looked
   * syncs up by start address). With today's containing lookup that check can no longer fire;
   * this lookup restores it.
   */
  findStartInside(ref: DmaDebugRef): DmaDebugEntry | null {
    return this.walkBack(ref, startMatch);
  }

  private walkBack(ref: DmaDebugRef, match: MatchFn): DmaDebugEntry | null {
    // DMA_MAPPING_ERROR is all ones in the kernel: every bucket is walked, and no entry lies above it.
    if (ref.devAddr < 0 || this.count === 0) return null;
    const limit = Math.min(HASH_SIZE, Math.floor(ref.devAddr / BUCKET_SPAN) + 1);
    let addr = ref.devAddr;
    for (let i = 0; i < limit; i++) {
      const entry = bucketFind(this.buckets[hashFn(addr)], ref, match);
      if (entry !== null) return entry;
      addr -= BUCKET_SPAN;
    }
    return null;
  }

  /** Visits every entry in bucket order, as the kernel's walks over `dma_entry_hash` do. */
  forEach(visit: (entry: DmaDebugEntry) => void): void {
    for (const bucket of this.buckets) {
      if (bucket === undefined) continue;
      for (const entry of bucket) visit(entry);
    }
  }
}
