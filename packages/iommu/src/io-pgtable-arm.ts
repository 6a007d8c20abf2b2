/**
 * ARM LPAE page tables (drivers/iommu/io-pgtable-arm.c): the SMMU's stage-1 and stage-2 formats,
 * 64-bit (VMSAv8-64) and 32-bit (LPAE), with 4K, 16K or 64K granules.
 *
 * Follows today's kernel (v6.13+): `map_pages`/`unmap_pages`, -EINVAL for a map with neither read
 * nor write (it returned 0, mapping nothing, before 2024), -EEXIST for a map over a leaf, a block
 * that replaces a table (the table and everything under it go, as arm_lpae_init_pte does), and no
 * splitting of a block on a partial unmap (cfg.partialUnmap `'split'` restores the v3.x–v6.12
 * behaviour).
 *
 * Descriptor attribute word (the model's `attr`): bits [11:0] are the descriptor's own low bits —
 * TYPE[1:0], AttrIndx[4:2] (S1) or MemAttr[5:2] (S2), NS[5], AP[7:6] (S1) or HAP[7:6] (S2),
 * SH[9:8], AF[10], nG[11] — and bit 12 stands for XN (bits [54:53], beyond a JavaScript number).
 */
import * as common from './io-pgtable-common.js';
import { pgsizeBitmapOf, pgsizeList } from './iommu-pgsize.js';
import type { IoPgtableCfg, IoPgtableEffectiveCfg, IoPgtableFmt, IoPgtableMapped, IoPgtableOps, IoPgtableWalk, PartialUnmap } from './io-pgtable-common.js';
import { addrMod, pow2 } from '@kdma/hw';

/** `readEntry` results other than a table index (indices are non-negative). */
const WALK_EMPTY = -1;
const WALK_LEAF = -2;

// Module-local copies of the shared definitions: under the CommonJS transpilers the tests and
// benches run on, every use of an imported binding is a getter call, too slow for the walk.
const EEXIST = common.EEXIST;
const EINVAL = common.EINVAL;
const ERANGE = common.ERANGE;
const IO_PGTABLE_QUIRK_ARM_NS = common.IO_PGTABLE_QUIRK_ARM_NS;
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

const ARM_LPAE_MAX_ADDR_BITS = 52;
const ARM_LPAE_S2_MAX_CONCAT_PAGES = 16;
const ARM_LPAE_MAX_LEVELS = 4;

const SZ_4K = 2 ** 12;
const SZ_16K = 2 ** 14;
const SZ_64K = 2 ** 16;
const SZ_2M = 2 ** 21;
const SZ_32M = 2 ** 25;
const SZ_512M = 2 ** 29;
const SZ_1G = 2 ** 30;
const SZ_4T = 2 ** 42;

const PTE_TYPE_MASK = 0x3;
const PTE_TYPE_BLOCK = 1;
const PTE_TYPE_TABLE = 3;
const PTE_TYPE_PAGE = 3;
const PTE_NS = 1 << 5;
const PTE_SH_OS = 2 << 8;
const PTE_SH_IS = 3 << 8;
const PTE_AF = 1 << 10;
const PTE_NG = 1 << 11;
/** Model bit for XN (ARM_LPAE_PTE_XN is 3 << 53). */
const PTE_XN = 1 << 12;
const PTE_AP_UNPRIV = 1 << 6;
const PTE_AP_RDONLY = 2 << 6;
const PTE_HAP_READ = 1 << 6;
const PTE_HAP_WRITE = 2 << 6;
const PTE_MEMATTR_OIWB = 0xf << 2;
const PTE_MEMATTR_NC = 0x5 << 2;
const PTE_MEMATTR_DEV = 0x1 << 2;
const PTE_ATTRINDX_SHIFT = 2;
const MAIR_ATTR_IDX_CACHE = 1;
const MAIR_ATTR_IDX_DEV = 2;
const ATTR_COUNT = 1 << 13;

