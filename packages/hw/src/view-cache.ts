/** Slots in a `ViewCache`: a power of two. */
const SLOTS = 4096;

/** Largest caller's array whose views are cached: a slot keeps its array alive, so at most ~4 MiB. */
const SMALL_SOURCE = 1024;

/**
 * Recently made views `array.subarray(from, from + length)`, direct-mapped by window. A DMA
 * model copies the same windows over and over — a ring's descriptors, its packet buffers, a
 * device's FIFO — and `subarray()` allocates a typed-array object each time: ~30 ns with its
 * garbage, the largest cost of a 16-byte access. A hit returns the view made before. A view is
 * reused only for the same array object, so a chunk that is re-homed (`shadowedChunk`) is never
 * read through a stale view. A slot keeps its array alive until another window takes it: `view`
 * is for arrays the model owns (RAM chunks, shadows), `sourceView` for a caller's.
 */
export class ViewCache {
  private readonly arrays: (Uint8Array | null)[] = new Array<Uint8Array | null>(SLOTS).fill(null);
  private readonly views: (Uint8Array | null)[] = new Array<Uint8Array | null>(SLOTS).fill(null);
  private readonly starts = new Int32Array(SLOTS);
  private readonly lengths = new Int32Array(SLOTS);

  /**
   * `array.subarray(from, from + length)`, made once per window while it keeps its slot; `tag`
   * tells windows of different arrays apart in the hash (a chunk index, or 0).
   */
  view(array: Uint8Array, tag: number, from: number, length: number): Uint8Array {
    // A hash of small integers (offsets within one chunk or buffer); Math.imul wraps any tag.
    const slot = (Math.imul(tag, 0x9e3779b1) ^ Math.imul(from, 0x85ebca77) ^ Math.imul(length, 0xc2b2ae3d)) >>> 20;
    if (this.arrays[slot] === array && this.starts[slot] === from && this.lengths[slot] === length) return this.views[slot]!;
    const view = array.subarray(from, from + length);
    this.arrays[slot] = array;
    this.views[slot] = view;
    this.starts[slot] = from;
    this.lengths[slot] = length;
    return view;
  }

  /** A window of a caller's array: cached for a small one (a descriptor, a register block), else a plain `subarray`. */
  sourceView(src: Uint8Array, from: number, length: number): Uint8Array {
    return src.length <= SMALL_SOURCE ? this.view(src, 0, from, length) : src.subarray(from, from + length);
  }
}
