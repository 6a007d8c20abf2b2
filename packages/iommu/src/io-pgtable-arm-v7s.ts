/**
 * ARMv7 short-descriptor page tables (drivers/iommu/io-pgtable-arm-v7s.c), as MediaTek's and
 * other 32-bit IOMMUs use: two levels, 4 KiB small pages and 64 KiB large pages at level 2, 1 MiB
 * sections and 16 MiB supersections at level 1, 32-bit input and output addresses. A large page or
 * supersection is one descriptor repeated in 16 consecutive entries ("contiguous" entries).
 *
 * Follows today's kernel (v6.13+): -EINVAL for a map with neither read nor write (0 before 2024),
 * -EEXIST over an existing leaf, a section that replaces a level-2 table, and no splitting on a
 * partial unmap (cfg.partialUnmap `'split'` restores `arm_v7s_split_cont`/`arm_v7s_split_blk_unmap`).
 * The level-1 table has 2^(ias - 20) entries (`_ARM_V7S_LVL_BITS`); the MediaTek 4 GB / 35-bit
 * extensions are not modelled.
 *
 * The model's `attr` is the real 32-bit descriptor with its address bits cleared.
 */
import * as common from './io-pgtable-common.js';
import { pgsizeBitmapOf, pgsizeList } from './iommu-pgsize.js';
import type { IoPgtableCfg, IoPgtableEffectiveCfg, IoPgtableMapped, IoPgtableOps, IoPgtableWalk, PartialUnmap } from './io-pgtable-common.js';
import { addrMod, pow2 } from '@kdma/hw';

// Module-local copies of the shared definitions: under the CommonJS transpilers the tests and
// benches run on, every use of an imported binding is a getter call, too slow for the walk.
const EEXIST = common.EEXIST;
const EINVAL = common.EINVAL;
const ERANGE = common.ERANGE;
const IO_PGTABLE_QUIRK_ARM_NS = common.IO_PGTABLE_QUIRK_ARM_NS;
const IO_PGTABLE_QUIRK_NO_PERMS = common.IO_PGTABLE_QUIRK_NO_PERMS;
const IOMMU_CACHE = common.IOMMU_CACHE;
const IOMMU_MMIO = common.IOMMU_MMIO;
const IOMMU_NOEXEC = common.IOMMU_NOEXEC;
const IOMMU_PRIV = common.IOMMU_PRIV;
const IOMMU_READ = common.IOMMU_READ;
const IOMMU_WRITE = common.IOMMU_WRITE;
const IoPgtableBase = common.IoPgtableBase;
const checkMapArgs = common.checkMapArgs;
const checkUnmapArgs = common.checkUnmapArgs;
const hex = common.hex;
const misaligned = common.misaligned;

const ARM_V7S_ADDR_BITS = 32;
const ARM_V7S_CONT_PAGES = 16;
const L2_ENTRIES = 256;

const SZ_4K = 2 ** 12;
const SZ_64K = 2 ** 16;
const SZ_1M = 2 ** 20;
const SZ_16M = 2 ** 24;

const PTE_TYPE_TABLE = 0x1;
const PTE_TYPE_PAGE = 0x2;
const PTE_TYPE_CONT_PAGE = 0x1;
const ATTR_B = 1 << 2;
const ATTR_C = 1 << 3;
const ATTR_NS_TABLE = 1 << 3;
const ATTR_NS_SECTION = 1 << 19;
const CONT_SECTION = 1 << 18;
const CONT_PAGE_XN_SHIFT = 15;
const ATTR_AP0 = 1 << 0;
const ATTR_AP1 = 1 << 1;
const ATTR_AP2 = 1 << 5;
const ATTR_S = 1 << 6;
const ATTR_NG = 1 << 7;
const TEX_SHIFT = 2;
const TEX_MASK = 0x7;
const CONT_PAGE_TEX_SHIFT = 6;
const CONT_PAGE_TEX_MASK = TEX_MASK << CONT_PAGE_TEX_SHIFT;
const PTE_AF = ATTR_AP0;
const PTE_AP_UNPRIV = ATTR_AP1;
const PTE_AP_RDONLY = ATTR_AP2;