/** The oas values the TCR/VTCR PS field can encode. */
const OAS_ENCODABLE = new Set([32, 36, 40, 42, 44, 48, 52]);

/**
 * `arm_lpae_restrict_pgsizes`: picks the granule (the CPU page size if supported, else the largest
 * smaller size, else the smallest larger one) and keeps only that granule's block sizes.
 */
function restrictPgsizes(bitmap: number, pageSize: number, oas: number): { bitmap: number; maxAddrBits: number } {
  const sizes = pgsizeList(bitmap);
  let granule = 0;
  if (sizes.includes(pageSize)) granule = pageSize;
  else if (sizes.some((s) => s < pageSize)) granule = Math.max(...sizes.filter((s) => s < pageSize));
  else if (sizes.some((s) => s > pageSize)) granule = Math.min(...sizes.filter((s) => s > pageSize));
  let allowed: number[];
  let maxAddrBits = 48;
  switch (granule) {
    case SZ_4K:
      allowed = [SZ_4K, SZ_2M, SZ_1G];
      break;
    case SZ_16K:
      allowed = [SZ_16K, SZ_32M];
      break;
    case SZ_64K:
      maxAddrBits = 52;
      allowed = oas > 48 ? [SZ_64K, SZ_512M, SZ_4T] : [SZ_64K, SZ_512M];
      break;
    default:
      allowed = [];
  }
  return { bitmap: pgsizeBitmapOf(sizes.filter((s) => allowed.includes(s))), maxAddrBits };
}

/**
 * `arm_{32,64}_lpae_alloc_pgtable_s{1,2}`: null when the configuration cannot be built, as the
 * kernel's allocators return NULL.
 */
export function allocArmLpaePgtable(fmt: IoPgtableFmt, cfg: IoPgtableCfg): IoPgtableOps | null {
  let bitmap = cfg.pgsizeBitmap;
  let ias = cfg.ias;
  let oas = cfg.oas;
  const quirks = cfg.quirks ?? 0;
  const stage2 = fmt === 'ARM_64_LPAE_S2' || fmt === 'ARM_32_LPAE_S2';
  if (fmt === 'ARM_32_LPAE_S1' || fmt === 'ARM_32_LPAE_S2') {
    if (ias > (stage2 ? 40 : 32) || oas > 40) return null;
    bitmap = pgsizeBitmapOf(pgsizeList(bitmap).filter((s) => s === SZ_4K || s === SZ_2M || s === SZ_1G));
  }
  // The NS quirk is stage 1 only; the model supports no other ARM quirk.
  if ((stage2 && quirks !== 0) || (quirks & ~IO_PGTABLE_QUIRK_ARM_NS) !== 0) return null;
  const r = restrictPgsizes(bitmap, cfg.pageSize ?? 4096, oas);
  bitmap = r.bitmap;
  ias = Math.min(ias, r.maxAddrBits);
  oas = Math.min(oas, r.maxAddrBits);
  const sizes = pgsizeList(bitmap);
  const granule = sizes[0];
  if (granule === undefined || !(granule === SZ_4K || granule === SZ_16K || granule === SZ_64K)) return null;
  if (ias > ARM_LPAE_MAX_ADDR_BITS || oas > ARM_LPAE_MAX_ADDR_BITS || !OAS_ENCODABLE.has(oas)) return null;
  const pgShift = Math.log2(granule);
  const bitsPerLevel = pgShift - 3;
  const vaBits = ias - pgShift;
  if (vaBits <= 0) return null;
  const levels = Math.ceil(vaBits / bitsPerLevel);
  let startLevel = ARM_LPAE_MAX_LEVELS - levels;
  let pgdBits = vaBits - bitsPerLevel * (levels - 1);
  if (stage2 && startLevel === 0 && pow2(pgdBits) <= ARM_LPAE_S2_MAX_CONCAT_PAGES) {
    // Concatenate PGDs at level 1 to shorten the stage-2 walk.
    pgdBits += bitsPerLevel;
    startLevel++;
  }
  const partialUnmap = cfg.partialUnmap ?? 'reject';
  const eff: IoPgtableEffectiveCfg = { pgsizeBitmap: bitmap, ias, oas, quirks, partialUnmap, levels: ARM_LPAE_MAX_LEVELS - startLevel, startLevel };
  return new ArmLpaeIoPgtable(fmt, eff, cfg, stage2, bitsPerLevel, pgdBits);
}

