/**
 * What the io-pgtable formats share (include/linux/io-pgtable.h, include/linux/iommu.h): the prot
 * bits, the configuration and the ops they implement, and the memory the page tables live in.
 *
 * The tables are modelled as the hardware walks them — one array of descriptors per table, levels
 * linked by table descriptors — but they do not live in the machine's simulated RAM: a table
 * descriptor holds the number of the next table where the hardware holds its physical address,
 * and a descriptor's output address and its attribute bits are kept in two typed arrays side by
 * side (a 64-bit descriptor does not fit a JavaScript number). So page-table memory is not taken
 * from the page allocator and a stray device write cannot corrupt a table.
 */
import { addrMod, checkAddress, checkInteger, checkSize, describe, hex } from '@kdma/hw';
import { EINVAL } from '@kdma/mm';

/** `IOMMU_READ`: the device may read. */
export const IOMMU_READ = 1;
/** `IOMMU_WRITE`: the device may write. */
export const IOMMU_WRITE = 2;
/** `IOMMU_CACHE`: DMA cache coherency (the mapping is cacheable/snooped). */
export const IOMMU_CACHE = 4;
/** `IOMMU_NOEXEC`: not executable by the device. */
export const IOMMU_NOEXEC = 8;
/** `IOMMU_MMIO`: device memory ("e.g. things like MSI doorbells"). */
export const IOMMU_MMIO = 16;
/** `IOMMU_PRIV`: privileged accesses only. */
export const IOMMU_PRIV = 32;

/** ERANGE (errno 34): an address beyond the table's input or output size. Not in @kdma/mm. */
export const ERANGE = 34;
/** EEXIST (errno 17): a map over an existing mapping ("We require an unmap first"). Not in @kdma/mm. */
export const EEXIST = 17;

/** `IO_PGTABLE_QUIRK_ARM_NS`: set the NS bit in the descriptors (LPAE stage 1, v7s). */
export const IO_PGTABLE_QUIRK_ARM_NS = 1 << 0;
/** `IO_PGTABLE_QUIRK_NO_PERMS`: v7s without access permissions (every access allowed). */
export const IO_PGTABLE_QUIRK_NO_PERMS = 1 << 1;

/** `enum io_pgtable_fmt`, plus VT-d's second-level format (drivers/iommu/intel, not an io-pgtable in the kernel). */
export type IoPgtableFmt = 'ARM_32_LPAE_S1' | 'ARM_32_LPAE_S2' | 'ARM_64_LPAE_S1' | 'ARM_64_LPAE_S2' | 'ARM_V7S' | 'INTEL_VTD_SL';

export const IO_PGTABLE_FMTS: readonly IoPgtableFmt[] = ['ARM_32_LPAE_S1', 'ARM_32_LPAE_S2', 'ARM_64_LPAE_S1', 'ARM_64_LPAE_S2', 'ARM_V7S', 'INTEL_VTD_SL'];

/**
 * What an unmap that hits part of a larger leaf (a block, section or superpage) does:
 * `'reject'` — nothing, WARN "Unmap of a partial large IOPTE is not allowed", 0 bytes (ARM LPAE and
 * v7s since v6.13, 33729a5fc0ca "iommu/io-pgtable-arm: Remove split on unmap behavior");
 * `'split'` — the leaf is split into the next level minus the unmapped part (ARM LPAE and v7s
 * before v6.13); `'whole'` — the whole leaf goes and its size is returned (VT-d's "horrid API",
 * and what the other drivers do).
 */
export type PartialUnmap = 'reject' | 'split' | 'whole';

/** `struct iommu_flush_ops`: how the table tells the IOMMU driver what to invalidate. */
export interface IoPgtableFlushOps {
  /** `tlb_flush_walk`: a table was freed; invalidate walks (and leaves) cached for [iova, iova + size). */
  tlbFlushWalk?(iova: number, size: number, granule: number): void;
  /** `tlb_add_page`: a leaf of `granule` bytes at `iova` was unmapped. */
  tlbAddPage?(iova: number, granule: number): void;
}

/** `struct io_pgtable_cfg` as the caller gives it. */
export interface IoPgtableCfg {
  /** Page and block sizes the IOMMU supports (a bit per size; restricted by the format). */
  readonly pgsizeBitmap: number;
  /** Input (IOVA) address bits. */
  readonly ias: number;
  /** Output (physical) address bits. */
  readonly oas: number;
  /** `IO_PGTABLE_QUIRK_*` (ARM_NS, NO_PERMS); others make the allocation fail as in the kernel. */
  readonly quirks?: number;
  /** The CPU's PAGE_SIZE, which LPAE prefers as its granule (default 4096). */
  readonly pageSize?: number;
  /** Behaviour of an unmap inside a larger leaf (default: the format's today). */
  readonly partialUnmap?: PartialUnmap;
  /** The IOMMU driver's TLB callbacks. */
  readonly tlb?: IoPgtableFlushOps;
  /** Where the kernel's WARN/pr_crit lines go (default: nowhere). */
  readonly warn?: (message: string) => void;
}

