import type { BusMaster } from '@kdma/hw';
import type { DmaCoherentMem } from './coherent.js';
import type { DmaMapOps } from './dma-map-ops.js';
import type { Machine } from './machine.js';

/** `struct device_dma_parameters`: the limits a device's DMA segments must respect. */
export interface DeviceDmaParameters {
  /** `max_segment_size` (default 64 KiB, as the kernel's). */
  maxSegmentSize: number;
  /** `segment_boundary_mask` (default every address: `Number.MAX_SAFE_INTEGER`). */
  segmentBoundaryMask: number;
  /** `min_align_mask`: low address bits swiotlb must preserve (NVMe). */
  minAlignMask: number;
}

/** Marks Device objects; a property test is several times cheaper than `instanceof` on the hot path. */
const DEVICE_BRAND: unique symbol = Symbol('kdma.Device');

/**
 * A DMA-capable device: the DMA fields of the kernel's `struct device`, plus `hw`, the bus master
 * its simulated hardware side uses. Created by `machine.createDevice`.
 */
export class Device {
  /** `dev_name(dev)`. */
  readonly name: string;
  readonly machine: Machine;
  /** The simulated hardware side: `dmaRead`, `dmaReadInto`, `dmaWrite` by bus address. */
  readonly hw: BusMaster;
  /** `*dev->dma_mask`: what streaming mappings may use. */
  dmaMask: number;
  /** `dev->coherent_dma_mask`: what coherent allocations may use. */
  coherentDmaMask: number;
  /** `dev->bus_dma_limit` (0: none). */
  busDmaLimit: number;
  /** `dev->dma_coherent`: the device snoops the CPU caches. */
  dmaCoherent: boolean;
  /** `dev->dma_ops`; null means dma-direct. */
  dmaOps: DmaMapOps | null = null;
  readonly dmaParms: DeviceDmaParameters;
  /** Bus address = physical address − `dmaOffset` (`dma_range_map`). */
  readonly dmaOffset: number;
  /** `dev->untrusted`: must not see other data in its pages (IOMMU bounces sub-granule buffers). */
  readonly untrusted: boolean;
  /** `dev->dma_mem`: per-device coherent memory (`dma_declare_coherent_memory`). */
  dmaMem: DmaCoherentMem | null = null;
  /** `dev->dma_skip_sync`: syncs are no-ops (coherent, no bouncing so far). */
  dmaSkipSync = false;
  /** Slot for the IOMMU layer (`dev->iommu_group` and friends); opaque to the core. */
  iommu: unknown = null;
  /** Slot for swiotlb (`dev->dma_io_tlb_mem`: the default or a restricted pool); opaque here. */
  dmaIoTlbMem: unknown = null;
  /** Slot for arch-private data (`dev->archdata`). */
  archData: unknown = null;
  /** False once `machine.removeDevice` unbound it. */
  bound = true;
  readonly [DEVICE_BRAND] = true;

  constructor(init: {
    name: string;
    machine: Machine;
    hw: BusMaster;
    dmaMask: number;
    coherent: boolean;
    busDmaLimit: number;
    dmaOffset: number;
    untrusted: boolean;
    dmaParms: DeviceDmaParameters;
  }) {
    this.name = init.name;
    this.machine = init.machine;
    this.hw = init.hw;
    this.dmaMask = init.dmaMask;
    this.coherentDmaMask = init.dmaMask;
    this.busDmaLimit = init.busDmaLimit;
    this.dmaCoherent = init.coherent;
    this.dmaOffset = init.dmaOffset;
    this.untrusted = init.untrusted;
    this.dmaParms = init.dmaParms;
  }

  toString(): string {
    return `Device(${this.name})`;
  }
}

/** Throws a TypeError naming `dev` unless it is a bound Device. */
export function checkDevice(dev: unknown): asserts dev is Device {
  if (typeof dev === 'object' && dev !== null && (dev as Partial<Device>)[DEVICE_BRAND] === true && (dev as Device).bound) return;
  throw badDevice(dev);
}

function badDevice(dev: unknown): Error {
  if (typeof dev !== 'object' || dev === null || (dev as Partial<Device>)[DEVICE_BRAND] !== true) {
    return new TypeError(`dev must be a Device from machine.createDevice, got ${dev === null ? 'null' : typeof dev}`);
  }
  return new Error(`dev ${(dev as Device).name} was removed from its machine`);
}

/** `dev_is_dma_coherent`. */
export function devIsDmaCoherent(dev: Device): boolean {
  return dev.dmaCoherent;
}
