import type { DmaFault, DmaFaultKind, DmaTranslation, TranslationRun } from '@kdma/hw';
import type { IommuStats, Machine, MachineIommu } from '@kdma/dma-mapping/ops';
import { iommuPtePaddr, PciIommuArena } from './pci-iommu-arena.js';
import { pow2 } from '@kdma/hw';

/*
 * arch/alpha/kernel/core_tsunami.c: the PCI side of the 21272 ("Tsunami"/"Typhoon") chipset as
 * `tsunami_init_one_pchip` programs it. Four windows turn a PCI address into a memory address:
 * - window 0, scatter-gather, 8 MiB at 8 MiB (`hose->sg_isa`, for ISA-reachable 24-bit DMA);
 * - window 1, scatter-gather, up to 1 GiB at 1 GiB (`hose->sg_pci`, sized for memory);
 * - window 2, direct, 2 GiB at 2 GiB (`__direct_map_base`, `__direct_map_size`);
 * - and DAC: a 64-bit address with bit 40 set is memory at the rest (`TSUNAMI_DAC_OFFSET`).
 * The scatter-gather windows walk their arena's PTEs through a TLB of 8 entries of 4 PTEs
 * ("Tsunami caches 4 PTEs at a time"), which `tsunami_pci_tbi` invalidates: one entry's worth
 * (TLBIV, matching PCI address bits <31:16>) when the range lies in one 64 KiB block, all of it
 * (TLBIA) otherwise. A freed PTE the TLB still holds keeps translating until then.
 */

/** `TSUNAMI_DAC_OFFSET`: bit 40. */
export const TSUNAMI_DAC_OFFSET = 2 ** 40;
/** Window 2: `__direct_map_base`, `__direct_map_size`. */
export const TSUNAMI_DIRECT_MAP_BASE = 0x8000_0000;
export const TSUNAMI_DIRECT_MAP_SIZE = 0x8000_0000;
/** Window 0 and window 1 bases. */
export const TSUNAMI_SG_ISA_BASE = 0x0080_0000;
export const TSUNAMI_SG_ISA_SIZE = 0x0080_0000;
export const TSUNAMI_SG_PCI_BASE = 0x4000_0000;

/** Scatter-gather TLB entries, and PTEs per entry. */
export const TSUNAMI_TLB_ENTRIES = 8;
export const TSUNAMI_TLB_PTES = 4;

/** The pchip's counters. */
export interface TsunamiStats {
  readonly tlbHits: number;
  readonly tlbMisses: number;
  /** `tsunami_pci_tbi` calls that invalidated everything (TLBIA) or one tag (TLBIV). */
  readonly tbia: number;
  readonly tbiv: number;
  /** Accesses through each kind of window. */
  readonly directAccesses: number;
  readonly dacAccesses: number;
  readonly sgAccesses: number;
  readonly faults: number;
}

/**
 * `size_for_memory`: the window size, or less when memory is smaller (rounded up to a power of
 * two) — there is no point mapping more than there is.
 */
export function sizeForMemory(max: number, memory: number): number {
  return memory < max ? pow2(Math.ceil(Math.log2(memory))) : max;
}

/** One pchip (`struct pci_controller` `hose` with its windows) and its scatter-gather TLB. */
export class TsunamiPchip implements MachineIommu, DmaTranslation {
  readonly name = 'pci-iommu';
  readonly machine: Machine;
  readonly pageSize: number;
  /** `hose->sg_isa`, `hose->sg_pci`. */
  readonly sgIsa: PciIommuArena;
  readonly sgPci: PciIommuArena;
  /** `__direct_map_base`, `__direct_map_size`, `alpha_mv.pci_dac_offset`. */
  readonly directMapBase: number = TSUNAMI_DIRECT_MAP_BASE;
  readonly directMapSize: number = TSUNAMI_DIRECT_MAP_SIZE;
  readonly dacOffset: number = TSUNAMI_DAC_OFFSET;
  /** TLB tags (bus address of the 4-PTE group; -1 empty) and the cached PTEs. */
  private readonly tlbTag = new Float64Array(TSUNAMI_TLB_ENTRIES).fill(-1);
  private readonly tlbPte = new Float64Array(TSUNAMI_TLB_ENTRIES * TSUNAMI_TLB_PTES);
  private tlbNext = 0;
  private counters = { tlbHits: 0, tlbMisses: 0, tbia: 0, tbiv: 0, directAccesses: 0, dacAccesses: 0, sgAccesses: 0, faults: 0 };

  constructor(machine: Machine) {
    this.machine = machine;
    this.pageSize = machine.pageSize;
    const tbi = (start: number, end: number): void => this.tbi(start, end);
    this.sgIsa = new PciIommuArena('sg_isa', TSUNAMI_SG_ISA_BASE, TSUNAMI_SG_ISA_SIZE, this.pageSize, tbi);
    this.sgPci = new PciIommuArena('sg_pci', TSUNAMI_SG_PCI_BASE, sizeForMemory(0x4000_0000, machine.maxPhysAddress), this.pageSize, tbi);
    // "Initially set for 4 PTEs, but will be overridden to 64K for ISA"; "Tsunami caches 4 PTEs at a time".
    this.sgIsa.alignEntry = 4;
    this.sgPci.alignEntry = 4;
  }

