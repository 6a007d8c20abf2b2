import { addrMod, alignDown, type DmaFault, type DmaFaultKind, type DmaTranslation, hex, type TranslationRun } from '@kdma/hw';
import type { Device } from '@kdma/dma-mapping';
import type { IommuStats, Machine, MachineIommu } from '@kdma/dma-mapping/ops';

/*
 * arch/ia64/sn/pci/pcibr/pcibr_dma.c (+ pcibr_ate.c): how an SGI Altix PCI bridge (PIC/TIOCP)
 * lets a device reach node memory. Three kinds of bus address:
 * - direct64 (`pcibr_dmatrans_direct64`): a 64-bit device uses the physical address, with
 *   attribute bits above it — `PCI64_ATTR_PREF` (prefetch) or `PCI64_ATTR_BAR` (barrier);
 * - direct32 (`pcibr_dmatrans_direct32`): a 32-bit device reaches the first 2 GiB of node memory
 *   through the window at `PCI32_DIRECT_BASE`; no attributes;
 * - ATE (`pcibr_dmamap_ate32`): 16 KiB pages mapped through the bridge's address translation
 *   entries at `PCI32_MAPPED_BASE`, each entry carrying `PCI32_ATE_PREF` or `PCI32_ATE_BAR`.
 * The barrier attribute makes a DMA write through that mapping push every earlier DMA write to
 * memory first: `DMA_ATTR_WRITE_BARRIER` asks for it (`provider->dma_map_consistent`).
 *
 * Bus addresses are numbers below 2^52 here, so the direct64 attribute bits (59, 60) cannot ride
 * in the address; the bridge records them per mapping instead, where a test can read them.
 */

/** `PCI32_MAPPED_BASE`: ATE-translated space. */
export const PCI32_MAPPED_BASE = 0x4000_0000;
/** `PCI32_DIRECT_BASE`: the 2 GiB direct32 window. */
export const PCI32_DIRECT_BASE = 0x8000_0000;
/** `IOPGSIZE`: an ATE maps 16 KiB (`IOPGSHIFT` 14). */
export const IOPGSIZE = 16384;
/** The PIC's internal ATEs (16 MiB of ATE space). */
export const PCIBR_INT_ATES = 1024;
/** Where node 0's memory starts: address space `AS` 3 (cached memory) of NASID 0. */
export const SN2_NODE0_MEMORY = 0x30_0000_0000;

/** How a mapping reaches memory, and the attributes the bridge gave it. */
export interface PcibrMapping {
  readonly kind: 'direct64' | 'direct32' | 'ate';
  /** `PCI64_ATTR_BAR` / `PCI32_ATE_BAR`: the write barrier. */
  readonly barrier: boolean;
  /** `PCI64_ATTR_PREF` / `PCI32_ATE_PREF`. */
  readonly prefetch: boolean;
}

const ATE_PREF = 1;
const ATE_BAR = 2;

/** The bridge's counters. */
export interface PcibrStats {
  readonly atesUsed: number;
  readonly direct64Maps: number;
  readonly direct32Maps: number;
  readonly ateMaps: number;
  /** Mappings made with the barrier attribute (`dma_map_consistent`). */
  readonly barrierMaps: number;
  readonly faults: number;
}

/**
 * `struct pcibus_info` as far as DMA goes: the ATE table with its allocator
 * (`pcibr_ate_alloc`: first fit from `lowest_free_index`, each run remembering its length) and
 * the windows. It is the translation of every device's bus master, and `machine.iommu`.
 */
export class PcibrBus implements MachineIommu, DmaTranslation {
  readonly name = 'sn-pcibr';
  readonly machine: Machine;
  /** `pbi_dir_xbase`: the node memory the direct32 window starts at. */
  readonly dirXbase: number;
  /** The ATE table: the 16 KiB-aligned physical page of each entry, or -1 (`PCI32_ATE_V` clear). */
  readonly ates: Float64Array;
  /** Each ATE's flags (`ATE_PREF`, `ATE_BAR`) and, at the first entry of a run, its length. */
  private readonly ateFlags: Uint8Array;
  private readonly ateRun: Uint16Array;
  private lowestFree = 0;
  /** direct64 mappings' attributes by bus address (a count per attribute kind). */
  private readonly direct64 = new Map<number, { bar: number; pref: number }>();
  private counters = { direct64Maps: 0, direct32Maps: 0, ateMaps: 0, barrierMaps: 0, faults: 0 };

