import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { getOrder, pow2 } from '@kdma/hw';
import type { Machine } from '@kdma/dma-mapping/ops';

/*
 * arch/x86/kernel/tce_64.c and asm/tce.h: Calgary's translation control entries. A TCE is 8 bytes,
 * big-endian in memory (the PHB is a PowerPC part): bit 0 lets the device read, bit 1 write, and
 * bits 12..47 hold the real page number. An entry of 0 maps nothing.
 */

export const TCE_ENTRY_SIZE = 8;
export const TCE_READ_SHIFT = 0;
export const TCE_WRITE_SHIFT = 1;
export const TCE_RPN_SHIFT = 12;
/** `TCE_RPN_MASK`: bits 12..47. */
export const TCE_RPN_MASK = 0x0000_ffff_ffff_f000;
/** `TCE_TABLE_SIZE_64K` … `TCE_TABLE_SIZE_8M`: the table-size codes (64 KiB to 8 MiB of TCEs). */
export const TCE_TABLE_SIZE_64K = 0;
export const TCE_TABLE_SIZE_8M = 7;

const PAGE_SIZE = 4096;
const TWO_32 = 2 ** 32;

/** `table_size_to_number_of_entries`: `(1 << size) << 13` (8K … 1M entries). */
export function tableSizeToNumberOfEntries(size: number): number {
  return pow2(size) * 8192;
}

/** `determine_tce_table_size`: one TCE per 8 KiB of RAM (`get_order(ram >> 13)`), at most 8 MiB of TCEs. */
export function determineTceTableSize(ram: number): number {
  return Math.min(getOrder(Math.floor(ram / 8192), PAGE_SIZE), TCE_TABLE_SIZE_8M);
}

/** The TCE that maps the page at `paddr` for `dir`: read always, write unless `DMA_TO_DEVICE`. */
export function tceEncode(paddr: number, dir: DmaDataDirection): number {
  const rpn = Math.floor(paddr / PAGE_SIZE);
  const bits = pow2(TCE_READ_SHIFT) + (dir === DMA_TO_DEVICE ? 0 : pow2(TCE_WRITE_SHIFT));
  return (rpn * PAGE_SIZE) % (TCE_RPN_MASK + PAGE_SIZE) + bits;
}

/**
 * The TCEs of one table in memory: `tce_build` and `tce_free` write them through the kernel's
 * mapping of the table, as the CPU does (`flush_tce` then pushes them out of the CPU cache, which
 * on x86 the PHB snoops anyway); the PHB reads them with `read`.
 */
export class TceTable {
  private buffer = new Uint8Array(TCE_ENTRY_SIZE * 16);
  private view = new DataView(this.buffer.buffer);
  private readonly one = new Uint8Array(TCE_ENTRY_SIZE);
  private readonly oneView = new DataView(this.one.buffer);

  constructor(
    private readonly machine: Machine,
    /** `tbl->it_base`: the kernel address of the table. */
    readonly kva: number,
    /** Its physical address (what the TAR register holds). */
    readonly phys: number,
    /** `tbl->it_size`: entries. */
    readonly entries: number,
  ) {}

  /** `tce_build`: maps `npages` pages from `paddr` (page-aligned) at `index`. */
  build(index: number, npages: number, paddr: number, dir: DmaDataDirection): void {
    const bytes = this.scratch(npages);
    const first = tceEncode(paddr, dir);
    for (let i = 0; i < npages; i++) {
      const tce = first + i * PAGE_SIZE;
      this.view.setUint32(i * TCE_ENTRY_SIZE, Math.floor(tce / TWO_32));
      this.view.setUint32(i * TCE_ENTRY_SIZE + 4, tce % TWO_32);
    }
    this.machine.cpu.write(this.kva + index * TCE_ENTRY_SIZE, bytes);
  }

  /** `tce_free`: zeroes `npages` entries. */
  free(index: number, npages: number): void {
    this.machine.cpu.fill(this.kva + index * TCE_ENTRY_SIZE, npages * TCE_ENTRY_SIZE, 0);
  }

  /** The TCE at `index` as the PHB fetches it from memory. */
  read(index: number): number {
    this.machine.hw.ram.readInto(this.phys + index * TCE_ENTRY_SIZE, this.one);
    return this.oneView.getUint32(0) * TWO_32 + this.oneView.getUint32(4);
  }

  private scratch(npages: number): Uint8Array {
    const need = npages * TCE_ENTRY_SIZE;
    if (this.buffer.length < need) {
      this.buffer = new Uint8Array(Math.max(need, this.buffer.length * 2));
      this.view = new DataView(this.buffer.buffer);
    }
    return this.buffer.subarray(0, need);
  }
}

/** The physical page a TCE maps (`tce & TCE_RPN_MASK`). */
export function tceRpnAddress(tce: number): number {
  const low = tce % (TCE_RPN_MASK + PAGE_SIZE);
  return low - (low % PAGE_SIZE);
}

/** Whether a TCE lets the device read (`write` false) or write. */
export function tceAllows(tce: number, write: boolean): boolean {
  const bits = tce % 4;
  return write ? bits >= 2 : bits % 2 === 1;
}
