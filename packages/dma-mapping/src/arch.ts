import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { MemoryRegion } from '@kdma/hw';
import type { Pgprot } from '@kdma/mm';
import type { Device } from './device.js';
import type { DeviceOptions } from './device-options.js';
import type { Machine } from './machine.js';
import type { MachineOptions } from './machine-options.js';

/** Where cache coherence comes from on an architecture. */
export type ArchCoherence = 'always' | 'never' | 'per-platform' | 'per-device';

/** A zone as mm lays it out: pages below `end` (physical, exclusive) belong to it. */
export interface ArchZone {
  readonly name: 'DMA' | 'DMA32' | 'NORMAL';
  readonly end: number;
}

/** The facts every arch package exports as `arch`: one shape for all (DESIGN.md). */
export interface ArchFacts {
  readonly name: string;
  readonly pageSizes: readonly number[];
  readonly cacheLineSize: number;
  /** `ARCH_DMA_MINALIGN`: kmalloc's minimum alignment, so DMA buffers never share a line. */
  readonly dmaMinAlign: number;
  readonly coherent: ArchCoherence;
  readonly physAddrBits: number;
  readonly zones: readonly ArchZone[];
  /** The DMA attributes this architecture implements; others are ignored (bit mask). */
  readonly honouredAttrs: number;
  /** IOMMU hardware this arch can have, the usual one first. */
  readonly iommus: readonly string[];
  /** Platforms (boards, machine types), the default first. */
  readonly platforms: readonly string[];
  /** The kernel names of the dma_map_ops it can select. */
  readonly ops: readonly string[];
}

/**
 * The arch hooks dma-direct calls (include/linux/dma-map-ops.h): `arch_sync_dma_for_device`,
 * `arch_sync_dma_for_cpu`, `arch_dma_prep_coherent`, `pgprot_dmacoherent`/`dma_pgprot`. Built per
 * machine, so they close over its hardware.
 */
export interface DmaDirectHooks {
  /** `arch_sync_dma_for_device`: hand a streaming buffer to a non-coherent device. */
  syncForDevice(paddr: number, size: number, dir: DmaDataDirection): void;
  /** `arch_sync_dma_for_cpu`: take it back (invalidate what the device wrote). */
  syncForCpu(paddr: number, size: number, dir: DmaDataDirection): void;
  /** `arch_dma_prep_coherent`: write back and invalidate the linear alias before remapping. */
  prepCoherent(pfn: number, size: number): void;
  /**
   * `dma_pgprot(dev, prot, attrs)` for a non-coherent device: `pgprot_writecombine` when the arch
   * honours `DMA_ATTR_WRITE_COMBINE` and it is set, else `pgprot_dmacoherent` (ARM: bufferable or
   * strongly ordered). Used for the kernel remap (`coherentPgprot`) and the user mapping alike, so
   * the two aliases agree.
   */
  coherentPgprot(attrs: number, prot: Pgprot): Pgprot;
  /** Attributes the arch implements (the rest are ignored, as the seed intended). */
  readonly honouredAttrs: number;
  /**
   * Makes the kernel mapping of a non-coherent coherent buffer: `dma_common_contiguous_remap`
   * into vmalloc by default; the 2011 ARM kernels used their fixed consistent area instead.
   */
  remap?(pfn: number, pages: number, prot: Pgprot): number | null;
  unremap?(cpuAddr: number): void;
}

/**
 * What an arch package hands `buildMachine`: its facts plus the code that differs per arch.
 * Everything else (hardware, mm, dma-direct, dma-debug, devices) is assembled once, here.
 */
export interface ArchDescription {
  readonly facts: ArchFacts;
  /** Bytes of RAM when `memory` is not given. */
  readonly defaultMemory: number;
  /** CMA bytes when `cma` is not given (the arch's CONFIG_CMA_SIZE_MBYTES). */
  readonly defaultCma: number;
  /** `ARCH_KMALLOC_MINALIGN` (x86: 8; arches with non-coherent DMA: `ARCH_DMA_MINALIGN`). */
  readonly kmallocMinAlign: number;
  /** Whether CPU caches are invisible to (some) devices on `platform`, so the cache is modelled. */
  needsCacheModel(platform: string): boolean;
  /** RAM layout for `memory` bytes on `platform`, holes included (e.g. x86's PCI hole below 4 GiB). */
  memoryLayout(memory: number, platform: string): MemoryRegion[];
  /** Whether a device is coherent when `createDevice` does not say. */
  defaultDeviceCoherent(platform: string, options: DeviceOptions): boolean;
  /** mm settings that differ per arch (vmalloc size, consistent area, …). */
  mmOptions?(options: MachineOptions, platform: string): { vmallocSize?: number; consistentSize?: number };
  /** The dma-direct hooks of a machine. */
  directHooks(machine: Machine): DmaDirectHooks;
  /** Arch-specific option names `buildMachine` should accept. */
  readonly extraOptions?: readonly string[];
  /**
   * Whether the machine gets a swiotlb pool when `swiotlb` is not given: x86's
   * `pci_swiotlb_detect` (RAM above 4 GiB), arm64's "some RAM above the DMA zones".
   */
  swiotlbByDefault?(machine: Machine): boolean;
  /** `arch_setup_dma_ops`: choose the device's ops at run time (IOMMU, bypass, platform ops). */
  setupDevice?(machine: Machine, dev: Device, options: DeviceOptions): void;
  /** `arch_teardown_dma_ops`: the device is being removed (leave its IOMMU group, …). */
  releaseDevice?(machine: Machine, dev: Device): void;
  /** Called once the machine is assembled: build IOMMU hardware, swiotlb, platform state. */
  setupMachine?(machine: Machine, options: MachineOptions): void;
}