/** The configuration after the format restricted it (what the kernel writes back into the cfg). */
export interface IoPgtableEffectiveCfg {
  readonly pgsizeBitmap: number;
  readonly ias: number;
  readonly oas: number;
  readonly quirks: number;
  readonly partialUnmap: PartialUnmap;
  /** Levels the hardware walks and the first one (LPAE numbers 0…3, v7s 1…2, VT-d 5…1). */
  readonly levels: number;
  readonly startLevel: number;
}

/** `translate`'s answer: the leaf that maps an IOVA. */
export interface IoPgtableWalk {
  /** The physical address `iova` translates to. */
  paddr: number;
  /** Bytes from `iova` to the end of its leaf (physically contiguous). */
  length: number;
  /** The leaf's permissions and attributes as the hardware reads them, as `IOMMU_*` bits. */
  prot: number;
}

/** Out-parameter of `mapPages` (`size_t *mapped`). */
export interface IoPgtableMapped {
  mapped: number;
}

export interface IoPgtableStats {
  /** Tables allocated (the top level included). */
  readonly tables: number;
  /** Bytes those tables would take in RAM. */
  readonly tableBytes: number;
}

/** `struct io_pgtable_ops` plus the hardware walk. */
export interface IoPgtableOps {
  readonly fmt: IoPgtableFmt;
  readonly cfg: IoPgtableEffectiveCfg;
  /**
   * The 2014–v5.x `->map`: one leaf of `size` bytes (one of the page sizes; VT-d, as
   * intel_iommu_map, any multiple of 4 KiB, using superpages where aligned). 0 or −errno.
   */
  map(iova: number, paddr: number, size: number, prot: number): number;
  /**
   * `->map_pages`: up to `pgcount` leaves of `pgsize`. Like the kernel's it may map fewer (LPAE
   * stops at the end of a table) and adds what it mapped to `mapped.mapped`; the caller calls again
   * for the rest. 0 or −errno.
   */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped?: IoPgtableMapped): number;
  /** `->unmap`: one leaf of `size` bytes; returns the bytes unmapped (0 on failure). */
  unmap(iova: number, size: number): number;
  /** `->unmap_pages`: up to `pgcount` leaves of `pgsize`; returns the bytes unmapped. */
  unmapPages(iova: number, pgsize: number, pgcount: number): number;
  /** `->iova_to_phys`: the physical address `iova` maps to, or 0. */
  iovaToPhys(iova: number): number;
  /**
   * The hardware's table walk: fills `out` with the leaf mapping `iova` and returns true, or
   * returns false (a translation fault). Allocates nothing.
   */
  translate(iova: number, out: IoPgtableWalk): boolean;
  /** `free_io_pgtable_ops`: releases every table; the ops cannot be used afterwards. */
  free(): void;
  stats(): IoPgtableStats;
}

/**
 * What every format's page table shares: its table memory, its top-level table, and the end of
 * its life (`free_io_pgtable_ops`), after which every operation throws.
 */
export abstract class IoPgtableBase {
  protected readonly mem: PgtableMemory;
  /** The top-level table (an id in `mem`); -1 once freed. */
  protected pgd = -1;
  protected freed = false;

  constructor(pteBytes: number) {
    this.mem = new PgtableMemory(pteBytes);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.onFree();
    this.mem.releaseAll();
    this.pgd = -1;
  }

  stats(): IoPgtableStats {
    return { tables: this.mem.tables, tableBytes: this.mem.bytes };
  }

  /** A format's own state that dies with its tables (a walk cache). */
  protected onFree(): void {}

  protected live(): void {
    if (this.freed) throw new Error('io-pgtable ops used after free()');
  }
}

/**
 * The tables of one page table: table `id` has `addr[id]` (output address of a leaf, or the id of
 * the next table) and `attr[id]` (the descriptor's other bits in the format's own layout; 0 is an
 * invalid descriptor) for each of its entries.
 */
export class PgtableMemory {
  readonly addr: Float64Array[] = [];
  readonly attr: Uint32Array[] = [];
  private readonly free = new Map<number, number[]>();
  tables = 0;
  bytes = 0;