/** `ARM_V7S_BLOCK_SIZE` (2^ARM_V7S_LVL_SHIFT) by level. */
const BLOCK_SIZE = [0, SZ_1M, SZ_4K];
/** `ARM_V7S_ATTR_SHIFT`: attribute fields sit at [17:10] of a level-1 entry, [11:4] of a level-2 one. */
function attrShift(lvl: number): number {
  return 16 - lvl * 6;
}
/** `ARM_V7S_ATTR_XN`. */
function attrXn(lvl: number): number {
  return 1 << (4 * (2 - lvl));
}
function isValid(pte: number): boolean {
  return (pte & 0x3) !== 0;
}
function isTable(pte: number, lvl: number): boolean {
  return lvl === 1 && (pte & 0x3) === PTE_TYPE_TABLE;
}
/** `arm_v7s_pte_is_cont`. */
function isCont(pte: number, lvl: number): boolean {
  if (lvl === 1 && !isTable(pte, lvl)) return (pte & CONT_SECTION) !== 0;
  if (lvl === 2) return (pte & PTE_TYPE_PAGE) === 0;
  return false;
}

/** `arm_v7s_alloc_pgtable`: null for a configuration the kernel refuses. */
export function allocArmV7sPgtable(cfg: IoPgtableCfg): IoPgtableOps | null {
  const quirks = cfg.quirks ?? 0;
  if ((quirks & ~(IO_PGTABLE_QUIRK_ARM_NS | IO_PGTABLE_QUIRK_NO_PERMS)) !== 0) return null;
  if (cfg.ias > ARM_V7S_ADDR_BITS || cfg.oas > ARM_V7S_ADDR_BITS || cfg.ias <= 20) return null;
  const bitmap = pgsizeBitmapOf(pgsizeList(cfg.pgsizeBitmap).filter((s) => s === SZ_4K || s === SZ_64K || s === SZ_1M || s === SZ_16M));
  const partialUnmap = cfg.partialUnmap ?? 'reject';
  return new ArmV7sIoPgtable({ pgsizeBitmap: bitmap, ias: cfg.ias, oas: cfg.oas, quirks, partialUnmap, levels: 2, startLevel: 1 }, cfg);
}

class ArmV7sIoPgtable extends IoPgtableBase implements IoPgtableOps {
  readonly fmt = 'ARM_V7S' as const;
  private readonly l1Entries: number;
  private readonly sizes: number[];
  private readonly iasLimit: number;
  private readonly oasLimit: number;
  private readonly partialUnmap: PartialUnmap;
  private readonly noPerms: boolean;
  private readonly ns: boolean;
  private readonly scratch: IoPgtableWalk = { paddr: 0, length: 0, prot: 0 };
  /** arm_v7s_prot_to_pte per level (1, 2) and value of the six IOMMU_* bits. */
  private readonly encode = [new Uint32Array(0), new Uint32Array(64), new Uint32Array(64)];

  constructor(
    readonly cfg: IoPgtableEffectiveCfg,
    private readonly userCfg: IoPgtableCfg,
  ) {
    super(4);
    this.l1Entries = pow2(cfg.ias - 20);
    this.sizes = pgsizeList(cfg.pgsizeBitmap);
    this.iasLimit = pow2(cfg.ias);
    this.oasLimit = pow2(cfg.oas);
    this.partialUnmap = cfg.partialUnmap;
    this.noPerms = (cfg.quirks & IO_PGTABLE_QUIRK_NO_PERMS) !== 0;
    this.ns = (cfg.quirks & IO_PGTABLE_QUIRK_ARM_NS) !== 0;
    this.pgd = this.mem.alloc(this.l1Entries);
    for (let p = 0; p < 64; p++) {
      (this.encode[1] as Uint32Array)[p] = this.protToPte(p, 1);
      (this.encode[2] as Uint32Array)[p] = this.protToPte(p, 2);
    }
  }

  private warn(message: string): void {
    this.userCfg.warn?.(`arm-v7s io-pgtable: ${message}`);
  }

  private idx(iova: number, lvl: number): number {
    return addrMod(Math.floor(iova / (BLOCK_SIZE[lvl] as number)), lvl === 1 ? this.l1Entries : L2_ENTRIES);
  }

  /** `arm_v7s_prot_to_pte`. */
  private protToPte(prot: number, lvl: number): number {
    const ap = !this.noPerms;
    let pte = ATTR_NG | ATTR_S;
    if ((prot & IOMMU_MMIO) === 0) pte |= (1 & TEX_MASK) << TEX_SHIFT;
    if (ap) {
      pte |= PTE_AF;
      if ((prot & IOMMU_PRIV) === 0) pte |= PTE_AP_UNPRIV;
      if ((prot & IOMMU_WRITE) === 0) pte |= PTE_AP_RDONLY;
    }
    pte <<= attrShift(lvl);
    if (prot & IOMMU_NOEXEC && ap) pte |= attrXn(lvl);
    if (prot & IOMMU_MMIO) pte |= ATTR_B;
    else if (prot & IOMMU_CACHE) pte |= ATTR_B | ATTR_C;
    pte |= PTE_TYPE_PAGE;
    if (lvl === 1 && this.ns) pte |= ATTR_NS_SECTION;
    return pte >>> 0;
  }

