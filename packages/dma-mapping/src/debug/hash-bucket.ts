import type { DmaDebugEntry, DmaDebugRef } from './dma-debug-entry.js';

/** `HASH_SIZE`: the kernel's 16384 buckets. */
export const HASH_SIZE = 16384;
/** `HASH_FN_SHIFT`: a bucket covers 8 KiB of device addresses. */
export const HASH_FN_SHIFT = 13;
const BUCKET_SPAN = 2 ** HASH_FN_SHIFT;

/**
 * `hash_fn`: `(dev_addr >> 13) & (HASH_SIZE - 1)`, by division so that addresses above 2^32 keep
 * their bits. `DMA_MAPPING_ERROR` (−1, the kernel's all-ones) lands in the last bucket, as ~0 does.
 */
export function hashFn(devAddr: number): number {
  const index = Math.floor(devAddr / BUCKET_SPAN) % HASH_SIZE;
  return index < 0 ? index + HASH_SIZE : index;
}

type MatchFn = (ref: DmaDebugRef, entry: DmaDebugEntry) => boolean;

/** `exact_match`: same device, same start address. */
function exactMatch(ref: DmaDebugRef, entry: DmaDebugEntry): boolean {
  return entry.devAddr === ref.devAddr && entry.dev === ref.dev;
}

/** `containing_match`: same device, and the entry covers the whole referenced range. */
function containingMatch(ref: DmaDebugRef, entry: DmaDebugEntry): boolean {
  return entry.dev === ref.dev && entry.devAddr <= ref.devAddr && entry.devAddr + entry.size >= ref.devAddr + ref.size;
}

/** The reference starts inside the entry (and, since it is not contained, runs past its end). */
function startMatch(ref: DmaDebugRef, entry: DmaDebugEntry): boolean {
  return entry.dev === ref.dev && entry.devAddr <= ref.devAddr && ref.devAddr < entry.devAddr + entry.size;
}

/**
 * `__hash_bucket_find`: best fit, not first fit, because without an IOMMU the same buffer mapped
 * twice gives two entries with one device address. Each match scores one point for equal size,
 * type, direction and sg_call_ents; a perfect 4 wins at once, otherwise the best scorer wins only
 * if it was the sole match (several imperfect matches are ambiguous: null).
 */
function bucketFind(bucket: readonly DmaDebugEntry[] | undefined, ref: DmaDebugRef, match: MatchFn): DmaDebugEntry | null {
  if (bucket === undefined) return null;
  let best: DmaDebugEntry | null = null;
  let matches = 0;
  let lastLevel = -1;
  for (const entry of bucket) {
    if (!match(ref, entry)) continue;
    matches += 1;
    let level = 0;
    if (entry.size === ref.size) level++;
    if (entry.type === ref.type) level++;
    if (entry.direction === ref.direction) level++;
    if (entry.sgCallEnts === ref.sgCallEnts) level++;
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
    const i = bucket === undefined ? -1 : bucket.indexOf(entry);
    if (i < 0 || bucket === undefined) return;
    bucket.splice(i, 1);
    this.count--;
  }

  /** The entries in `devAddr`'s bucket, for walks that are not a best-fit lookup. */
  bucketOf(devAddr: number): readonly DmaDebugEntry[] {
    return this.buckets[hashFn(devAddr)] ?? [];
  }

  /** `bucket_find_exact`: the unmap and free lookup. */
  findExact(ref: DmaDebugRef): DmaDebugEntry | null {
    return bucketFind(this.buckets[hashFn(ref.devAddr)], ref, exactMatch);
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
