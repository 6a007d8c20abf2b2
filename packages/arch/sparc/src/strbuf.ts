import type { AccessEvent, TranslationRun } from '@kdma/hw';
import type { Machine } from '@kdma/dma-mapping/ops';
import { IO_PAGE_SIZE } from './arch.js';

/*
 * The sun4u streaming buffer (`struct strbuf`, the "STC", include/asm/iommu_64.h): a write
 * buffer and read cache between the PCI bus and memory, used by every mapping whose IOPTE has
 * `IOPTE_STBUF` (all streaming mappings; coherent ones bypass it). sparc64's CPU caches are
 * coherent with DMA, but what a device wrote through a streaming mapping sits in the STC until
 * `strbuf_flush` pushes it out — which `dma_4u_unmap_*` and `dma_4u_sync_*_for_cpu` do. A driver
 * that reads its buffer without either reads stale bytes, on a "coherent" machine.
 *
 * Model: the STC buffers whole IO pages, 64-byte lines marked dirty, in shadow pages of RAM that
 * it takes from the page allocator while it holds data (the real STC has 16 lines; this one never
 * evicts, so nothing leaks to memory before a flush). The device's write first lands in memory —
 * so dma-debug's ownership sanitizer sees the device touch the buffer — and the STC then takes the
 * new bytes into its line and puts the old ones back, before anyone else can look. A device read
 * of a dirty line is served from the STC, as the hardware does.
 */

/** Bytes in one STC line. */
export const STC_LINE_SIZE = 64;
const LINES = IO_PAGE_SIZE / STC_LINE_SIZE;

/** One IO page the STC holds data for. */
class StcPage {
  index = 0;
  ctx = 0;
  /** Physical page the IOPTE maps (where a flush writes). */
  realPaddr = 0;
  /** RAM offset of the shadow page holding the lines, and its pfn. */
  shadowR = 0;
  shadowPfn = 0;
  shadowPaddr = 0;
  readonly dirty = new Uint8Array(LINES);
}

/** The STC's counters. */
export interface StrbufStats {
  /** Page flushes (`strbuf_pflush` writes). */
  readonly pflushes: number;
  /** Context flushes (`strbuf_ctxflush` writes). */
  readonly ctxflushes: number;
  /** Flush-flag handshakes (`strbuf_fsync`: every flush not for DMA_TO_DEVICE). */
  readonly flushSyncs: number;
  /** Dirty lines written to memory by flushes. */
  readonly linesWrittenBack: number;
  /** Device writes the STC took. */
  readonly bufferedWrites: number;
  /** Dirty lines it holds now. */
  readonly dirtyLines: number;
}

/** A device write in flight: its run, and where its old bytes wait in `scratch`. */
interface PendingWrite {
  page: StcPage;
  off: number;
  length: number;
  paddr: number;
  scratchOff: number;
}

/** `struct strbuf` of one sun4u PCI controller. */
export class Strbuf {
  /** `strbuf_enabled`. */
  enabled = true;
  /** `strbuf_ctxflush` (Schizo and later): flushes by context. */
  readonly ctxflush = true;
  private readonly pages = new Map<number, StcPage>();
  private readonly spare: StcPage[] = [];
  private pending: PendingWrite[] = [];
  private scratch = new Uint8Array(IO_PAGE_SIZE);
  private scratchUsed = 0;
  private unsubscribe: (() => void) | null = null;
  private counters = { pflushes: 0, ctxflushes: 0, flushSyncs: 0, linesWrittenBack: 0, bufferedWrites: 0 };

  constructor(private readonly machine: Machine) {}

  stats(): StrbufStats {
    let dirtyLines = 0;
    for (const page of this.pages.values()) for (const d of page.dirty) dirtyLines += d;
    return { ...this.counters, dirtyLines };
  }

  /** Whether the STC holds data for IO page `index`. */
  holds(index: number): boolean {
    return this.pages.has(index);
  }

  // ---- the device side (called from the IOMMU's translation)

  /**
   * A device write into streaming IO page `index` at `off` (at most to the page end): the run
   * goes to memory, and the STC takes it over once the bytes have landed (see `onAccess`).
   */
  write(index: number, ctx: number, realPaddr: number, off: number, length: number, out: TranslationRun): null {
    const n = Math.min(length, IO_PAGE_SIZE - off);
    out.paddr = realPaddr + off;
    out.length = n;
    const page = this.pageFor(index, ctx, realPaddr);
    if (page === null) return null; // no memory for the line: it goes straight through
    const { ram } = this.machine.hw;
    if (this.scratchUsed + n > this.scratch.length) {
      const bigger = new Uint8Array(Math.max(2 * this.scratch.length, this.scratchUsed + n));
      bigger.set(this.scratch.subarray(0, this.scratchUsed));
      this.scratch = bigger;
    }
    ram.readAt(ram.ramOffset(realPaddr + off, n), this.scratch, this.scratchUsed, n);
    this.pending.push({ page, off, length: n, paddr: realPaddr + off, scratchOff: this.scratchUsed });
    this.scratchUsed += n;
    if (this.unsubscribe === null) this.unsubscribe = this.machine.hw.observe(this.onAccess);
    return null;
  }