  /** `arm_v7s_pte_to_prot`, after `arm_v7s_cont_to_pte` for contiguous entries. */
  private pteToProt(pte: number, lvl: number): number {
    if (isCont(pte, lvl)) pte = contToPte(pte, lvl);
    if (this.noPerms) {
      let prot = IOMMU_READ | IOMMU_WRITE;
      if (((pte >> attrShift(lvl)) & (TEX_MASK << TEX_SHIFT)) === 0) prot |= IOMMU_MMIO;
      else if (pte & ATTR_C) prot |= IOMMU_CACHE;
      return prot;
    }
    let prot = IOMMU_READ;
    const attr = pte >> attrShift(lvl);
    if ((attr & PTE_AP_RDONLY) === 0) prot |= IOMMU_WRITE;
    if ((attr & PTE_AP_UNPRIV) === 0) prot |= IOMMU_PRIV;
    if ((attr & (TEX_MASK << TEX_SHIFT)) === 0) prot |= IOMMU_MMIO;
    else if (pte & ATTR_C) prot |= IOMMU_CACHE;
    if (pte & attrXn(lvl)) prot |= IOMMU_NOEXEC;
    return prot;
  }

  map(iova: number, paddr: number, size: number, prot: number): number {
    return this.mapPages(iova, paddr, size, 1, prot);
  }

