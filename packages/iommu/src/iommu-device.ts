import { checkInteger, describe, isPowerOfTwo } from '@kdma/hw';
import type { IommuStats, Machine, MachineIommu } from '@kdma/dma-mapping/ops';
import type { IoPgtableFmt } from './io-pgtable.js';
import type { IommuDomain } from './iommu.js';
import type { IommuDmaBuffer } from './dma-iommu-alloc.js';
import { pgsizeList } from './iommu-pgsize.js';

/** `enum iommu_resv_type`: what a reserved IOVA region is for. */
export type IommuResvType = 'direct' | 'reserved' | 'msi' | 'sw-msi';

/** `struct iommu_resv_region`: IOVA the DMA API must not hand out (MSI doorbells, HT space). */
export interface IommuResvRegion {
  readonly start: number;
  readonly length: number;
  readonly type: IommuResvType;
}

/** What an IOMMU driver reports about a fault it could not hand to anyone. */
export interface IommuFaultInfo {
  /** The faulting device's name. */
  readonly device: string;
  /** Its index on this IOMMU (a stream ID, a PCI devfn). */
  readonly deviceIndex: number;
  readonly iova: number;
  readonly write: boolean;
  /** `translation`: no PTE; `permission`: the PTE forbids the direction. */
  readonly kind: 'translation' | 'permission';
  readonly domainId: number;
}

/**
 * An IOMMU driver as the core sees it: `struct iommu_ops`/`iommu_domain_ops` reduced to the facts
 * that differ between SMMU, VT-d and AMD-Vi — the page-table format and sizes, the IOTLB, what
 * the driver supports and how it words an unhandled fault. The arch packages provide these.
 */
export interface IommuDriver {
  /** The hardware's name: one of the arch's `iommus` (`'arm-smmu'`, `'intel-iommu'`, …). */
  readonly name: string;
  /** The io-pgtable format of its paging domains. */
  readonly format: IoPgtableFmt;
  /** `pgsize_bitmap`: the page and block sizes its page tables can map. */
  readonly pgsizeBitmap: number;
  /** Input (IOVA) and output (physical) address bits. */
  readonly ias: number;
  readonly oas: number;
  /** IOTLB entries per domain (a power of two; default 512). */
  readonly iotlbEntries?: number;
  /** `IOMMU_CAP_DEFERRED_FLUSH`: lazy mode (a flush queue) is possible (default true). */
  readonly deferredFlush?: boolean;
  /** Its devices are PCI devices, so dma-iommu tries a 32-bit IOVA first (`pci_32bit_workaround`). */
  readonly pciDevices?: boolean;
  /** `get_resv_regions`: IOVA ranges every DMA domain reserves. */
  readonly reservedRegions?: readonly IommuResvRegion[];
  /** The line the driver prints for an unhandled fault (`dev_err_ratelimited` in its IRQ handler). */
  formatFault(info: IommuFaultInfo): string;
}

/** Counters behind `machine.iommu.stats()`. */
export interface IommuCounters {
  iotlbHits: number;
  iotlbMisses: number;
  faults: number;
  flushes: number;
}

/**
 * `struct iommu_device`: one IOMMU's hardware, registered on a machine (`machine.iommu`). It
 * counts IOTLB hits and misses, faults and invalidations, and owns the domains allocated on it.
 */
export class IommuDevice implements MachineIommu {
  readonly name: string;
  readonly machine: Machine;
  readonly driver: IommuDriver;
  /** The driver's page sizes, smallest first. */
  readonly pgsizes: readonly number[];
  readonly iotlbEntries: number;
  readonly counters: IommuCounters = { iotlbHits: 0, iotlbMisses: 0, faults: 0, flushes: 0 };
  /** `iommu.passthrough=1`: default domains are identity, devices use dma-direct. */
  readonly passthrough: boolean;
  /** Live domains (freed ones leave). */
  readonly domains = new Set<IommuDomain>();
  /**
   * Coherent buffers of dma-iommu by CPU address (kernel: the vm_struct's `pages`, or the page
   * array handed out as a NO_KERNEL_MAPPING cookie).
   */
  readonly dmaBuffers = new Map<number, IommuDmaBuffer>();
  private nextDomainId = 1;
  private nextGroupId = 0;
  private nextDeviceIndex = 0;

  constructor(machine: Machine, driver: IommuDriver, passthrough: boolean) {
    checkDriver(driver);
    this.name = driver.name;
    this.machine = machine;
    this.driver = driver;
    this.pgsizes = pgsizeList(driver.pgsizeBitmap);
    this.iotlbEntries = driver.iotlbEntries ?? 512;
    this.passthrough = passthrough;
  }

  /** `machine.iommu.stats()`: IOTLB hits and misses, faults, mapped bytes, invalidations, pending ones. */
  stats(): IommuStats {
    let mappedBytes = 0;
    let pendingFlushes = 0;
    for (const domain of this.domains) {
      mappedBytes += domain.mappedBytes;
      pendingFlushes += domain.pendingFlushes;
    }
    const c = this.counters;
    return { iotlbHits: c.iotlbHits, iotlbMisses: c.iotlbMisses, faults: c.faults, mappedBytes, flushes: c.flushes, pendingFlushes };
  }

  /** @internal Ids in allocation order, as the drivers number their domains. */
  allocDomainId(): number {
    return this.nextDomainId++;
  }

  /** @internal */
  allocGroupId(): number {
    return this.nextGroupId++;
  }

  /** @internal The device's index on this IOMMU (its stream ID or devfn). */
  allocDeviceIndex(): number {
    return this.nextDeviceIndex++;
  }
}

function checkDriver(driver: IommuDriver): void {
  if (typeof driver !== 'object' || driver === null) throw new TypeError(`driver must be an IommuDriver, got ${describe(driver)}`);
  if (typeof driver.name !== 'string' || driver.name === '') throw new TypeError(`driver.name must be a non-empty string, got ${describe(driver.name)}`);
  checkInteger(driver.pgsizeBitmap, 'driver.pgsizeBitmap', 1);
  checkInteger(driver.ias, 'driver.ias', 12, 52);
  checkInteger(driver.oas, 'driver.oas', 12, 52);
  if (driver.iotlbEntries !== undefined && !isPowerOfTwo(driver.iotlbEntries)) {
    throw new RangeError(`driver.iotlbEntries must be a power of two, got ${driver.iotlbEntries}`);
  }
  if (typeof driver.formatFault !== 'function') throw new TypeError('driver.formatFault must be a function');
}

/** The machine's IOMMU as `@kdma/iommu` built it, or null. */
export function iommuOf(machine: Machine): IommuDevice | null {
  return machine.iommu instanceof IommuDevice ? machine.iommu : null;
}

/**
 * `iommu_device_register`: puts the IOMMU hardware on the machine (`machine.iommu`). Arch packages
 * call it from their `setupMachine` when `createMachine({ iommu })` names one of theirs;
 * `passthrough` is `iommu.passthrough=1`.
 */
export function iommuDeviceRegister(machine: Machine, driver: IommuDriver, options: { passthrough?: boolean } = {}): IommuDevice {
  if (machine.iommu !== null) throw new Error(`machine already has an IOMMU (${machine.iommu.name})`);
  const passthrough = options.passthrough ?? false;
  if (typeof passthrough !== 'boolean') throw new TypeError(`options.passthrough must be a boolean, got ${describe(passthrough)}`);
  const iommu = new IommuDevice(machine, driver, passthrough);
  machine.iommu = iommu;
  return iommu;
}
