/**
 * The translation cache of an x86 chipset IOMMU — the GART-TLB of the AMD northbridge, the TCE
 * cache of a Calgary PHB: entries the hardware read from its table stay in use until software
 * flushes them (`amd_flush_garts`, `tce_cache_blast`), whatever the table says meanwhile. That is
 * why the GART allocator hands out an entry again only after a flush (`next_bit`, `need_flush`):
 * until then a device may still reach the page an entry used to map.
 *
 * One slot per table entry, valid while its generation is the current one, so a flush is O(1).
 */
export class TranslationCache {
  /** The physical page an entry translated to when the hardware last read it. */
  private readonly paddr: Float64Array;
  private readonly generation: Uint32Array;
  private current = 1;
  hits = 0;
  misses = 0;
  flushes = 0;

  constructor(entries: number) {
    this.paddr = new Float64Array(entries);
    this.generation = new Uint32Array(entries);
  }

  /** The cached physical page of `index`, or -1 (a miss: the hardware walks the table). */
  lookup(index: number): number {
    if (this.generation[index] === this.current) {
      this.hits++;
      return this.paddr[index] as number;
    }
    this.misses++;
    return -1;
  }

  /** Remembers what the table said for `index`. */
  fill(index: number, paddr: number): void {
    this.paddr[index] = paddr;
    this.generation[index] = this.current;
  }

  /** Drops every entry. */
  flush(): void {
    this.flushes++;
    this.current = this.current === 0xffff_ffff ? 1 : this.current + 1;
    if (this.current === 1) this.generation.fill(0);
  }
}