/** `arm_lpae_prot_to_pte`. */
function protToPte(prot: number, stage2: boolean, ns: boolean): number {
  let pte: number;
  if (!stage2) {
    pte = PTE_NG;
    if ((prot & IOMMU_WRITE) === 0 && (prot & IOMMU_READ) !== 0) pte |= PTE_AP_RDONLY;
    if ((prot & IOMMU_PRIV) === 0) pte |= PTE_AP_UNPRIV;
    if (prot & IOMMU_MMIO) pte |= MAIR_ATTR_IDX_DEV << PTE_ATTRINDX_SHIFT;
    else if (prot & IOMMU_CACHE) pte |= MAIR_ATTR_IDX_CACHE << PTE_ATTRINDX_SHIFT;
  } else {
    pte = 0; // HAP_FAULT
    if (prot & IOMMU_READ) pte |= PTE_HAP_READ;
    if (prot & IOMMU_WRITE) pte |= PTE_HAP_WRITE;
    if (prot & IOMMU_MMIO) pte |= PTE_MEMATTR_DEV;
    else if (prot & IOMMU_CACHE) pte |= PTE_MEMATTR_OIWB;
    else pte |= PTE_MEMATTR_NC;
  }
  pte |= prot & IOMMU_CACHE ? PTE_SH_IS : PTE_SH_OS;
  if (prot & IOMMU_NOEXEC) pte |= PTE_XN;
  if (ns) pte |= PTE_NS;
  return pte | PTE_AF;
}

/** What the SMMU lets a device do through a leaf with these attribute bits, as IOMMU_* bits. */
function pteToProt(attr: number, stage2: boolean): number {
  let prot = 0;
  if (!stage2) {
    // A valid stage-1 leaf with AF set is always readable; AP[2] makes it read-only.
    prot = IOMMU_READ;
    if ((attr & PTE_AP_RDONLY) === 0) prot |= IOMMU_WRITE;
    if ((attr & PTE_AP_UNPRIV) === 0) prot |= IOMMU_PRIV;
    const idx = (attr >> PTE_ATTRINDX_SHIFT) & 0x7;
    if (idx === MAIR_ATTR_IDX_DEV) prot |= IOMMU_MMIO;
    else if (idx === MAIR_ATTR_IDX_CACHE) prot |= IOMMU_CACHE;
  } else {
    if (attr & PTE_HAP_READ) prot |= IOMMU_READ;
    if (attr & PTE_HAP_WRITE) prot |= IOMMU_WRITE;
    const memattr = attr & (0xf << 2);
    if (memattr === PTE_MEMATTR_DEV) prot |= IOMMU_MMIO;
    else if (memattr === PTE_MEMATTR_OIWB) prot |= IOMMU_CACHE;
  }
  if (attr & PTE_XN) prot |= IOMMU_NOEXEC;
  return prot;
}

class ArmLpaeIoPgtable extends IoPgtableBase implements IoPgtableOps {
  private readonly startLevel: number;
  private readonly granule: number;
  private readonly ptesPerTable: number;
  /** Per level 0…3: BLOCK_SIZE (2^LVL_SHIFT) and entries of a table at that level. */
  private readonly blockSize: number[] = [];
  private readonly entries: number[] = [];
  private readonly sizes: number[];
  private readonly iasLimit: number;
  private readonly oasLimit: number;
  private readonly decode = new Uint8Array(ATTR_COUNT);
  /** arm_lpae_prot_to_pte for each value of the six IOMMU_* bits. */
  private readonly encode = new Uint32Array(64);
  private readonly partialUnmap: PartialUnmap;
  private readonly ns: boolean;