  stats(): IommuStats {
    const c = this.counters;
    return {
      iotlbHits: c.tlbHits,
      iotlbMisses: c.tlbMisses,
      faults: c.faults,
      mappedBytes: (this.sgIsa.inUse() + this.sgPci.inUse()) * this.pageSize,
      flushes: c.tbia + c.tbiv,
      pendingFlushes: 0,
    };
  }

  tsunamiStats(): TsunamiStats {
    return { ...this.counters };
  }

  /** `tsunami_pci_tbi`: TLBIV for a range inside one 64 KiB block, TLBIA otherwise. */
  tbi(start: number, end: number): void {
    if (start >= 0 && end >= 0 && Math.floor(start / 65536) === Math.floor(end / 65536)) {
      this.counters.tbiv++;
      const block = Math.floor(start / 65536);
      for (let e = 0; e < TSUNAMI_TLB_ENTRIES; e++) {
        const tag = this.tlbTag[e] as number;
        if (tag >= 0 && Math.floor(tag / 65536) === block) this.tlbTag[e] = -1;
      }
      return;
    }
    this.counters.tbia++;
    this.tlbTag.fill(-1);
  }

  /** Which window a bus address falls in, if any. */
  arenaOf(busAddr: number): PciIommuArena | null {
    if (this.sgPci.contains(busAddr)) return this.sgPci;
    if (this.sgIsa.contains(busAddr)) return this.sgIsa;
    return null;
  }

  // ---- the hardware side

  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): DmaFaultKind | null {
    if (busAddr >= this.dacOffset) {
      this.counters.dacAccesses++;
      out.paddr = busAddr - this.dacOffset;
      out.length = length;
      return null;
    }
    if (busAddr >= this.directMapBase && busAddr < this.directMapBase + this.directMapSize) {
      this.counters.directAccesses++;
      out.paddr = busAddr - this.directMapBase;
      out.length = Math.min(length, this.directMapBase + this.directMapSize - busAddr);
      return null;
    }
    const arena = this.arenaOf(busAddr);
    // No window claims it: a master abort.
    if (arena === null) return 'bus';
    this.counters.sgAccesses++;
    const page = this.pageSize;
    const index = Math.floor((busAddr - arena.dmaBase) / page);
    const paddr = this.lookup(arena, index);
    if (paddr < 0) return 'translation';
    const off = busAddr - arena.dmaBase - index * page;
    out.paddr = paddr + off;
    out.length = Math.min(length, page - off);
    return null;
  }

  /** The TLB, then the PTEs (a miss loads the entry's whole group of 4, valid or not). */
  private lookup(arena: PciIommuArena, index: number): number {
    const group = Math.floor(index / TSUNAMI_TLB_PTES);
    const tag = arena.dmaBase + group * TSUNAMI_TLB_PTES * this.pageSize;
    const slot = index - group * TSUNAMI_TLB_PTES;
    for (let e = 0; e < TSUNAMI_TLB_ENTRIES; e++) {
      if (this.tlbTag[e] === tag) {
        this.counters.tlbHits++;
        return this.tlbPte[e * TSUNAMI_TLB_PTES + slot] as number;
      }
    }
    this.counters.tlbMisses++;
    const e = this.tlbNext;
    this.tlbNext = (this.tlbNext + 1) % TSUNAMI_TLB_ENTRIES;
    this.tlbTag[e] = tag;
    for (let k = 0; k < TSUNAMI_TLB_PTES; k++) {
      const pte = arena.ptes[group * TSUNAMI_TLB_PTES + k] ?? 0;
      this.tlbPte[e * TSUNAMI_TLB_PTES + k] = iommuPtePaddr(pte, this.pageSize);
    }
    return this.tlbPte[e * TSUNAMI_TLB_PTES + slot] as number;
  }

  onFault(fault: DmaFault): void {
    if (fault.kind === 'translation' || fault.kind === 'bus') this.counters.faults++;
  }
}

const KEY = 'alpha:tsunami';

/** The machine's pchip, or null (a Jensen). */
export function tsunamiOf(machine: Machine): TsunamiPchip | null {
  const hose = machine.archState.get(KEY);
  return hose instanceof TsunamiPchip ? hose : null;
}

/** `tsunami_init_one_pchip`: the windows, on the machine as its IOMMU. */
export function tsunamiInit(machine: Machine): TsunamiPchip {
  const hose = new TsunamiPchip(machine);
  machine.archState.set(KEY, hose);
  machine.iommu = hose;
  return hose;
}
