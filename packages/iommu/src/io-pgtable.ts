/**
 * drivers/iommu/io-pgtable.c: `alloc_io_pgtable_ops` picks the page-table format an IOMMU driver
 * asks for. The shared definitions (prot bits, cfg, ops) live in io-pgtable-common.ts and are
 * re-exported here, the module the rest of the package imports them from.
 */
import { checkCfg, type IoPgtableCfg, type IoPgtableFmt, type IoPgtableOps } from './io-pgtable-common.js';
import { allocArmLpaePgtable } from './io-pgtable-arm.js';
import { allocArmV7sPgtable } from './io-pgtable-arm-v7s.js';
import { allocVtdPgtable } from './io-pgtable-vtd.js';

export {
  EEXIST,
  ERANGE,
  IO_PGTABLE_FMTS,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_PERMS,
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
} from './io-pgtable-common.js';
export type {
  IoPgtableCfg,
  IoPgtableEffectiveCfg,
  IoPgtableFlushOps,
  IoPgtableFmt,
  IoPgtableMapped,
  IoPgtableOps,
  IoPgtableStats,
  IoPgtableWalk,
  PartialUnmap,
} from './io-pgtable-common.js';

/**
 * `alloc_io_pgtable_ops(fmt, cfg, cookie)`: a page table of format `fmt`, or null when the format
 * cannot be built for `cfg` (no usable granule, an unsupported ias/oas or quirk), as the kernel
 * returns NULL. The effective configuration (page sizes restricted to the granule, ias/oas
 * clamped, levels) is in the result's `cfg`.
 */
export function allocIoPgtableOps(fmt: IoPgtableFmt, cfg: IoPgtableCfg): IoPgtableOps | null {
  checkCfg(cfg);
  switch (fmt) {
    case 'ARM_32_LPAE_S1':
    case 'ARM_32_LPAE_S2':
    case 'ARM_64_LPAE_S1':
    case 'ARM_64_LPAE_S2':
      return allocArmLpaePgtable(fmt, cfg);
    case 'ARM_V7S':
      return allocArmV7sPgtable(cfg);
    case 'INTEL_VTD_SL':
      return allocVtdPgtable(cfg);
    default:
      throw new RangeError(`fmt must be one of the io_pgtable_fmt names, got ${JSON.stringify(fmt)}`);
  }
}