  constructor(
    readonly fmt: IoPgtableFmt,
    readonly cfg: IoPgtableEffectiveCfg,
    private readonly userCfg: IoPgtableCfg,
    private readonly stage2: boolean,
    bitsPerLevel: number,
    pgdBits: number,
  ) {
    super(8);
    this.startLevel = cfg.startLevel;
    this.granule = pow2(bitsPerLevel + 3);
    this.ptesPerTable = pow2(bitsPerLevel);
    for (let l = 0; l < ARM_LPAE_MAX_LEVELS; l++) {
      this.blockSize.push(pow2((ARM_LPAE_MAX_LEVELS - l) * bitsPerLevel + 3));
      this.entries.push(l === this.startLevel ? pow2(pgdBits) : this.ptesPerTable);
    }
    this.sizes = pgsizeList(cfg.pgsizeBitmap);
    this.iasLimit = pow2(cfg.ias);
    this.oasLimit = pow2(cfg.oas);
    this.partialUnmap = cfg.partialUnmap;
    this.ns = (cfg.quirks & IO_PGTABLE_QUIRK_ARM_NS) !== 0;
    for (let a = 0; a < ATTR_COUNT; a++) this.decode[a] = pteToProt(a, stage2);
    for (let p = 0; p < 64; p++) this.encode[p] = protToPte(p, stage2, this.ns);
    this.pgd = this.mem.alloc(this.entries[this.startLevel] as number);
  }

  private warn(message: string): void {
    this.userCfg.warn?.(`arm-lpae io-pgtable: ${message}`);
  }

  private idx(iova: number, lvl: number): number {
    return addrMod(Math.floor(iova / (this.blockSize[lvl] as number)), this.entries[lvl] as number);
  }

  /** `iopte_leaf`: a block below the last level, a page at it. */
  private static isLeaf(attr: number, lvl: number): boolean {
    const type = attr & PTE_TYPE_MASK;
    return lvl === ARM_LPAE_MAX_LEVELS - 1 ? type === PTE_TYPE_PAGE : type === PTE_TYPE_BLOCK;
  }

  private static isTable(attr: number, lvl: number): boolean {
    return lvl < ARM_LPAE_MAX_LEVELS - 1 && (attr & PTE_TYPE_MASK) === PTE_TYPE_TABLE;
  }

  /** `arm_lpae_max_entries`: entries from `idx` to the end of its granule-sized table page. */
  private maxEntries(idx: number): number {
    return this.ptesPerTable - (idx % this.ptesPerTable);
  }

  map(iova: number, paddr: number, size: number, prot: number): number {
    return this.mapPages(iova, paddr, size, 1, prot);
  }

