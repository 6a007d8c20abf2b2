/**
 * A faulting DMA access: what an IOMMU reports through `report_iommu_fault()` (a translation miss
 * or a permission violation), or what a bus reports as a master abort (an address beyond the
 * device's address lines, or one that no memory answers).
 */

import { hex } from './address.js';

/**
 * - `translation`: the IOMMU has no mapping for the bus address;
 * - `permission`: the mapping forbids this direction (`IOMMU_READ`/`IOMMU_WRITE`);
 * - `width`: the access passes the device's address lines (`addressBits`);
 * - `bus`: the physical address is not RAM.
 */
export type DmaFaultKind = 'translation' | 'permission' | 'width' | 'bus';

export class DmaFault extends Error {
  override readonly name = 'DmaFault';

  constructor(
    readonly kind: DmaFaultKind,
    /** The faulting bus address: the start of the run that failed (the access start for `width`). */
    readonly busAddr: number,
    /** The bus master's name. */
    readonly device: string,
    readonly write: boolean,
    /** Bytes of the whole access. */
    readonly length: number,
  ) {
    super(`DMA ${kind} fault: ${device} ${write ? 'writing' : 'reading'} ${length} bytes, fault at bus address ${hex(busAddr)}`);
  }
}
