import type { MachineOptions } from '@kdma/dma-mapping/ops';
import { checkInteger, describe } from '@kdma/hw';

/**
 * x86's machine options beyond the common ones — the kernel command line of the 2012 IOMMU code:
 * - `forceIommu`: `iommu=force` (the GART maps every buffer, merges sg lists, and backs coherent
 *   buffers too); default false.
 * - `gartApertureOrder`: `iommu=memaper=<order>`, the aperture the kernel carves out of RAM,
 *   `32 MiB << order` (0–5, `fallback_aper_order`); default 1 (64 MiB).
 * - `gartFullflush`: `iommu=fullflush` / `nofullflush`: flush the GART-TLB on every mapping, or
 *   only when the allocator wraps; default true, as `iommu_fullflush` was.
 * - `calgaryPhbs`: translating PCI host bridges of the Calgary machine, each with its own TCE
 *   table; devices go to them in turn (default 2).
 * - `calgaryTableSize`: `calgary=64k` … `8M` as 0–7; default from RAM (`determine_tce_table_size`).
 * - `xenHostMemory`: bytes of machine memory on the Xen host a PV guest runs on (default: 4 GiB,
 *   or twice the guest's memory if that is more).
 */
export interface X86MachineOptions {
  readonly forceIommu?: boolean;
  readonly gartApertureOrder?: number;
  readonly gartFullflush?: boolean;
  readonly calgaryPhbs?: number;
  readonly calgaryTableSize?: number;
  readonly xenHostMemory?: number;
}

/** The option names `buildMachine` must accept. */
export const X86_OPTION_NAMES = ['forceIommu', 'gartApertureOrder', 'gartFullflush', 'calgaryPhbs', 'calgaryTableSize', 'xenHostMemory'] as const;

/** The options checked, with their defaults (`calgaryTableSize` and `xenHostMemory` null: from RAM). */
export interface X86Options {
  readonly forceIommu: boolean;
  readonly gartApertureOrder: number;
  readonly gartFullflush: boolean;
  readonly calgaryPhbs: number;
  readonly calgaryTableSize: number | null;
  readonly xenHostMemory: number | null;
}

function bool(options: MachineOptions, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function int(options: MachineOptions, name: string, min: number, max: number): number | null {
  const value = options[name];
  if (value === undefined) return null;
  checkInteger(value, `options.${name}`, min, max);
  return value;
}

/** Only meaningful with `needs`: anything else is a mistake worth saying. */
function only(options: MachineOptions, names: readonly string[], applies: boolean, needs: string): void {
  for (const name of names) {
    if (options[name] !== undefined && !applies) throw new RangeError(`options.${name} applies to ${needs}`);
  }
}

/** Checks x86's own options against the machine's `iommu` and `platform`. */
export function x86Options(options: MachineOptions): X86Options {
  const iommu = options.iommu;
  only(options, ['forceIommu', 'gartApertureOrder', 'gartFullflush'], iommu === 'gart', "iommu: 'gart'");
  only(options, ['calgaryPhbs', 'calgaryTableSize'], iommu === 'calgary', "iommu: 'calgary'");
  only(options, ['xenHostMemory'], options.platform === 'xen-pv', "platform: 'xen-pv'");
  return {
    forceIommu: bool(options, 'forceIommu', false),
    gartApertureOrder: int(options, 'gartApertureOrder', 0, 5) ?? 1,
    gartFullflush: bool(options, 'gartFullflush', true),
    calgaryPhbs: int(options, 'calgaryPhbs', 1, 16) ?? 2,
    calgaryTableSize: int(options, 'calgaryTableSize', 0, 7),
    xenHostMemory: int(options, 'xenHostMemory', 2 ** 26, 2 ** 38),
  };
}
