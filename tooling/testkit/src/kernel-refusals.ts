import type { ArchFacts } from '@kdma/dma-mapping/ops';

/*
 * What the kernel itself refuses where a scene of the kit would otherwise expect success. An arch
 * declares each refusal by the kernel name of the dma_map_ops that refuse (one of `arch.ops`), and
 * the kit then asserts the refusal exactly, for devices on those ops only; an undeclared refusal
 * still fails the scene, and so does a declared one that does not happen where it must.
 */

/**
 * When ops refuse a scatterlist segment that cannot keep to the device's segment boundary:
 * - `'always'`: every segment goes into bus space the ops allocate under the boundary (a TCE
 *   table, the sun4u IOMMU, Calgary, the GART with `iommu=force`), so such a segment is never
 *   mapped;
 * - `'when-remapped'`: only a segment the device cannot reach in place is remapped (the GART's
 *   aperture, swiotlb's bounce slots, a scatter-gather window); one it reaches is mapped as it is,
 *   crossing, for dma-debug to report.
 */
export type BoundaryRefusal = 'always' | 'when-remapped';

export interface KernelRefusals {
  /**
   * Ops that allocate bus space with `iommu_area_alloc` (or swiotlb's slot search), which never
   * hands out an area across `dma_get_seg_boundary`: a segment longer than the boundary window
   * cannot be placed, `map_sg` fails (powerpc's "iommu_alloc failed") and `dma_map_sgtable`
   * returns an error, leaving nothing mapped.
   */
  readonly segmentAcrossBoundary?: Readonly<Record<string, BoundaryRefusal>>;
  /**
   * DMA mask widths (bits) that the ops' `dma_supported` refuses, so `dma_set_mask` returns -EIO:
   * `ibmebus_dma_supported` accepts only `DMA_BIT_MASK(64)`.
   */
  readonly dmaMaskBits?: Readonly<Record<string, readonly number[]>>;
}

const BOUNDARY_REFUSALS: readonly string[] = ['always', 'when-remapped'];

function checkOpsName(arch: ArchFacts, field: string, ops: string): void {
  if (!arch.ops.includes(ops)) {
    throw new TypeError(`kernelRefuses.${field}: ${ops} is not one of ${arch.name}'s ops (${arch.ops.join(', ')})`);
  }
}

/** Throws TypeError, naming the field, unless `refusals` names only ops of `arch` with valid values. */
export function checkKernelRefusals(arch: ArchFacts, refusals: KernelRefusals | undefined): void {
  if (refusals === undefined) return;
  if (typeof refusals !== 'object' || refusals === null) throw new TypeError('kernelRefuses must be an object');
  for (const [ops, when] of Object.entries(refusals.segmentAcrossBoundary ?? {})) {
    checkOpsName(arch, 'segmentAcrossBoundary', ops);
    if (!BOUNDARY_REFUSALS.includes(when)) {
      throw new TypeError(`kernelRefuses.segmentAcrossBoundary.${ops} must be 'always' or 'when-remapped', got ${String(when)}`);
    }
  }
  for (const [ops, widths] of Object.entries(refusals.dmaMaskBits ?? {})) {
    checkOpsName(arch, 'dmaMaskBits', ops);
    if (!Array.isArray(widths) || widths.some((bits) => !Number.isInteger(bits) || bits < 1 || bits > 64)) {
      throw new TypeError(`kernelRefuses.dmaMaskBits.${ops} must be an array of mask widths in [1, 64]`);
    }
  }
}

/** How `ops` refuse a segment across the boundary, or null when they do not. */
export function boundaryRefusal(refusals: KernelRefusals | undefined, ops: string): BoundaryRefusal | null {
  return refusals?.segmentAcrossBoundary?.[ops] ?? null;
}

/** Whether `ops` refuse a mask of `bits` bits. */
export function refusesMask(refusals: KernelRefusals | undefined, ops: string, bits: number): boolean {
  return refusals?.dmaMaskBits?.[ops]?.includes(bits) ?? false;
}
