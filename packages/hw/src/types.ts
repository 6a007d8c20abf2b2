/** How a CPU access treats the cache: the memory type of the page it goes through. */
export type MemoryType = 'normal' | 'wc' | 'uncached';

/** A range of physical RAM. */
export interface MemoryRegion {
  readonly base: number;
  readonly size: number;
}