  constructor(machine: Machine, dirXbase: number, ateCount = PCIBR_INT_ATES) {
    this.machine = machine;
    this.dirXbase = dirXbase;
    this.ates = new Float64Array(ateCount).fill(-1);
    this.ateFlags = new Uint8Array(ateCount);
    this.ateRun = new Uint16Array(ateCount);
  }

  stats(): IommuStats {
    let used = 0;
    for (const ate of this.ates) if (ate >= 0) used++;
    return { iotlbHits: 0, iotlbMisses: 0, faults: this.counters.faults, mappedBytes: used * IOPGSIZE, flushes: 0, pendingFlushes: 0 };
  }

  pcibrStats(): PcibrStats {
    let used = 0;
    for (const ate of this.ates) if (ate >= 0) used++;
    return { atesUsed: used, ...this.counters };
  }

  // ---- translation

  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): DmaFaultKind | null {
    const ateEnd = PCI32_MAPPED_BASE + this.ates.length * IOPGSIZE;
    if (busAddr >= PCI32_MAPPED_BASE && busAddr < ateEnd) {
      let i = Math.floor((busAddr - PCI32_MAPPED_BASE) / IOPGSIZE);
      const page = this.ates[i] as number;
      if (page < 0) return 'translation';
      const off = busAddr - PCI32_MAPPED_BASE - i * IOPGSIZE;
      let run = IOPGSIZE - off;
      let next = page + IOPGSIZE;
      while (run < length && i + 1 < this.ates.length && this.ates[i + 1] === next) {
        i++;
        run += IOPGSIZE;
        next += IOPGSIZE;
      }
      out.paddr = page + off;
      out.length = Math.min(run, length);
      return null;
    }
    if (busAddr >= PCI32_DIRECT_BASE && busAddr < 2 ** 32) {
      out.paddr = this.dirXbase + (busAddr - PCI32_DIRECT_BASE);
      out.length = Math.min(length, 2 ** 32 - busAddr);
      return null;
    }
    if (busAddr >= 2 ** 32) {
      out.paddr = busAddr;
      out.length = length;
      return null;
    }
    // Nothing on the bridge claims it: a master abort.
    return 'bus';
  }

  onFault(_fault: DmaFault): void {
    this.counters.faults++;
  }

  // ---- the three mapping kinds

  /** `pcibr_dmatrans_direct64`: the physical address; the attribute is recorded. */
  direct64Map(paddr: number, barrier: boolean): number {
    const rec = this.direct64.get(paddr) ?? { bar: 0, pref: 0 };
    if (barrier) rec.bar++;
    else rec.pref++;
    this.direct64.set(paddr, rec);
    this.counters.direct64Maps++;
    if (barrier) this.counters.barrierMaps++;
    return paddr;
  }

  /** `pcibr_dmatrans_direct32`: 0 when the buffer is not inside the 2 GiB window. */
  direct32Map(paddr: number, size: number): number {
    const offset = paddr - this.dirXbase;
    if (size > 2 ** 31 || paddr < this.dirXbase || offset + size > 2 ** 31) return 0;
    this.counters.direct32Maps++;
    return PCI32_DIRECT_BASE + offset;
  }

  /** `pcibr_dmamap_ate32`: ATEs for the 16 KiB pages the buffer spans; 0 when none are free. */
  ate32Map(paddr: number, size: number, barrier: boolean): number {
    const offset = addrMod(paddr, IOPGSIZE);
    const count = Math.floor((offset + size - 1) / IOPGSIZE) + 1;
    const index = this.ateAlloc(count);
    if (index < 0) return 0;
    const page = alignDown(paddr, IOPGSIZE);
    for (let i = 0; i < count; i++) {
      this.ates[index + i] = page + i * IOPGSIZE;
      this.ateFlags[index + i] = barrier ? ATE_BAR : ATE_PREF;
    }
    this.ateRun[index] = count;
    this.counters.ateMaps++;
    if (barrier) this.counters.barrierMaps++;
    return PCI32_MAPPED_BASE + offset + IOPGSIZE * index;
  }

  /** `pcibr_dma_unmap`: frees the ATEs of an ATE address; a direct64 record is dropped. */
  unmap(dmaAddr: number): void {
    if (dmaAddr >= PCI32_MAPPED_BASE && dmaAddr < PCI32_MAPPED_BASE + this.ates.length * IOPGSIZE) {
      const index = Math.floor((dmaAddr - PCI32_MAPPED_BASE) / IOPGSIZE);
      const count = this.ateRun[index] as number;
      this.ates.fill(-1, index, index + count);
      this.ateFlags.fill(0, index, index + count);
      this.ateRun[index] = 0;
      if (index < this.lowestFree) this.lowestFree = index;
      return;
    }
    const rec = this.direct64.get(dmaAddr);
    if (rec === undefined) return;
    if (rec.bar > 0) rec.bar--;
    else if (rec.pref > 0) rec.pref--;
    if (rec.bar + rec.pref === 0) this.direct64.delete(dmaAddr);
  }

  /** The attributes of a live mapping by its bus address, or null. */
  mappingOf(dmaAddr: number): PcibrMapping | null {
    if (dmaAddr >= PCI32_MAPPED_BASE && dmaAddr < PCI32_MAPPED_BASE + this.ates.length * IOPGSIZE) {
      const flags = this.ateFlags[Math.floor((dmaAddr - PCI32_MAPPED_BASE) / IOPGSIZE)] as number;
      if (flags === 0) return null;
      return { kind: 'ate', barrier: flags === ATE_BAR, prefetch: flags === ATE_PREF };
    }
    if (dmaAddr >= PCI32_DIRECT_BASE && dmaAddr < 2 ** 32) return { kind: 'direct32', barrier: false, prefetch: false };
    const rec = this.direct64.get(dmaAddr);
    if (rec === undefined) return null;
    return { kind: 'direct64', barrier: rec.bar > 0, prefetch: rec.bar === 0 };
  }

  /** `alloc_ate_resource`: first fit of `count` free entries from the lowest free one; -1 if none. */
  private ateAlloc(count: number): number {
    const n = this.ates.length;
    for (let start = this.lowestFree; start + count <= n; ) {
      let busy = -1;
      for (let i = start; i < start + count; i++) {
        if ((this.ates[i] as number) >= 0) {
          busy = i;
          break;
        }
      }
      if (busy < 0) {
        this.lowestFree = start + count;
        while (this.lowestFree < n && (this.ates[this.lowestFree] as number) >= 0) this.lowestFree++;
        return start;
      }
      start = busy + 1;
    }
    return -1;
  }

  toString(): string {
    return `pcibr(dir_xbase ${hex(this.dirXbase)}, ${this.ates.length} ATEs)`;
  }
}

const KEY = 'ia64:pcibr';

/** The machine's SN2 PCI bridge, or null. */
export function pcibrOf(machine: Machine): PcibrBus | null {
  const bus = machine.archState.get(KEY);
  return bus instanceof PcibrBus ? bus : null;
}

/** Puts the bridge on an SN2 machine (its direct32 window at the start of node 0's memory). */
export function pcibrInit(machine: Machine, dirXbase: number): PcibrBus {
  const bus = new PcibrBus(machine, dirXbase);
  machine.archState.set(KEY, bus);
  machine.iommu = bus;
  return bus;
}

/** What the bridge did with a device's mapping at `dmaAddr` (barrier or not), or null. */
export function sn2DmaMapping(dev: Device, dmaAddr: number): PcibrMapping | null {
  return pcibrOf(dev.machine)?.mappingOf(dmaAddr) ?? null;
}
