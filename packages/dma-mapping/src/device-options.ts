/** `machine.createDevice` options (DESIGN.md). */
export interface DeviceOptions {
  readonly name: string;
  /** Hardware address width; sets `dmaMask` and `coherentDmaMask` (default 32). */
  readonly dmaBits?: number;
  /** Snoops the CPU caches (`dma-coherent`); defaults to what the arch and platform say. */
  readonly coherent?: boolean;
  /** Behind the machine's IOMMU with a default DMA domain. */
  readonly iommu?: boolean;
  /** An external-facing device that must not see other data in its pages (`dev->untrusted`). */
  readonly untrusted?: boolean;
  readonly maxSegmentSize?: number;
  readonly segmentBoundaryMask?: number;
  readonly minAlignMask?: number;
  /** `bus_dma_limit`: the interconnect's limit, below the device's own mask. */
  readonly busDmaLimit?: number;
  /** Bus address = physical address − `dmaOffset` (`dma_range_map`). */
  readonly dmaOffset?: number;
  /** Bytes of a restricted DMA pool this device must bounce through (`restricted-dma-pool`). */
  readonly restrictedPool?: number;
}
