import type { Machine } from '@kdma/dma-mapping/ops';
import type { CellIommu } from './cell-iommu.js';
import type { PowerpcIommu } from './io-page-table.js';
import type { Lv1 } from './lv1.js';
import type { PowerpcConfig } from './options.js';
import type { PseriesTceState } from './pseries-iommu.js';
import type { VioCmo } from './vio.js';

/** Where a PowerPC machine keeps its platform state (`machine.archState`). */
export const POWERPC_STATE_KEY = 'powerpc';

/** The platform state of a PowerPC machine: what `ppc_md` and the platform's globals hold. */
export interface PowerpcState {
  readonly config: PowerpcConfig;
  /** `machine.iommu`: the TCE tables (pSeries) or the Cell IOMMU, when there is one. */
  iommu: PowerpcIommu | null;
  pseries: PseriesTceState | null;
  cell: CellIommu | null;
  /** The PS3's lv1 hypervisor. */
  lv1: Lv1 | null;
  /** `vio_cmo`: pSeries Cooperative Memory Overcommit accounting (null without `FW_FEATURE_CMO`). */
  cmo: VioCmo | null;
  /** `ppc_swiotlb_enable` (85xx with RAM beyond the PCI inbound window). */
  swiotlbEnabled: boolean;
  /** The next PS3 system-bus `dev_id`. */
  nextDevId: number;
}

/** The PowerPC state of `machine`. */
export function powerpcState(machine: Machine): PowerpcState {
  const state = machine.archState.get(POWERPC_STATE_KEY) as PowerpcState | undefined;
  if (state === undefined) throw new TypeError(`machine is not a PowerPC machine (its arch is ${machine.arch.name})`);
  return state;
}