  /** A device read of streaming IO page `index`: dirty lines come from the STC, the rest from memory. */
  read(index: number, realPaddr: number, off: number, length: number, out: TranslationRun): null {
    const n = Math.min(length, IO_PAGE_SIZE - off);
    const page = this.pages.get(index);
    if (page === undefined) {
      out.paddr = realPaddr + off;
      out.length = n;
      return null;
    }
    const line = Math.floor(off / STC_LINE_SIZE);
    const isDirty = page.dirty[line] === 1;
    let end = page.dirty.indexOf(isDirty ? 0 : 1, line + 1);
    if (end < 0) end = LINES;
    out.length = Math.min(n, end * STC_LINE_SIZE - off);
    out.paddr = (isDirty ? page.shadowPaddr : realPaddr) + off;
    return null;
  }

  /** The access faulted before moving a byte: forget the writes it announced. */
  abandon(): void {
    for (const write of this.pending) this.releaseIfClean(write.page);
    this.pending = [];
    this.scratchUsed = 0;
    this.stopListening();
  }

  /** After the device's bytes landed: take them into the STC and put memory back as it was. */
  private readonly onAccess = (event: AccessEvent): void => {
    if (event.source !== 'device' || !event.write) return;
    const head = this.pending[0];
    if (head === undefined || head.paddr !== event.paddr || head.length !== event.length) return;
    this.pending.shift();
    const { ram } = this.machine.hw;
    const { page, off, length } = head;
    const realR = ram.ramOffset(page.realPaddr, IO_PAGE_SIZE);
    const la = Math.floor(off / STC_LINE_SIZE);
    const lb = Math.ceil((off + length) / STC_LINE_SIZE);
    // Line fills for the partly written edge lines the STC did not hold yet.
    if (page.dirty[la] !== 1 && off > la * STC_LINE_SIZE) ram.copyAt(page.shadowR + la * STC_LINE_SIZE, realR + la * STC_LINE_SIZE, off - la * STC_LINE_SIZE);
    if (page.dirty[lb - 1] !== 1 && off + length < lb * STC_LINE_SIZE) ram.copyAt(page.shadowR + off + length, realR + off + length, lb * STC_LINE_SIZE - off - length);
    ram.copyAt(page.shadowR + off, realR + off, length);
    ram.writeAt(realR + off, this.scratch, head.scratchOff, length);
    page.dirty.fill(1, la, lb);
    this.counters.bufferedWrites++;
    if (this.pending.length === 0) {
      this.scratchUsed = 0;
      this.stopListening();
    }
  };

  private stopListening(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private pageFor(index: number, ctx: number, realPaddr: number): StcPage | null {
    const known = this.pages.get(index);
    if (known !== undefined && known.realPaddr === realPaddr && known.ctx === ctx) return known;
    // Lines of an earlier mapping of this IO page that nobody flushed: out they go first.
    if (known !== undefined) this.flushOne(known);
    const pfn = this.machine.mm.allocPages(0);
    if (pfn === null) return null;
    const page = this.spare.pop() ?? new StcPage();
    page.index = index;
    page.ctx = ctx;
    page.realPaddr = realPaddr;
    page.shadowPfn = pfn;
    page.shadowPaddr = pfn * this.machine.pageSize;
    page.shadowR = this.machine.hw.ram.ramOffset(page.shadowPaddr, IO_PAGE_SIZE);
    this.pages.set(index, page);
    return page;
  }

  private releaseIfClean(page: StcPage): void {
    if (page.dirty.indexOf(1) >= 0 || !this.pages.has(page.index)) return;
    this.release(page);
  }

  private release(page: StcPage): void {
    this.pages.delete(page.index);
    this.machine.mm.freePages(page.shadowPfn, 0);
    page.dirty.fill(0);
    this.spare.push(page);
  }

  // ---- flushes (the CPU side)

  /** Writes a page's dirty lines to memory, a run of lines per copy, and drops the page. */
  private flushOne(page: StcPage): void {
    const { ram } = this.machine.hw;
    const realR = ram.ramOffset(page.realPaddr, IO_PAGE_SIZE);
    const dirty = page.dirty;
    for (let i = dirty.indexOf(1); i >= 0; ) {
      let j = dirty.indexOf(0, i);
      if (j < 0) j = LINES;
      ram.copyAt(realR + i * STC_LINE_SIZE, page.shadowR + i * STC_LINE_SIZE, (j - i) * STC_LINE_SIZE);
      this.counters.linesWrittenBack += j - i;
      i = j < LINES ? dirty.indexOf(1, j) : -1;
    }
    this.release(page);
  }

  /** `iommu_write(strbuf->strbuf_pflush, vaddr)` for IO page `index`. */
  pflush(index: number): void {
    this.counters.pflushes++;
    const page = this.pages.get(index);
    if (page !== undefined) this.flushOne(page);
  }

  /** `iommu_write(strbuf->strbuf_ctxflush, ctx)`: every line tagged with `ctx`. */
  ctxFlush(ctx: number): void {
    this.counters.ctxflushes++;
    for (const page of [...this.pages.values()]) if (page.ctx === ctx) this.flushOne(page);
  }

  /** `STC_FLUSHFLAG_INIT` / `strbuf_fsync`: wait until the flushes have reached memory. */
  flushSync(): void {
    this.counters.flushSyncs++;
  }
}
