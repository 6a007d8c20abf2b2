/** `PhysicalMemory`'s default chunk: the model holds RAM in arrays of this size. */
const RAM_CHUNK = 64 * 1024;

/**
 * The copies a path over scattered pages inherently makes, for its baseline: the path's own page
 * frames, at their offsets in RAM-sized chunk arrays as the model holds RAM, so that
 * `TypedArray.set` into or out of them meets the host's caches and TLB as the path's copies do.
 * (Page-sized copies of pages spread over many MiB cost the host 2.5–3× one long copy.)
 */
export class ScatteredPages {
  private readonly pages: (readonly [Uint8Array, number])[][];
  private readonly pageSize: number;

  /** `pfnLists`: one list of page frame numbers per buffer, in buffer order. */
  constructor(pfnLists: readonly (readonly number[])[], pageSize: number) {
    this.pageSize = pageSize;
    const low = Math.min(...pfnLists.flat());
    const chunks = new Map<number, Uint8Array>();
    this.pages = pfnLists.map((pfns) =>
      pfns.map((pfn) => {
        const r = (pfn - low) * pageSize;
        const ci = Math.floor(r / RAM_CHUNK);
        let chunk = chunks.get(ci);
        if (chunk === undefined) chunks.set(ci, (chunk = new Uint8Array(RAM_CHUNK)));
        return [chunk, r - ci * RAM_CHUNK] as const;
      }),
    );
  }

  /** Copies `src` page by page into the pages of buffer `i` (a device's write). */
  copyInto(i: number, src: Uint8Array): void {
    const P = this.pageSize;
    const pages = this.pages[i]!;
    for (let k = 0; k < pages.length; k++) {
      const [chunk, off] = pages[k]!;
      chunk.set(src.subarray(k * P, k * P + P), off);
    }
  }

  /** Copies the pages of buffer `i` in order into `dst` (a read of the whole buffer). */
  copyOut(i: number, dst: Uint8Array): void {
    const P = this.pageSize;
    const pages = this.pages[i]!;
    for (let k = 0; k < pages.length; k++) {
      const [chunk, off] = pages[k]!;
      dst.set(chunk.subarray(off, off + P), k * P);
    }
  }
}
