/**
 * Intel VT-d second-level page tables as drivers/iommu/intel/iommu.c drives them (v5.x–v6.x,
 * before the generic_pt conversion): 9 bits per level, 4 KiB pages, 2 MiB and 1 GiB superpages
 * (the PS bit), 3, 4 or 5 levels for a 39-, 48- or 57-bit address width (agaw). It is not an
 * io-pgtable in the kernel; the model gives it the same ops.
 *
 * Its semantics differ from ARM's, and the model keeps them:
 * - `map` takes any 4 KiB multiple (intel_iommu_map → __domain_mapping), using superpages where the
 *   IOVA, the physical address and the remaining length allow (hardware_largepage_caps); a
 *   superpage first clears whatever its slot held (switch_to_super_page).
 * - A page over an existing PTE is not an error: the kernel prints "ERROR: DMA PTE for vPFN 0x%lx
 *   already set (to %llx not %llx)", WARNs, keeps the old PTE and returns 0. A page under an
 *   existing superpage is treated the same (the kernel would walk into the superpage's memory).
 * - An address beyond the domain's width fails with -EFAULT ("iommu width (%d) is not
 *   sufficient for the mapped address (%llx)"), and a map with neither read nor write -EINVAL.
 * - `unmap` of less than the leaf it hits unmaps more ("Cope with horrid API which requires us to
 *   unmap more than the size argument if it happens to be a large-page mapping"): the size grows to
 *   the leaf's (or, where nothing is mapped, to the empty entry's level) and that is returned. A
 *   superpage the range covers only in part goes entirely (the kernel's dma_pte_clear_level would
 *   descend into it as if it were a table).
 *
 * Descriptor bits kept (`attr`): R (bit 0), W (bit 1), PS (bit 7), SNP (bit 11); table entries are
 * R|W, as the kernel writes them.
 */
import { addrMod, checkAddress, checkSize, pow2 } from '@kdma/hw';
import { EFAULT } from '@kdma/mm';
import * as common from './io-pgtable-common.js';
import { pgsizeBitmapOf, pgsizeList } from './iommu-pgsize.js';
import type { IoPgtableCfg, IoPgtableEffectiveCfg, IoPgtableMapped, IoPgtableOps, IoPgtableWalk } from './io-pgtable-common.js';

// Module-local copies of the shared definitions: under the CommonJS transpilers the tests and
// benches run on, every use of an imported binding is a getter call, too slow for the walk.
const EINVAL = common.EINVAL;
const IOMMU_CACHE = common.IOMMU_CACHE;
const IOMMU_READ = common.IOMMU_READ;
const IOMMU_WRITE = common.IOMMU_WRITE;
const IoPgtableBase = common.IoPgtableBase;
const checkMapArgs = common.checkMapArgs;
const checkUnmapArgs = common.checkUnmapArgs;

const VTD_PAGE_SIZE = 4096;
const VTD_STRIDE = 512;
const DMA_PTE_READ = 1;
const DMA_PTE_WRITE = 2;
const DMA_PTE_LARGE_PAGE = 1 << 7;
const DMA_PTE_SNP = 1 << 11;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;

/** `lvl_to_nr_pages`: 4 KiB pages an entry of each level (1…5) covers. */
const LVL_PAGES = [0, 1, 512, 512 ** 2, 512 ** 3, 512 ** 4];

/** `width_to_agaw` / `agaw_to_level`: levels for an address width. */
function widthToLevels(width: number): number {
  return Math.max(0, Math.ceil((width - 30) / 9)) + 2;
}

/** Builds a second-level table; null when the width needs more than 5 levels or the bitmap lacks 4 KiB. */
export function allocVtdPgtable(cfg: IoPgtableCfg): IoPgtableOps | null {
  const sizes = pgsizeList(cfg.pgsizeBitmap);
  if (!sizes.includes(VTD_PAGE_SIZE)) return null;
  if ((cfg.quirks ?? 0) !== 0) return null;
  const levels = widthToLevels(cfg.ias);
  if (cfg.ias <= 12 || levels > 5 || cfg.oas > 52) return null;
  // domain->iommu_superpage: 1 for 2 MiB, 2 for 2 MiB and 1 GiB.
  const superpage = sizes.includes(SZ_2M) ? (sizes.includes(SZ_1G) ? 2 : 1) : 0;
  const bitmap = pgsizeBitmapOf([VTD_PAGE_SIZE, ...(superpage >= 1 ? [SZ_2M] : []), ...(superpage >= 2 ? [SZ_1G] : [])]);
  const partialUnmap = cfg.partialUnmap ?? 'whole';
  if (partialUnmap !== 'whole') return null;
  return new VtdSlPgtable({ pgsizeBitmap: bitmap, ias: cfg.ias, oas: cfg.oas, quirks: 0, partialUnmap, levels, startLevel: levels }, cfg, superpage);
}

