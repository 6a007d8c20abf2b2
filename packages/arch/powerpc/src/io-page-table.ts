import { checkInteger, hex, type DmaFault, type DmaFaultKind, type DmaTranslation, type TranslationRun } from '@kdma/hw';
import type { IommuStats, Machine, MachineIommu } from '@kdma/dma-mapping/ops';

/*
 * The translation hardware behind PowerPC's IOMMU code, as the bus master walks it: a flat array of
 * 4 KiB IO page entries — pSeries TCEs (`TCE_PCI_READ`/`TCE_PCI_WRITE` + real page number) or Cell
 * IOPTEs (`CBE_IOPTE_PP_R`/`PP_W`, the strong-ordering bits, `M`, RPN) — and the windows a
 * device's DMA address space is made of. An access to an entry that is not valid, or that lacks the
 * permission the access needs, faults, as the PHB's TCE check (an EEH freeze on pSeries) or the
 * IOC's translation exception on Cell does.
 */

/** `IOMMU_PAGE_SHIFT`: TCE tables and the Cell dynamic window use 4 KiB IO pages, whatever PAGE_SIZE. */
export const IOMMU_PAGE_SHIFT = 12;
/** `IOMMU_PAGE_SIZE`. */
export const IOMMU_PAGE_SIZE = 4096;

/** One window of bus addresses with its own translation. */
export interface DmaWindow {
  /** First bus address. */
  readonly start: number;
  /** Bytes. */
  readonly size: number;
  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null;
}

/**
 * A table of IO page entries covering `[offset, offset + size)` IO pages of the bus address space.
 * Each entry is a real page number and a flags byte; `readBit`/`writeBit` are the flag bits that
 * let the device read or write through it.
 */
export class IoPageTable implements DmaWindow {
  /** First IO page number (`it_offset`). */
  readonly offset: number;
  /** Entries (`it_size`). */
  readonly entries: number;
  readonly start: number;
  readonly size: number;
  readonly readBit: number;
  readonly writeBit: number;
  /** Real page numbers (physical address / 4 KiB). */
  readonly rpn: Uint32Array;
  /** Flags per entry; 0 = invalid. */
  readonly flags: Uint8Array;
  /** Valid entries (for `mappedBytes`). */
  validEntries = 0;

  constructor(offset: number, entries: number, readBit: number, writeBit: number) {
    checkInteger(offset, 'offset');
    checkInteger(entries, 'entries', 1, 2 ** 28);
    this.offset = offset;
    this.entries = entries;
    this.start = offset * IOMMU_PAGE_SIZE;
    this.size = entries * IOMMU_PAGE_SIZE;
    this.readBit = readBit;
    this.writeBit = writeBit;
    this.rpn = new Uint32Array(entries);
    this.flags = new Uint8Array(entries);
  }

  /** Writes `npages` entries from table index `index` mapping consecutive 4 KiB pages from `paddr`. */
  set(index: number, npages: number, paddr: number, flags: number): void {
    const firstRpn = Math.floor(paddr / IOMMU_PAGE_SIZE);
    const { rpn } = this;
    for (let i = 0; i < npages; i++) rpn[index + i] = firstRpn + i;
    const was = this.countValid(index, npages);
    this.flags.fill(flags, index, index + npages);
    this.validEntries += (flags === 0 ? 0 : npages) - was;
  }

  /** Invalidates `npages` entries from table index `index`. */
  clear(index: number, npages: number): void {
    if (this.validEntries > 0) this.validEntries -= this.countValid(index, npages);
    this.flags.fill(0, index, index + npages);
  }

  private countValid(index: number, npages: number): number {
    let n = 0;
    const { flags } = this;
    const mask = this.readBit | this.writeBit;
    for (let i = index; i < index + npages; i++) if (((flags[i] as number) & mask) !== 0) n++;
    return n;
  }