  constructor(private readonly pteBytes: number) {}

  /** A zeroed table of `entries` descriptors. */
  alloc(entries: number): number {
    const list = this.free.get(entries);
    const reused = list?.pop();
    this.tables++;
    this.bytes += entries * this.pteBytes;
    if (reused !== undefined) return reused;
    this.addr.push(new Float64Array(entries));
    this.attr.push(new Uint32Array(entries));
    return this.addr.length - 1;
  }

  /** Returns a table; its descriptors are cleared for reuse. */
  release(id: number): void {
    const a = this.attr[id] as Uint32Array;
    a.fill(0);
    (this.addr[id] as Float64Array).fill(0);
    let list = this.free.get(a.length);
    if (list === undefined) {
      list = [];
      this.free.set(a.length, list);
    }
    list.push(id);
    this.tables--;
    this.bytes -= a.length * this.pteBytes;
  }

  releaseAll(): void {
    this.addr.length = 0;
    this.attr.length = 0;
    this.free.clear();
    this.tables = 0;
    this.bytes = 0;
  }
}

/** Checks the configuration's JavaScript types; the format decides what values it accepts. */
export function checkCfg(cfg: unknown): asserts cfg is IoPgtableCfg {
  if (typeof cfg !== 'object' || cfg === null) throw new TypeError(`cfg must be an object, got ${describe(cfg)}`);
  const c = cfg as Record<string, unknown>;
  checkInteger(c['pgsizeBitmap'], 'cfg.pgsizeBitmap', 0, Number.MAX_SAFE_INTEGER);
  checkInteger(c['ias'], 'cfg.ias', 1, 64);
  checkInteger(c['oas'], 'cfg.oas', 1, 64);
  if (c['quirks'] !== undefined) checkInteger(c['quirks'], 'cfg.quirks', 0, 0xffff);
  if (c['pageSize'] !== undefined) checkInteger(c['pageSize'], 'cfg.pageSize', 1, 2 ** 30);
  const pu = c['partialUnmap'];
  if (pu !== undefined && pu !== 'reject' && pu !== 'split' && pu !== 'whole') {
    throw new RangeError(`cfg.partialUnmap must be 'reject', 'split' or 'whole', got ${describe(pu)}`);
  }
  if (c['tlb'] !== undefined && (typeof c['tlb'] !== 'object' || c['tlb'] === null)) throw new TypeError(`cfg.tlb must be an object, got ${describe(c['tlb'])}`);
  if (c['warn'] !== undefined && typeof c['warn'] !== 'function') throw new TypeError(`cfg.warn must be a function, got ${describe(c['warn'])}`);
}

const ADDRESS_LIMIT = 2 ** 52;

function isAddress(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < ADDRESS_LIMIT;
}

/** Argument checks every format's map makes before the kernel's own checks. */
export function checkMapArgs(iova: unknown, paddr: unknown, pgsize: unknown, pgcount: unknown, prot: unknown): void {
  // The common case tested inline; the @kdma/hw checks only to throw the right error.
  if (isAddress(iova) && isAddress(paddr) && isAddress(pgsize) && (pgsize as number) >= 1 && Number.isSafeInteger(pgcount) && (pgcount as number) >= 1 && Number.isInteger(prot) && (prot as number) >= 0 && (prot as number) <= 0x7fffffff) return;
  checkAddress(iova, 'iova');
  checkAddress(paddr, 'paddr');
  checkSize(pgsize, 'pgsize');
  checkInteger(pgcount, 'pgcount', 1);
  checkInteger(prot, 'prot', 0, 0x7fffffff);
}

/** Argument checks of unmap. */
export function checkUnmapArgs(iova: unknown, pgsize: unknown, pgcount: unknown): void {
  if (isAddress(iova) && isAddress(pgsize) && (pgsize as number) >= 1 && Number.isSafeInteger(pgcount) && (pgcount as number) >= 1) return;
  checkAddress(iova, 'iova');
  checkSize(pgsize, 'pgsize');
  checkInteger(pgcount, 'pgcount', 1);
}

/**
 * iommu_map's alignment rule ("unaligned: iova 0x%lx pa %pa size 0x%zx"): the kernel checks it in
 * the core and the formats trust it; the model's formats check too, so that a direct caller gets
 * −EINVAL instead of a silently truncated address.
 */
export function misaligned(iova: number, paddr: number, pgsize: number): boolean {
  return addrMod(iova, pgsize) !== 0 || addrMod(paddr, pgsize) !== 0;
}

export { EINVAL, hex };