class VtdSlPgtable extends IoPgtableBase implements IoPgtableOps {
  readonly fmt = 'INTEL_VTD_SL' as const;
  private readonly levels: number;
  private readonly widthLimit: number;
  private readonly sizes: number[];
  private readonly scratch: IoPgtableWalk = { paddr: 0, length: 0, prot: 0 };
  /** The entry `walk` stopped at. */
  private wTable = 0;
  private wIdx = 0;
  private wLevel = 0;

  constructor(
    readonly cfg: IoPgtableEffectiveCfg,
    private readonly userCfg: IoPgtableCfg,
    private readonly superpage: number,
  ) {
    super(8);
    this.levels = cfg.levels;
    this.widthLimit = pow2(cfg.ias);
    this.sizes = pgsizeList(cfg.pgsizeBitmap);
    this.pgd = this.mem.alloc(VTD_STRIDE);
  }

  private warn(message: string): void {
    this.userCfg.warn?.(`DMAR: ${message}`);
  }

  /** `lvl_to_nr_pages`: 4 KiB pages a level-`lvl` entry covers. */
  private static lvlPages(lvl: number): number {
    return LVL_PAGES[lvl] as number;
  }

  /** `pfn_level_offset`. */
  private static offset(pfn: number, lvl: number): number {
    return addrMod(Math.floor(pfn / (LVL_PAGES[lvl] as number)), VTD_STRIDE);
  }

  /** A present entry at level > 1 without PS points to a table. */
  private static isTable(a: number, lvl: number): boolean {
    return lvl > 1 && (a & 3) !== 0 && (a & DMA_PTE_LARGE_PAGE) === 0;
  }

  /**
   * `pfn_to_dma_pte(domain, pfn, &level)`. With `target` 0: walks down to the first superpage or
   * non-present entry (or a level-1 entry). With a target level: allocates missing tables down to
   * it; returns false if a superpage lies above it. The entry is left in wTable/wIdx/wLevel.
   */
  private walk(pfn: number, target: number): boolean {
    const { addr, attr } = this.mem;
    let t = this.pgd;
    for (let lvl = this.levels; ; lvl--) {
      const idx = VtdSlPgtable.offset(pfn, lvl);
      const ta = attr[t] as Uint32Array;
      const a = ta[idx] as number;
      this.wTable = t;
      this.wIdx = idx;
      this.wLevel = lvl;
      if (target === 0 && ((a & DMA_PTE_LARGE_PAGE) !== 0 || (a & 3) === 0)) return true;
      if (lvl === target || lvl === 1) return true;
      if ((a & 3) === 0) {
        const child = this.mem.alloc(VTD_STRIDE);
        ta[idx] = DMA_PTE_READ | DMA_PTE_WRITE;
        (addr[t] as Float64Array)[idx] = child;
        t = child;
      } else if ((a & DMA_PTE_LARGE_PAGE) !== 0) {
        return false;
      } else {
        t = (addr[t] as Float64Array)[idx] as number;
      }
    }
  }

  /** `hardware_largepage_caps`: the largest level both pfns are aligned for and the length fills. */
  private largepageCaps(iovPfn: number, physPfn: number, pages: number): number {
    let support = this.superpage;
    let level = 1;
    let a = iovPfn;
    let b = physPfn;
    while (support > 0 && addrMod(a, VTD_STRIDE) === 0 && addrMod(b, VTD_STRIDE) === 0) {
      pages = Math.floor(pages / VTD_STRIDE);
      if (pages === 0) break;
      a /= VTD_STRIDE;
      b /= VTD_STRIDE;
      level++;
      support--;
    }
    return level;
  }

  map(iova: number, paddr: number, size: number, prot: number): number {
    this.live();
    checkMapArgs(iova, paddr, size, 1, prot);
    return this.intelIommuMap(iova, paddr, size, prot);
  }

