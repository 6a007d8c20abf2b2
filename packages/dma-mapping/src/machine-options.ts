import type { MemoryRegion } from '@kdma/hw';

/** `createMachine`/`buildMachine` options; every one has a default (DESIGN.md). */
export interface MachineOptions {
  /** Bytes of RAM, laid out as the arch lays it out, holes included. */
  readonly memory?: number;
  /** Or the exact RAM regions. */
  readonly memoryRegions?: readonly MemoryRegion[];
  /** RAM the platform reserves at boot (device-tree reserved-memory), for `dmaDeclareCoherentMemory`. */
  readonly reservedMemory?: readonly MemoryRegion[];
  readonly cpus?: number;
  readonly seed?: number;
  /** `CONFIG_DMA_API_DEBUG`. */
  readonly dmaDebug?: boolean;
  readonly cache?: {
    readonly capacity?: number;
    readonly eviction?: 'lru' | 'random';
    readonly prefetch?: number;
  };
  /** CMA bytes, or false for none. */
  readonly cma?: number | false;
  readonly swiotlb?:
    | {
        readonly size?: number;
        readonly force?: boolean;
        readonly areas?: number;
        readonly dynamic?: boolean;
        /** Restores the bounce behaviour before the CVE-2022-0854 fix. */
        readonly leakyBounce?: boolean;
      }
    | false;
  /** One of the arch's `iommus`, or false. */
  readonly iommu?: string | false;
  readonly iommuStrict?: boolean;
  /** One of the arch's `platforms`. */
  readonly platform?: string;
  /** One of the arch's `pageSizes`. */
  readonly pageSize?: number;
  /** Arch-specific options (arm: consistentDmaSize, dmaMemBufferable). */
  readonly [archOption: string]: unknown;
}