  /** `arm_lpae_map_pages` and `__arm_lpae_map`. */
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
    const pteProt = this.encode[prot & 63] as number;
    const { addr, attr } = this.mem;
    let t = this.pgd;
    let lvl = this.startLevel;
    if (this.walkCached(iova, pgsize)) {
      // The table the last walk ended in holds this IOVA at this size: the walk from the pgd
      // would reach it, table by table, as long as it lives.
      t = this.wcTable;
      lvl = this.wcLevel;
    }
    for (; ; lvl++) {
      const idx = this.idx(iova, lvl);
      if (pgsize === this.blockSize[lvl]) {
        this.cacheWalk(t, lvl, iova);
        const num = Math.min(pgcount, this.maxEntries(idx));
        const ret = this.initPte(iova, paddr, pteProt, lvl, num, t, idx);
        if (ret === 0 && mapped !== undefined) mapped.mapped += num * pgsize;
        return ret;
      }
      // We can't allocate tables at the final level.
      if (lvl >= ARM_LPAE_MAX_LEVELS - 1) return -EINVAL;
      const ta = attr[t] as Uint32Array;
      const cur = ta[idx] as number;
      if (cur === 0) {
        const child = this.mem.alloc(this.ptesPerTable);
        (addr[t] as Float64Array)[idx] = child;
        ta[idx] = PTE_TYPE_TABLE;
        t = child;
      } else if (ArmLpaeIoPgtable.isLeaf(cur, lvl)) {
        this.warn(`__arm_lpae_map: iova ${hex(iova)} lies in a block mapped at level ${lvl} (We require an unmap first)`);
        return -EEXIST;
      } else {
        t = (addr[t] as Float64Array)[idx] as number;
      }
    }
  }

  /**
   * `arm_lpae_init_pte`: `num` leaves at level `lvl`. The model checks every entry for an existing
   * leaf before changing any, so a failed map changes nothing (the kernel may have replaced a
   * table or two before it finds the leaf).
   */
  private initPte(iova: number, paddr: number, pteProt: number, lvl: number, num: number, t: number, idx: number): number {
    const ta = this.mem.attr[t] as Uint32Array;
    const tp = this.mem.addr[t] as Float64Array;
    for (let i = 0; i < num; i++) {
      if (ArmLpaeIoPgtable.isLeaf(ta[idx + i] as number, lvl)) {
        this.warn(`arm_lpae_init_pte: iova ${hex(iova + i * (this.blockSize[lvl] as number))} is already mapped (We require an unmap first)`);
        return -EEXIST;
      }
    }
    const sz = this.blockSize[lvl] as number;
    for (let i = 0; i < num; i++) {
      if (ArmLpaeIoPgtable.isTable(ta[idx + i] as number, lvl)) {
        // "We need to unmap and free the old table before overwriting it with a block entry."
        this.freePgtable(tp[idx + i] as number, lvl + 1);
        ta[idx + i] = 0;
        this.userCfg.tlb?.tlbFlushWalk?.(iova + i * sz, sz, this.granule);
      }
    }
    const type = lvl === ARM_LPAE_MAX_LEVELS - 1 ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
    for (let i = 0; i < num; i++) {
      ta[idx + i] = pteProt | type;
      tp[idx + i] = paddr + i * sz;
    }
    return 0;
  }

  /** `__arm_lpae_free_pgtable`: a table and every table under it. */
  private freePgtable(t: number, lvl: number): void {
    this.wcTable = -1;
    if (lvl < ARM_LPAE_MAX_LEVELS - 1) {
      const ta = this.mem.attr[t] as Uint32Array;
      const tp = this.mem.addr[t] as Float64Array;
      for (let i = 0; i < ta.length; i++) {
        const a = ta[i] as number;
        if (a !== 0 && !ArmLpaeIoPgtable.isLeaf(a, lvl)) this.freePgtable(tp[i] as number, lvl + 1);
      }
    }
    this.mem.release(t);
  }

  unmap(iova: number, size: number): number {
    return this.unmapPages(iova, size, 1);
  }

  /** `arm_lpae_unmap_pages`. */
  unmapPages(iova: number, pgsize: number, pgcount: number): number {
    this.live();
    checkUnmapArgs(iova, pgsize, pgcount);
    if (!this.sizes.includes(pgsize)) {
      this.warn(`unmap_pages: pgsize ${hex(pgsize)} is not in the page-size bitmap`);
      return 0;
    }
    if (iova >= this.iasLimit) {
      this.warn(`unmap_pages: iova ${hex(iova)} beyond ias ${this.cfg.ias}`);
      return 0;
    }
    if (this.walkCached(iova, pgsize)) return this.unmapAt(iova, pgsize, pgcount, this.wcLevel, this.wcTable);
    return this.unmapAt(iova, pgsize, pgcount, this.startLevel, this.pgd);
  }

  /** `__arm_lpae_unmap` from level `lvl`, table `t`. */
  private unmapAt(iova: number, size: number, pgcount: number, startLvl: number, startTable: number): number {
    const { addr, attr } = this.mem;
    let t = startTable;
    for (let lvl = startLvl; lvl < ARM_LPAE_MAX_LEVELS; lvl++) {
      const idx = this.idx(iova, lvl);
      const ta = attr[t] as Uint32Array;
      const tp = addr[t] as Float64Array;
      const pte = ta[idx] as number;
      if (pte === 0) {
        this.warn(`__arm_lpae_unmap: iova ${hex(iova)} is not mapped`);
        return 0;
      }
      if (size === this.blockSize[lvl]) {
        this.cacheWalk(t, lvl, iova);
        const num = Math.min(pgcount, this.maxEntries(idx));
        let i = 0;
        while (i < num) {
          const a = ta[idx + i] as number;
          if (a === 0) {
            this.warn(`__arm_lpae_unmap: iova ${hex(iova + i * size)} is not mapped`);
            break;
          }
          ta[idx + i] = 0;
          if (!ArmLpaeIoPgtable.isLeaf(a, lvl)) {
            // Also flush any partial walks.
            this.userCfg.tlb?.tlbFlushWalk?.(iova + i * size, size, this.granule);
            this.freePgtable(tp[idx + i] as number, lvl + 1);
          } else {
            this.userCfg.tlb?.tlbAddPage?.(iova + i * size, size);
          }
          tp[idx + i] = 0;
          i++;
        }
        return i * size;
      }
      if (ArmLpaeIoPgtable.isLeaf(pte, lvl)) return this.unmapPartial(iova, size, pgcount, lvl, t, idx);
      t = tp[idx] as number;
    }
    return 0;
  }

  /** An unmap of part of the block at `lvl`. */
  private unmapPartial(iova: number, size: number, pgcount: number, lvl: number, t: number, idx: number): number {
    const ta = this.mem.attr[t] as Uint32Array;
    const tp = this.mem.addr[t] as Float64Array;
    const blk = this.blockSize[lvl] as number;
    if (this.partialUnmap === 'reject') {
      this.warn(`Unmap of a partial large IOPTE is not allowed (iova ${hex(iova)}, size ${hex(size)}, block ${hex(blk)})`);
      return 0;
    }
    if (this.partialUnmap === 'whole') {
      ta[idx] = 0;
      tp[idx] = 0;
      this.userCfg.tlb?.tlbAddPage?.(Math.floor(iova / blk) * blk, blk);
      return blk;
    }
    return this.splitBlkUnmap(iova, size, pgcount, lvl + 1, t, idx);
  }

  /**
   * `arm_lpae_split_blk_unmap` (v4.x–v6.12): replaces the block at (`t`, `idx`) by a table at
   * `lvl` mapping the same range except the part being unmapped.
   */
  private splitBlkUnmap(iova: number, size: number, pgcount: number, lvl: number, t: number, idx: number): number {
    const pta = this.mem.attr[t] as Uint32Array;
    const ptp = this.mem.addr[t] as Float64Array;
    const blkAttr = pta[idx] as number;
    const blkPaddr = ptp[idx] as number;
    const splitSz = this.blockSize[lvl] as number;
    const table = this.mem.alloc(this.ptesPerTable);
    let unmapIdxStart = -1;
    let num = 0;
    if (size === splitSz) {
      unmapIdxStart = this.idx(iova, lvl);
      num = Math.min(pgcount, this.ptesPerTable - unmapIdxStart);
    }
    const ta = this.mem.attr[table] as Uint32Array;
    const tp = this.mem.addr[table] as Float64Array;
    const type = lvl === ARM_LPAE_MAX_LEVELS - 1 ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
    const prot = blkAttr & ~PTE_TYPE_MASK;
    for (let i = 0; i < this.ptesPerTable; i++) {
      if (i >= unmapIdxStart && i < unmapIdxStart + num) continue;
      ta[i] = prot | type;
      tp[i] = blkPaddr + i * splitSz;
    }
    pta[idx] = PTE_TYPE_TABLE;
    ptp[idx] = table;
    if (unmapIdxStart >= 0) {
      for (let i = 0; i < num; i++) this.userCfg.tlb?.tlbAddPage?.(iova + i * size, size);
      return num * size;
    }
    return this.unmapAt(iova, size, pgcount, lvl, table);
  }

  /** `arm_lpae_iova_to_phys` (0 beyond ias, where the kernel's index would wrap). */
  iovaToPhys(iova: number): number {
    this.live();
    const out = this.scratch;
    return this.translate(iova, out) ? out.paddr : 0;
  }

  private readonly scratch: IoPgtableWalk = { paddr: 0, length: 0, prot: 0 };

  /*
   * The walk cache (an SMMU's cache of intermediate table entries): the table the last walk found
   * its leaf in, and the IOVA range that table covers. A table covers the same range for as long
   * as it lives and is only unlinked when it is released, so dropping the cache whenever a table
   * is released keeps it coherent; its entries themselves are read live, never cached.
   */
  private wcTable = -1;
  private wcLevel = 0;
  private wcBase = 0;
  private wcEnd = 0;

  translate(iova: number, out: IoPgtableWalk): boolean {
    if (!Number.isSafeInteger(iova) || iova < 0) throw new RangeError(`iova must be a non-negative integer, got ${String(iova)}`);
    if (iova >= this.iasLimit || this.freed) return false;
    const wt = this.wcTable;
    if (wt >= 0 && iova >= this.wcBase && iova < this.wcEnd) {
      // The table is live and linked: an empty entry is what the full walk would find too; a
      // block split into a table since sends the lookup to the full walk.
      const next = this.readEntry(wt, this.wcLevel, iova, out);
      if (next === WALK_LEAF) return true;
      if (next === WALK_EMPTY) return false;
    }
    let t = this.pgd;
    for (let lvl = this.startLevel; lvl < ARM_LPAE_MAX_LEVELS; lvl++) {
      const next = this.readEntry(t, lvl, iova, out);
      if (next === WALK_EMPTY) return false;
      if (next === WALK_LEAF) {
        this.cacheWalk(t, lvl, iova);
        return true;
      }
      t = next;
    }
    return false;
  }

  /** Remembers table `t`, at level `lvl`, as the one holding `iova`'s entry. */
  private cacheWalk(t: number, lvl: number, iova: number): void {
    const span = (this.blockSize[lvl] as number) * (this.entries[lvl] as number);
    this.wcTable = t;
    this.wcLevel = lvl;
    this.wcBase = Math.floor(iova / span) * span;
    this.wcEnd = this.wcBase + span;
  }

  /** Does the walk cache hold the table for `iova`'s entries of `size` (a map or unmap can start there)? */
  private walkCached(iova: number, size: number): boolean {
    return this.wcTable >= 0 && size === this.blockSize[this.wcLevel] && iova >= this.wcBase && iova < this.wcEnd;
  }

  /**
   * The entry of table `t` (at level `lvl`) for `iova`: WALK_EMPTY, WALK_LEAF (with `out`
   * filled), or the next-level table's index.
   */
  private readEntry(t: number, lvl: number, iova: number, out: IoPgtableWalk): number {
    const bs = this.blockSize[lvl] as number;
    const q = Math.floor(iova / bs);
    const idx = addrMod(q, this.entries[lvl] as number);
    const a = (this.mem.attr[t] as Uint32Array)[idx] as number;
    if (a === 0) return WALK_EMPTY;
    const entry = (this.mem.addr[t] as Float64Array)[idx] as number;
    if (!ArmLpaeIoPgtable.isLeaf(a, lvl)) return entry;
    const off = iova - q * bs;
    out.paddr = entry + off;
    out.length = bs - off;
    out.prot = this.decode[a & (ATTR_COUNT - 1)] as number;
    return WALK_LEAF;
  }

  protected override onFree(): void {
    this.wcTable = -1;
  }

}