  /** The entry of bus address `busAddr`: its flags and physical address, or null outside the table. */
  entryAt(busAddr: number): { flags: number; paddr: number } | null {
    const index = Math.floor(busAddr / IOMMU_PAGE_SIZE) - this.offset;
    if (index < 0 || index >= this.entries) return null;
    return { flags: this.flags[index] as number, paddr: (this.rpn[index] as number) * IOMMU_PAGE_SIZE };
  }

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const page = Math.floor(busAddr / IOMMU_PAGE_SIZE);
    const index = page - this.offset;
    if (index < 0 || index >= this.entries) return 'translation';
    const { flags, rpn } = this;
    const valid = this.readBit | this.writeBit;
    const need = write ? this.writeBit : this.readBit;
    const f = flags[index] as number;
    if ((f & valid) === 0) return 'translation';
    if ((f & need) === 0) return 'permission';
    const within = busAddr - page * IOMMU_PAGE_SIZE;
    const first = rpn[index] as number;
    let run = IOMMU_PAGE_SIZE - within;
    // Coalesce physically consecutive entries the access may use, so a long transfer is one run.
    for (let i = index + 1; run < length && i < this.entries; i++) {
      if (((flags[i] as number) & need) === 0 || rpn[i] !== first + (i - index)) break;
      run += IOMMU_PAGE_SIZE;
    }
    out.paddr = first * IOMMU_PAGE_SIZE + within;
    out.length = Math.min(run, length);
    return null;
  }
}

/** A window that maps bus addresses linearly onto physical ones (`phys = bus - offset`). */
export class LinearWindow implements DmaWindow {
  constructor(
    readonly start: number,
    readonly size: number,
    /** Bus address of physical address 0. */
    readonly offset: number,
    /** Whether device writes are allowed (and reads). */
    private readonly writable = true,
  ) {}

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    if (write && !this.writable) return 'permission';
    out.paddr = busAddr - this.offset;
    out.length = Math.min(length, this.start + this.size - busAddr);
    return null;
  }
}

/**
 * What a device's bus master sees: a list of windows (TCE table, fixed linear window, hypervisor
 * regions); any other bus address faults with `translation`.
 */
export class WindowedTranslation implements DmaTranslation {
  constructor(
    private readonly windows: DmaWindow[],
    private readonly faultHandler: (fault: DmaFault) => void,
  ) {}

  /** Adds a window (a PS3 region being created). */
  add(window: DmaWindow): void {
    this.windows.push(window);
  }

  /** Removes a window. */
  remove(window: DmaWindow): void {
    const i = this.windows.indexOf(window);
    if (i >= 0) this.windows.splice(i, 1);
  }

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const { windows } = this;
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i] as DmaWindow;
      if (busAddr < w.start || busAddr >= w.start + w.size) continue;
      const kind = w.translate(busAddr, Math.min(length, w.start + w.size - busAddr), write, out);
      return kind;
    }
    return 'translation';
  }

  onFault(fault: DmaFault): void {
    this.faultHandler(fault);
  }
}

/**
 * The machine's IOMMU as `machine.iommu` reports it: the TCE tables or Cell IO page tables, how
 * many bytes they map, how often the IOPTE cache was invalidated, and the faults.
 */
export class PowerpcIommu implements MachineIommu {
  readonly tables: IoPageTable[] = [];
  faults = 0;
  flushes = 0;

  constructor(
    readonly name: string,
    private readonly machine: Machine,
  ) {}

  /** Counts and logs a DMA fault the way the platform reports it. */
  reportFault(fault: DmaFault, source: string): void {
    this.faults++;
    this.machine.printk(
      'err',
      null,
      `${source}: DMA ${fault.write ? 'write' : 'read'} of ${fault.length} bytes by ${fault.device} faulted (${fault.kind}) at bus address ${hex(fault.busAddr)}`,
    );
  }

  stats(): IommuStats {
    let mapped = 0;
    for (const table of this.tables) mapped += table.validEntries * IOMMU_PAGE_SIZE;
    return { iotlbHits: 0, iotlbMisses: 0, faults: this.faults, mappedBytes: mapped, flushes: this.flushes, pendingFlushes: 0 };
  }
}
