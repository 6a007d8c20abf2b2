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

/**
 * `__hash_bucket_find`: best fit, not first fit, because without an IOMMU the same buffer mapped
 * twice gives two entries with one device address. Each match scores one point for equal size,
 * type, direction and sg_call_ents; a perfect 4 wins at once, otherwise the best scorer wins only
 * if it was the sole match (several imperfect matches are ambiguous: null). `match` null is
 * `exact_match` (same device, same start address), written in because every unmap runs it.
 */
function bucketFind(first: DmaDebugEntry | null, ref: DmaDebugRef, match: MatchFn | null): DmaDebugEntry | null {
  const { devAddr, dev } = ref;
  let best: DmaDebugEntry | null = null;
  let matches = 0;
  let lastLevel = -1;
  for (let entry = first; entry !== null; entry = entry.hashNext) {
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
 * `dma_entry_hash`: every live mapping and allocation, bucketed by device address. A bucket is an
 * intrusive list through the entries' `hashPrev`/`hashNext` (the kernel's `list_head`), so adding
 * and removing touch a few fields and allocate nothing; an entry is appended (`list_add_tail`)
 * so that walks see mappings in the order they were made.
 */
export class DmaDebugHash {
  private readonly heads: (DmaDebugEntry | null)[] = new Array<DmaDebugEntry | null>(HASH_SIZE).fill(null);
  private readonly tails: (DmaDebugEntry | null)[] = new Array<DmaDebugEntry | null>(HASH_SIZE).fill(null);
  private count = 0;

  /** Live entries. */
  get size(): number {
    return this.count;
  }

  /** `hash_bucket_add`. The entry must not be in the hash already. */
  add(entry: DmaDebugEntry): void {
    const index = hashFn(entry.devAddr);
    const tail = this.tails[index] as DmaDebugEntry | null;
    entry.hashIndex = index;
    entry.hashPrev = tail;
    entry.hashNext = null;
    if (tail === null) this.heads[index] = entry;
    else tail.hashNext = entry;
    this.tails[index] = entry;
    this.count++;
  }

  /**
   * `hash_bucket_del`. The rest of the bucket keeps the order the mappings were made in. An entry
   * not in the hash is left alone.
   */
  remove(entry: DmaDebugEntry): void {
    const { hashPrev: prev, hashNext: next, hashIndex: index } = entry;
    if (prev === null) {
      if (this.heads[index] !== entry) return;
      this.heads[index] = next;
    } else {
      prev.hashNext = next;
    }
    if (next === null) this.tails[index] = prev;
    else next.hashPrev = prev;
    entry.hashPrev = null;
    entry.hashNext = null;
    this.count--;
  }

  /** The first entry of `devAddr`'s bucket (follow `hashNext`), for walks that are not a best-fit lookup. */
  first(devAddr: number): DmaDebugEntry | null {
    return this.heads[hashFn(devAddr)] as DmaDebugEntry | null;
  }

  /** `bucket_find_exact`: the unmap and free lookup. */
  findExact(ref: DmaDebugRef): DmaDebugEntry | null {
    return bucketFind(this.first(ref.devAddr), ref, null);
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
      const entry = bucketFind(this.first(addr), ref, match);
      if (entry !== null) return entry;
      addr -= BUCKET_SPAN;
    }
    return null;
  }

  /** Visits every entry in bucket order, as the kernel's walks over `dma_entry_hash` do. */
  forEach(visit: (entry: DmaDebugEntry) => void): void {
    for (const head of this.heads) {
      for (let entry = head; entry !== null; entry = entry.hashNext) visit(entry);
    }
  }
}