  /** `arm_v7s_map_pages`. */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped?: IoPgtableMapped): number {
    this.live();
    checkMapArgs(iova, paddr, pgsize, pgcount, prot);
    if (!this.sizes.includes(pgsize)) {
      this.warn(`map_pages: pgsize ${hex(pgsize)} is not in the page-size bitmap`);
      return -EINVAL;
    }
    if (iova >= this.iasLimit || paddr >= this.oasLimit) {
      this.warn(`map_pages: iova ${hex(iova)} or paddr ${hex(paddr)} beyond ias ${this.cfg.ias}/oas ${this.cfg.oas}`);
      return -ERANGE;
    }
    if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -EINVAL;
    if (misaligned(iova, paddr, pgsize)) return -EINVAL;
    let ret = 0;
    while (pgcount-- > 0) {
      // The kernel checks only the first page; the model stops where the next would wrap.
      if (iova + pgsize > this.iasLimit || paddr + pgsize > this.oasLimit) return -ERANGE;
      ret = this.mapOne(iova, paddr, pgsize, prot);
      if (ret !== 0) break;
      iova += pgsize;
      paddr += pgsize;
      if (mapped !== undefined) mapped.mapped += pgsize;
    }
    return ret;
  }

  /** `__arm_v7s_map` from level 1. */
  private mapOne(iova: number, paddr: number, size: number, prot: number): number {
    const { addr, attr } = this.mem;
    let t = this.pgd;
    for (let lvl = 1; lvl <= 2; lvl++) {
      const idx = this.idx(iova, lvl);
      const num = Math.floor(size / (BLOCK_SIZE[lvl] as number));
      if (num > 0) return this.initPte(iova, paddr, prot, lvl, num, t, idx);
      if (lvl === 2) return -EINVAL;
      const ta = attr[t] as Uint32Array;
      const pte = ta[idx] as number;
      if (pte === 0) {
        const child = this.mem.alloc(L2_ENTRIES);
        ta[idx] = this.ns ? PTE_TYPE_TABLE | ATTR_NS_TABLE : PTE_TYPE_TABLE;
        (addr[t] as Float64Array)[idx] = child;
        t = child;
      } else if (isTable(pte, lvl)) {
        t = (addr[t] as Float64Array)[idx] as number;
      } else {
        this.warn(`__arm_v7s_map: iova ${hex(iova)} lies in a section (We require an unmap first)`);
        return -EEXIST;
      }
    }
    return -EINVAL;
  }

  /** `arm_v7s_init_pte` (every entry checked before any changes, so a failure changes nothing). */
  private initPte(iova: number, paddr: number, prot: number, lvl: number, num: number, t: number, idx: number): number {
    const ta = this.mem.attr[t] as Uint32Array;
    const tp = this.mem.addr[t] as Float64Array;
    for (let i = 0; i < num; i++) {
      const pte = ta[idx + i] as number;
      if (pte !== 0 && !isTable(pte, lvl)) {
        this.warn(`arm_v7s_init_pte: iova ${hex(iova)} is already mapped (We require an unmap first)`);
        return -EEXIST;
      }
    }
    const sz = BLOCK_SIZE[lvl] as number;
    for (let i = 0; i < num; i++) {
      if (isTable(ta[idx + i] as number, lvl)) {
        this.mem.release(tp[idx + i] as number);
        ta[idx + i] = 0;
        this.userCfg.tlb?.tlbFlushWalk?.(iova + i * sz, sz, SZ_4K);
      }
    }
    let pte = (this.encode[lvl] as Uint32Array)[prot & 63] as number;
    if (num > 1) pte = pteToCont(pte, lvl);
    for (let i = 0; i < num; i++) {
      ta[idx + i] = pte;
      tp[idx + i] = paddr; // one descriptor repeated: the same output address
    }
    return 0;
  }

  unmap(iova: number, size: number): number {
    return this.unmapPages(iova, size, 1);
  }

  /** `arm_v7s_unmap_pages`. */
  unmapPages(iova: number, pgsize: number, pgcount: number): number {
    this.live();
    checkUnmapArgs(iova, pgsize, pgcount);
    if (iova >= this.iasLimit) {
      this.warn(`unmap_pages: iova ${hex(iova)} beyond ias ${this.cfg.ias}`);
      return 0;
    }
    if (!this.sizes.includes(pgsize)) return 0;
    let unmapped = 0;
    while (pgcount-- > 0 && iova + pgsize <= this.iasLimit) {
      const ret = this.unmapAt(iova, pgsize, 1, this.pgd);
      if (ret === 0) break;
      unmapped += pgsize;
      iova += pgsize;
    }
    return unmapped;
  }

  /** `__arm_v7s_unmap`. */
  private unmapAt(iova: number, size: number, lvl: number, t: number): number {
    if (lvl > 2) return 0;
    const { addr, attr } = this.mem;
    const ta = attr[t] as Uint32Array;
    const tp = addr[t] as Float64Array;
    const idx = this.idx(iova, lvl);
    const num = Math.floor(size / (BLOCK_SIZE[lvl] as number));
    const blkSize = BLOCK_SIZE[lvl] as number;
    for (let i = 0; i < Math.max(num, 1); i++) {
      if (!isValid(ta[idx + i] as number)) {
        this.warn(`__arm_v7s_unmap: iova ${hex(iova + i * blkSize)} is not mapped`);
        return 0;
      }
    }
    const pte0 = ta[idx] as number;
    if (num <= 1 && isCont(pte0, lvl)) {
      // Part of a large page or supersection.
      if (this.partialUnmap === 'reject') {
        this.warn(`Unmap of a partial large IOPTE is not allowed (iova ${hex(iova)}, size ${hex(size)})`);
        return 0;
      }
      const first = idx - (idx % ARM_V7S_CONT_PAGES);
      const contSize = blkSize * ARM_V7S_CONT_PAGES;
      const contIova = Math.floor(iova / contSize) * contSize;
      if (this.partialUnmap === 'whole') {
        ta.fill(0, first, first + ARM_V7S_CONT_PAGES);
        tp.fill(0, first, first + ARM_V7S_CONT_PAGES);
        this.userCfg.tlb?.tlbAddPage?.(contIova, contSize);
        return contSize;
      }
      // arm_v7s_split_cont: sixteen ordinary entries in place of the repeated one.
      const base = tp[first] as number;
      const pte = contToPte(pte0, lvl);
      for (let i = 0; i < ARM_V7S_CONT_PAGES; i++) {
        ta[first + i] = pte;
        tp[first + i] = base + i * blkSize;
      }
      this.userCfg.tlb?.tlbAddPage?.(contIova, contSize);
    }
    if (num > 0) {
      for (let i = 0; i < num; i++) {
        const pte = ta[idx + i] as number;
        if (isTable(pte, lvl)) {
          this.userCfg.tlb?.tlbFlushWalk?.(iova + i * blkSize, blkSize, SZ_4K);
          this.mem.release(tp[idx + i] as number);
        } else {
          this.userCfg.tlb?.tlbAddPage?.(iova + i * blkSize, blkSize);
        }
        ta[idx + i] = 0;
        tp[idx + i] = 0;
      }
      return size;
    }
    if (lvl === 1 && !isTable(ta[idx] as number, lvl)) {
      // Part of a section.
      if (this.partialUnmap === 'reject') {
        this.warn(`Unmap of a partial large IOPTE is not allowed (iova ${hex(iova)}, size ${hex(size)})`);
        return 0;
      }
      if (this.partialUnmap === 'whole') {
        ta[idx] = 0;
        tp[idx] = 0;
        this.userCfg.tlb?.tlbAddPage?.(Math.floor(iova / blkSize) * blkSize, blkSize);
        return blkSize;
      }
      return this.splitBlkUnmap(iova, size, t, idx);
    }
    return this.unmapAt(iova, size, lvl + 1, tp[idx] as number);
  }

  /** `arm_v7s_split_blk_unmap`: a section becomes a level-2 table without the unmapped part. */
  private splitBlkUnmap(iova: number, size: number, t: number, idx: number): number {
    const pta = this.mem.attr[t] as Uint32Array;
    const ptp = this.mem.addr[t] as Float64Array;
    const blkPte = pta[idx] as number;
    const blkPaddr = ptp[idx] as number;
    const numEntries = Math.floor(size / SZ_4K);
    const table = this.mem.alloc(L2_ENTRIES);
    const ta = this.mem.attr[table] as Uint32Array;
    const tp = this.mem.addr[table] as Float64Array;
    let pte = this.protToPte(this.pteToProt(blkPte, 1), 2);
    if (numEntries > 1) pte = pteToCont(pte, 2);
    const unmapIdx = this.idx(iova, 2);
    for (let i = 0; i < L2_ENTRIES; i += numEntries) {
      if (i === unmapIdx) continue;
      for (let j = 0; j < numEntries; j++) {
        ta[i + j] = pte;
        tp[i + j] = blkPaddr + i * SZ_4K;
      }
    }
    pta[idx] = this.ns ? PTE_TYPE_TABLE | ATTR_NS_TABLE : PTE_TYPE_TABLE;
    ptp[idx] = table;
    this.userCfg.tlb?.tlbAddPage?.(iova, size);
    return size;
  }

  /** `arm_v7s_iova_to_phys`. */
  iovaToPhys(iova: number): number {
    this.live();
    return this.translate(iova, this.scratch) ? this.scratch.paddr : 0;
  }

  translate(iova: number, out: IoPgtableWalk): boolean {
    if (!Number.isSafeInteger(iova) || iova < 0) throw new RangeError(`iova must be a non-negative integer, got ${String(iova)}`);
    if (iova >= this.iasLimit || this.freed) return false;
    const { addr, attr } = this.mem;
    let t = this.pgd;
    for (let lvl = 1; lvl <= 2; lvl++) {
      const idx = this.idx(iova, lvl);
      const pte = (attr[t] as Uint32Array)[idx] as number;
      if (!isValid(pte)) return false;
      if (!isTable(pte, lvl)) {
        const size = (BLOCK_SIZE[lvl] as number) * (isCont(pte, lvl) ? ARM_V7S_CONT_PAGES : 1);
        const off = addrMod(iova, size);
        out.paddr = ((addr[t] as Float64Array)[idx] as number) + off;
        out.length = size - off;
        out.prot = this.pteToProt(pte, lvl);
        return true;
      }
      t = (addr[t] as Float64Array)[idx] as number;
    }
    return false;
  }

}

/** `arm_v7s_pte_to_cont`. */
function pteToCont(pte: number, lvl: number): number {
  if (lvl === 1) return (pte | CONT_SECTION) >>> 0;
  const xn = pte & attrXn(lvl);
  const tex = pte & CONT_PAGE_TEX_MASK;
  pte ^= xn | tex | PTE_TYPE_PAGE;
  pte |= (xn << CONT_PAGE_XN_SHIFT) | (tex << CONT_PAGE_TEX_SHIFT) | PTE_TYPE_CONT_PAGE;
  return pte >>> 0;
}

/** `arm_v7s_cont_to_pte`. */
function contToPte(pte: number, lvl: number): number {
  if (lvl === 1) return (pte & ~CONT_SECTION) >>> 0;
  const xn = pte & (1 << CONT_PAGE_XN_SHIFT);
  const tex = pte & (CONT_PAGE_TEX_MASK << CONT_PAGE_TEX_SHIFT);
  pte ^= xn | tex | PTE_TYPE_CONT_PAGE;
  pte |= (xn >> CONT_PAGE_XN_SHIFT) | (tex >> CONT_PAGE_TEX_SHIFT) | PTE_TYPE_PAGE;
  return pte >>> 0;
}