  /** `intel_iommu_map_pages`: the three page sizes, `paddr` aligned to `pgsize`. */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped?: IoPgtableMapped): number {
    this.live();
    checkMapArgs(iova, paddr, pgsize, pgcount, prot);
    if (!this.sizes.includes(pgsize) || addrMod(paddr, pgsize) !== 0) return -EINVAL;
    const size = pgsize * pgcount;
    const ret = this.intelIommuMap(iova, paddr, size, prot);
    if (ret === 0 && mapped !== undefined) mapped.mapped += size;
    return ret;
  }

  /** `intel_iommu_map` + `__domain_mapping`. */
  private intelIommuMap(iova: number, paddr: number, size: number, prot: number): number {
    if (addrMod(iova, VTD_PAGE_SIZE) !== 0 || addrMod(paddr, VTD_PAGE_SIZE) !== 0 || addrMod(size, VTD_PAGE_SIZE) !== 0) return -EINVAL;
    if (iova + size > this.widthLimit) {
      this.warn(`intel_iommu_map: iommu width (${this.cfg.ias}) is not sufficient for the mapped address (${(iova + size).toString(16)})`);
      return -EFAULT;
    }
    let attr = 0;
    if (prot & IOMMU_READ) attr |= DMA_PTE_READ;
    if (prot & IOMMU_WRITE) attr |= DMA_PTE_WRITE;
    if ((attr & (DMA_PTE_READ | DMA_PTE_WRITE)) === 0) return -EINVAL;
    if (prot & IOMMU_CACHE) attr |= DMA_PTE_SNP;
    let iovPfn = iova / VTD_PAGE_SIZE;
    let physPfn = paddr / VTD_PAGE_SIZE;
    let nrPages = size / VTD_PAGE_SIZE;
    let have = false;
    let t = 0;
    let idx = 0;
    let lvl = 1;
    let lvlPages = 1;
    while (nrPages > 0) {
      if (!have) {
        lvl = this.largepageCaps(iovPfn, physPfn, nrPages);
        lvlPages = VtdSlPgtable.lvlPages(lvl);
        if (!this.walk(iovPfn, lvl)) {
          // A superpage above: report it as the cmpxchg below would, keep it, go on.
          const st = this.mem.attr[this.wTable] as Uint32Array;
          const old = ((this.mem.addr[this.wTable] as Float64Array)[this.wIdx] as number) + (st[this.wIdx] as number);
          this.alreadySet(iovPfn, old, physPfn * VTD_PAGE_SIZE + attr);
          nrPages -= lvlPages;
          iovPfn += lvlPages;
          physPfn += lvlPages;
          continue;
        }
        t = this.wTable;
        idx = this.wIdx;
        if (lvl > 1) {
          const pagesToRemove = Math.min(nrPages, (VTD_STRIDE - idx) * lvlPages);
          this.switchToSuperPage(iovPfn, iovPfn + pagesToRemove - 1, lvl);
        }
        have = true;
      }
      const ta = this.mem.attr[t] as Uint32Array;
      const tp = this.mem.addr[t] as Float64Array;
      const pteval = attr | (lvl > 1 ? DMA_PTE_LARGE_PAGE : 0);
      const cur = ta[idx] as number;
      if (cur !== 0) {
        this.alreadySet(iovPfn, (tp[idx] as number) + cur, physPfn * VTD_PAGE_SIZE + pteval);
      } else {
        ta[idx] = pteval;
        tp[idx] = physPfn * VTD_PAGE_SIZE;
      }
      nrPages -= lvlPages;
      iovPfn += lvlPages;
      physPfn += lvlPages;
      idx++;
      if (nrPages === 0 || idx === VTD_STRIDE || (lvl > 1 && nrPages < lvlPages)) have = false;
    }
    return 0;
  }

  private alreadySet(iovPfn: number, old: number, pteval: number): void {
    this.warn(`ERROR: DMA PTE for vPFN 0x${iovPfn.toString(16)} already set (to ${old.toString(16)} not ${pteval.toString(16)})`);
  }

  /**
   * `switch_to_super_page(domain, start_pfn, end_pfn, level)`: every level-`lvl` slot in the range
   * that holds a table or a superpage is emptied (tables freed) so that a superpage can go in.
   */
  private switchToSuperPage(startPfn: number, endPfn: number, lvl: number): void {
    const lvlPages = VtdSlPgtable.lvlPages(lvl);
    for (let pfn = startPfn; pfn <= endPfn; pfn += lvlPages) {
      this.walk(pfn, lvl);
      const ta = this.mem.attr[this.wTable] as Uint32Array;
      const tp = this.mem.addr[this.wTable] as Float64Array;
      const a = ta[this.wIdx] as number;
      if ((a & 3) === 0) continue;
      if (VtdSlPgtable.isTable(a, lvl)) this.freeTable(tp[this.wIdx] as number, lvl - 1);
      ta[this.wIdx] = 0;
      tp[this.wIdx] = 0;
      this.userCfg.tlb?.tlbFlushWalk?.(pfn * VTD_PAGE_SIZE, lvlPages * VTD_PAGE_SIZE, VTD_PAGE_SIZE);
    }
  }

  /** Frees a level-`lvl` table and the tables under it. */
  private freeTable(t: number, lvl: number): void {
    if (lvl > 1) {
      const ta = this.mem.attr[t] as Uint32Array;
      const tp = this.mem.addr[t] as Float64Array;
      for (let i = 0; i < VTD_STRIDE; i++) if (VtdSlPgtable.isTable(ta[i] as number, lvl)) this.freeTable(tp[i] as number, lvl - 1);
    }
    this.mem.release(t);
  }

  unmap(iova: number, size: number): number {
    this.live();
    checkAddress(iova, 'iova');
    checkSize(size, 'size');
    return this.intelIommuUnmap(iova, size);
  }

  /** `intel_iommu_unmap_pages`: `pgcount << __ffs(pgsize)` bytes through intel_iommu_unmap. */
  unmapPages(iova: number, pgsize: number, pgcount: number): number {
    this.live();
    checkUnmapArgs(iova, pgsize, pgcount);
    if (!this.sizes.includes(pgsize)) return 0;
    return this.intelIommuUnmap(iova, pgsize * pgcount);
  }

  /** `intel_iommu_unmap` + `domain_unmap`. */
  private intelIommuUnmap(iova: number, size: number): number {
    if (iova >= this.widthLimit) return 0;
    const startPfn = Math.floor(iova / VTD_PAGE_SIZE);
    this.walk(startPfn, 0);
    const leafSize = VtdSlPgtable.lvlPages(this.wLevel) * VTD_PAGE_SIZE;
    if (size < leafSize) size = leafSize;
    const lastPfn = Math.floor((iova + size - 1) / VTD_PAGE_SIZE);
    this.clearLevel(this.pgd, this.levels, 0, startPfn, lastPfn);
    this.userCfg.tlb?.tlbAddPage?.(iova, size);
    return size;
  }

  /** `dma_pte_clear_level`: clears leaves and frees tables the range covers entirely; recurses into the others. */
  private clearLevel(t: number, lvl: number, basePfn: number, startPfn: number, lastPfn: number): void {
    const ta = this.mem.attr[t] as Uint32Array;
    const tp = this.mem.addr[t] as Float64Array;
    const lvlPages = VtdSlPgtable.lvlPages(lvl);
    let pfn = Math.max(startPfn, basePfn);
    let idx = VtdSlPgtable.offset(pfn, lvl);
    do {
      const levelPfn = pfn - addrMod(pfn, lvlPages);
      const a = ta[idx] as number;
      if ((a & 3) !== 0) {
        const covered = startPfn <= levelPfn && lastPfn >= levelPfn + lvlPages - 1;
        if (covered || !VtdSlPgtable.isTable(a, lvl)) {
          if (VtdSlPgtable.isTable(a, lvl)) {
            this.userCfg.tlb?.tlbFlushWalk?.(levelPfn * VTD_PAGE_SIZE, lvlPages * VTD_PAGE_SIZE, VTD_PAGE_SIZE);
            this.freeTable(tp[idx] as number, lvl - 1);
          }
          ta[idx] = 0;
          tp[idx] = 0;
        } else {
          this.clearLevel(tp[idx] as number, lvl - 1, levelPfn, startPfn, lastPfn);
        }
      }
      pfn = levelPfn + lvlPages;
      idx++;
    } while (idx < VTD_STRIDE && pfn <= lastPfn);
  }

  /** `intel_iommu_iova_to_phys`. */
  iovaToPhys(iova: number): number {
    this.live();
    return this.translate(iova, this.scratch) ? this.scratch.paddr : 0;
  }

  translate(iova: number, out: IoPgtableWalk): boolean {
    if (!Number.isSafeInteger(iova) || iova < 0) throw new RangeError(`iova must be a non-negative integer, got ${String(iova)}`);
    if (iova >= this.widthLimit || this.freed) return false;
    const { addr, attr } = this.mem;
    let t = this.pgd;
    const pfn = Math.floor(iova / VTD_PAGE_SIZE);
    for (let lvl = this.levels; lvl >= 1; lvl--) {
      const span = LVL_PAGES[lvl] as number;
      const q = Math.floor(pfn / span);
      const idx = addrMod(q, VTD_STRIDE);
      const a = (attr[t] as Uint32Array)[idx] as number;
      if ((a & 3) === 0) return false;
      if (lvl === 1 || (a & DMA_PTE_LARGE_PAGE) !== 0) {
        const size = span * VTD_PAGE_SIZE;
        const off = iova - q * size;
        out.paddr = ((addr[t] as Float64Array)[idx] as number) + off;
        out.length = size - off;
        out.prot = (a & DMA_PTE_READ ? IOMMU_READ : 0) | (a & DMA_PTE_WRITE ? IOMMU_WRITE : 0) | (a & DMA_PTE_SNP ? IOMMU_CACHE : 0);
        return true;
      }
      t = (addr[t] as Float64Array)[idx] as number;
    }
    return false;
  }

}

