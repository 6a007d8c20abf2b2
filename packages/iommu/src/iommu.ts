import { addrMod, checkAddress, checkInteger, checkSize, describe, type DmaFault, type DmaFaultKind, type DmaTranslation, hex, pow2, type TranslationRun } from '@kdma/hw';
import { Device, type Machine } from '@kdma/dma-mapping';
import type { Scatterlist } from '@kdma/scatterlist';
import { allocIoPgtableOps, IOMMU_READ, IOMMU_WRITE, type IoPgtableMapped, type IoPgtableOps } from './io-pgtable.js';
import { EBUSY, EINVAL, ENODEV, ENOSYS } from './errno.js';
import { iommuOf, type IommuDevice } from './iommu-device.js';
import { iommuPgsize, type PgsizeChoice } from './iommu-pgsize.js';
import { Iotlb } from './iotlb.js';

/*
 * The IOMMU core (drivers/iommu/iommu.c): domains — the address spaces an IOMMU translates a
 * device's bus addresses through — and groups of devices that share one; attaching, mapping with
 * the largest page sizes alignment allows, IOTLB maintenance and fault reporting. The hardware
 * side is the per-device `DmaTranslation` the core installs on the device's bus master: every DMA
 * access goes through the domain's IOTLB and, on a miss, its page table.
 */

/** `IOMMU_DOMAIN_BLOCKED`: all DMA is blocked. */
export const IOMMU_DOMAIN_BLOCKED = 0;
/** `IOMMU_DOMAIN_UNMANAGED` (`__IOMMU_DOMAIN_PAGING`): a driver's own address space. */
export const IOMMU_DOMAIN_UNMANAGED = 1;
/** `IOMMU_DOMAIN_DMA`: paging, used by the DMA API (dma-iommu), strict invalidation. */
export const IOMMU_DOMAIN_DMA = 3;
/** `IOMMU_DOMAIN_IDENTITY` (`__IOMMU_DOMAIN_PT`): bus address = physical address. */
export const IOMMU_DOMAIN_IDENTITY = 4;
/** `IOMMU_DOMAIN_DMA_FQ`: a DMA domain with lazy invalidation through a flush queue. */
export const IOMMU_DOMAIN_DMA_FQ = 11;

export type IommuDomainType =
  | typeof IOMMU_DOMAIN_BLOCKED
  | typeof IOMMU_DOMAIN_UNMANAGED
  | typeof IOMMU_DOMAIN_DMA
  | typeof IOMMU_DOMAIN_IDENTITY
  | typeof IOMMU_DOMAIN_DMA_FQ;

const DOMAIN_TYPES: ReadonlySet<number> = new Set([0, 1, 3, 4, 11]);

/** `IOMMU_FAULT_READ` / `IOMMU_FAULT_WRITE`: the `flags` a fault handler gets. */
export const IOMMU_FAULT_READ = 0;
export const IOMMU_FAULT_WRITE = 1;

/**
 * `iommu_fault_handler_t`: called by `report_iommu_fault` for a device access the domain does not
 * allow; returns 0 when it handled the fault, or -ENOSYS to let the driver print it.
 */
export type IommuFaultHandler = (domain: IommuDomain, dev: Device, iova: number, flags: number, token: unknown) => number;

/** `struct iommu_domain_geometry`. */
export interface IommuDomainGeometry {
  readonly apertureStart: number;
  readonly apertureEnd: number;
  /** DMA only inside the aperture. */
  readonly forceAperture: boolean;
}

/** `struct iommu_iotlb_gather`: the IOVA range an unmap touched, to invalidate in one go. */
export interface IommuIotlbGather {
  start: number;
  end: number;
  /** The invalidation waits in a flush queue (lazy mode). */
  queued: boolean;
}

/** `iommu_iotlb_gather_init`. */
export function iommuIotlbGatherInit(): IommuIotlbGather {
  return { start: Number.MAX_SAFE_INTEGER, end: 0, queued: false };
}

/** `struct iommu_domain`: an IOVA space, its page table, its IOTLB and fault handler. */
export class IommuDomain {
  readonly id: number;
  readonly type: IommuDomainType;
  readonly iommu: IommuDevice;
  readonly pgsizeBitmap: number;
  /** The page sizes of `pgsizeBitmap`, smallest first. */
  readonly pgsizes: readonly number[];
  /** The smallest page size: the IOMMU's granule. */
  readonly granule: number;
  readonly geometry: IommuDomainGeometry;
  /** The page table of a paging domain; null for identity and blocked ones. */
  readonly pgtable: IoPgtableOps | null;
  readonly iotlb: Iotlb | null;
  /** Bytes the page table maps now. */
  mappedBytes = 0;
  /** Unmaps whose IOTLB invalidation waits in a flush queue. */
  pendingFlushes = 0;
  /** `domain->iova_cookie`: dma-iommu's state for a DMA domain. */
  dmaCookie: unknown = null;
  handler: IommuFaultHandler | null = null;
  handlerToken: unknown = null;
  /** Groups attached now. */
  attachedGroups = 0;
  freed = false;
  /** Scratch for the hot paths (a walk result, a page-size choice). */
  private readonly walkOut = { paddr: 0, length: 0, prot: 0 };
  /** @internal */
  readonly pgsizeChoice: PgsizeChoice = { pgsize: 0, count: 0 };
  /** @internal */
  readonly mappedOut: IoPgtableMapped = { mapped: 0 };

  /** Made by `iommuDomainAlloc`. */
  constructor(iommu: IommuDevice, type: IommuDomainType, pgtable: IoPgtableOps | null) {
    this.iommu = iommu;
    this.type = type;
    this.id = iommu.allocDomainId();
    this.pgsizeBitmap = iommu.driver.pgsizeBitmap;
    this.pgsizes = iommu.pgsizes;
    this.granule = iommu.pgsizes[0] as number;
    this.geometry = Object.freeze({ apertureStart: 0, apertureEnd: pow2(iommu.driver.ias) - 1, forceAperture: true });
    this.pgtable = pgtable;
    this.iotlb = pgtable === null ? null : new Iotlb(iommu.iotlbEntries);
  }

  /** `__IOMMU_DOMAIN_PAGING`: the domain has a page table. */
  get isPaging(): boolean {
    return this.pgtable !== null;
  }

  /**
   * The IOMMU's side of a device access: translates the run at `bus` page by page through the
   * IOTLB (walking the page table on a miss and caching the result), as far as the physical
   * pages stay contiguous and the PTEs allow the direction. Allocates nothing.
   */
  translateDma(bus: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const pgtable = this.pgtable;
    if (pgtable === null) {
      if (this.type !== IOMMU_DOMAIN_IDENTITY) return 'translation';
      out.paddr = bus;
      out.length = length;
      return null;
    }
    const tlb = this.iotlb as Iotlb;
    const counters = this.iommu.counters;
    const g = this.granule;
    const end = this.geometry.apertureEnd;
    const need = write ? IOMMU_WRITE : IOMMU_READ;
    const w = this.walkOut;
    let page = Math.floor(bus / g);
    const off = bus - page * g;
    let start = -1;
    let len = 0;
    // The leaf the last walk of this access found (a block covers many granules): later misses
    // inside it need no walk. Only for this access, so it can never go stale.
    let leafStart = 0;
    let leafEnd = 0;
    let leafPa = 0;
    let leafProt = 0;
    while (len < length) {
      let pa: number;
      let prot: number;
      const slot = tlb.lookup(page);
      if (slot >= 0) {
        counters.iotlbHits++;
        pa = tlb.paddrAt(slot);
        prot = tlb.protAt(slot);
      } else {
        counters.iotlbMisses++;
        const iova = page * g;
        if (iova < leafEnd && iova >= leafStart) {
          pa = leafPa + (iova - leafStart);
          prot = leafProt;
        } else {
          if (iova > end || !pgtable.translate(iova, w)) {
            if (start < 0) return 'translation';
            break;
          }
          pa = w.paddr;
          prot = w.prot;
          leafStart = iova;
          leafEnd = iova + w.length;
          leafPa = pa;
          leafProt = prot;
        }
        tlb.fill(page, pa, prot);
      }
      if ((prot & need) === 0) {
        if (start < 0) return 'permission';
        break;
      }
      if (start < 0) {
        start = pa + off;
        len = g - off;
      } else {
        if (pa !== start + len) break;
        len += g;
      }
      page++;
    }
    out.paddr = start;
    out.length = len < length ? len : length;
    return null;
  }

  /**
   * A software walk of the page table (what `iova_to_phys` does; the IOTLB is not consulted):
   * the physical address of `iova`, or -1 when it is not mapped. Unlike `iommuIovaToPhys` it can
   * tell physical address 0 from "not mapped".
   */
  walk(iova: number): number {
    const pgtable = this.pgtable;
    if (pgtable === null) return this.type === IOMMU_DOMAIN_IDENTITY ? iova : -1;
    if (iova > this.geometry.apertureEnd || !pgtable.translate(iova, this.walkOut)) return -1;
    return this.walkOut.paddr;
  }

  /** The length of the physically contiguous run the last successful `walk` found. */
  get lastWalkLength(): number {
    return this.walkOut.length;
  }

  toString(): string {
    return `IommuDomain(${this.iommu.name}#${this.id})`;
  }
}

/** `struct iommu_group`: devices the IOMMU cannot tell apart, which share one domain. */
export class IommuGroup {
  readonly id: number;
  readonly iommu: IommuDevice;
  readonly devices: Device[] = [];
  /** The domain the group gets when no driver owns it (DMA or identity). */
  defaultDomain: IommuDomain | null = null;
  /** The domain attached now. */
  domain: IommuDomain | null = null;

  constructor(iommu: IommuDevice) {
    this.iommu = iommu;
    this.id = iommu.allocGroupId();
  }
}

/**
 * The per-device translation hook on the bus master (`dev->iommu` + the IOMMU's stream table
 * entry): it sends the device's accesses through its group's current domain and reports faults.
 */
export class IommuTranslation implements DmaTranslation {
  /** The attached domain; null blocks every access. */
  domain: IommuDomain | null = null;

  constructor(
    readonly dev: Device,
    readonly iommu: IommuDevice,
    /** The device's index on the IOMMU (stream ID, devfn) for fault messages. */
    readonly index: number,
  ) {}

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const domain = this.domain;
    if (domain === null) return 'translation';
    return domain.translateDma(busAddr, length, write, out);
  }

  /** The IOMMU's fault interrupt: counts it, offers it to the domain's handler, else prints it. */
  onFault(fault: DmaFault): void {
    if (fault.kind !== 'translation' && fault.kind !== 'permission') return;
    this.iommu.counters.faults++;
    const domain = this.domain;
    const ret = domain === null ? -ENOSYS : reportIommuFault(domain, this.dev, fault.busAddr, fault.write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ);
    if (ret === -ENOSYS) {
      const line = this.iommu.driver.formatFault({
        device: this.dev.name,
        deviceIndex: this.index,
        iova: fault.busAddr,
        write: fault.write,
        kind: fault.kind,
        domainId: domain?.id ?? 0,
      });
      this.iommu.machine.printk('err', null, line);
    }
  }
}

/** The IOMMU state of a device (`dev->iommu`, `dev->iommu_group`). */
export class DevIommu {
  constructor(
    readonly iommu: IommuDevice,
    public group: IommuGroup,
    readonly translation: IommuTranslation,
    /** `dev->iommu->pci_32bit_workaround`: try a 32-bit IOVA first (PCI devices). */
    public pci32bitWorkaround: boolean,
  ) {}
}

/** The device's IOMMU state, or null when it is not behind an IOMMU. */
export function devIommu(dev: Device): DevIommu | null {
  return dev.iommu instanceof DevIommu ? dev.iommu : null;
}

function checkDev(dev: unknown): asserts dev is Device {
  if (!(dev instanceof Device)) throw new TypeError(`dev must be a Device from machine.createDevice, got ${describe(dev)}`);
}

function checkDomain(domain: unknown): asserts domain is IommuDomain {
  if (!(domain instanceof IommuDomain)) throw new TypeError(`domain must be an IommuDomain from iommuDomainAlloc, got ${describe(domain)}`);
  if (domain.freed) throw new Error(`${domain.toString()} was freed`);
}

/** @internal Allocates a domain of any type on `iommu` (`__iommu_domain_alloc`). */
export function allocDomain(iommu: IommuDevice, type: IommuDomainType): IommuDomain | null {
  let pgtable: IoPgtableOps | null = null;
  if (type !== IOMMU_DOMAIN_IDENTITY && type !== IOMMU_DOMAIN_BLOCKED) {
    const { format, pgsizeBitmap, ias, oas } = iommu.driver;
    const machine = iommu.machine;
    pgtable = allocIoPgtableOps(format, { pgsizeBitmap, ias, oas, pageSize: machine.pageSize, warn: (message) => machine.printk('warn', null, message) });
    if (pgtable === null) return null;
  }
  const domain = new IommuDomain(iommu, type, pgtable);
  iommu.domains.add(domain);
  return domain;
}

/**
 * `iommu_domain_alloc(bus)` (v3.5's signature, the machine being the bus): a new domain on the
 * machine's IOMMU, unmanaged unless `type` says otherwise; null when the machine has no IOMMU or
 * the page table cannot be allocated.
 */
export function iommuDomainAlloc(machine: Machine, type: IommuDomainType = IOMMU_DOMAIN_UNMANAGED): IommuDomain | null {
  if (typeof machine !== 'object' || machine === null) throw new TypeError(`machine must be a Machine, got ${describe(machine)}`);
  if (!DOMAIN_TYPES.has(type)) throw new RangeError(`type must be one of the IOMMU_DOMAIN_* values, got ${describe(type)}`);
  const iommu = iommuOf(machine);
  if (iommu === null) return null;
  return allocDomain(iommu, type);
}

/** `iommu_domain_free`: the domain must be detached from every group first. */
export function iommuDomainFree(domain: IommuDomain): void {
  checkDomain(domain);
  if (domain.attachedGroups > 0) throw new Error(`iommu_domain_free: ${domain.toString()} is still attached to ${domain.attachedGroups} group(s)`);
  (domain.dmaCookie as { destroy?(): void } | null)?.destroy?.();
  domain.pgtable?.free();
  domain.freed = true;
  domain.mappedBytes = 0;
  domain.pendingFlushes = 0;
  domain.iommu.domains.delete(domain);
}

/** `iommu_group_get`: the device's group, or null when it is not behind an IOMMU. */
export function iommuGroupGet(dev: Device): IommuGroup | null {
  checkDev(dev);
  return devIommu(dev)?.group ?? null;
}

/** `iommu_get_domain_for_dev`: the domain the device's group is attached to now. */
export function iommuGetDomainForDev(dev: Device): IommuDomain | null {
  checkDev(dev);
  return devIommu(dev)?.group.domain ?? null;
}

/** `iommu_get_dma_domain`: the group's default domain, the one the DMA API maps into. */
export function iommuGetDmaDomain(dev: Device): IommuDomain | null {
  checkDev(dev);
  return devIommu(dev)?.group.defaultDomain ?? null;
}

/** Points every device of the group at `domain` (`__iommu_group_set_domain`). */
export function setGroupDomain(group: IommuGroup, domain: IommuDomain | null): void {
  if (group.domain !== null) group.domain.attachedGroups--;
  group.domain = domain;
  if (domain !== null) domain.attachedGroups++;
  for (const dev of group.devices) applyDomain(dev, domain);
}

/** @internal Installs the device's translation for `domain` on its bus master. */
export function applyDomain(dev: Device, domain: IommuDomain | null): void {
  const state = devIommu(dev);
  if (state === null) return;
  if (domain !== null && domain.type === IOMMU_DOMAIN_IDENTITY) {
    // Passthrough: the bus master sees physical memory directly.
    state.translation.domain = null;
    dev.hw.translation = null;
  } else {
    state.translation.domain = domain;
    dev.hw.translation = state.translation;
  }
}

/**
 * `iommu_attach_device`: puts the device (alone in its group) into `domain`, replacing its default
 * domain. 0, -ENODEV (not behind this IOMMU), -EINVAL (its group has other devices) or -EBUSY
 * (another driver-owned domain is attached).
 */
export function iommuAttachDevice(domain: IommuDomain, dev: Device): number {
  checkDomain(domain);
  checkDev(dev);
  const state = devIommu(dev);
  if (state === null || state.iommu !== domain.iommu) return -ENODEV;
  if (state.group.devices.length !== 1) return -EINVAL;
  return iommuAttachGroup(domain, state.group);
}

/** `iommu_attach_group`. */
export function iommuAttachGroup(domain: IommuDomain, group: IommuGroup): number {
  checkDomain(domain);
  if (!(group instanceof IommuGroup)) throw new TypeError(`group must be an IommuGroup, got ${describe(group)}`);
  if (group.iommu !== domain.iommu) return -ENODEV;
  if (group.domain === domain) return 0;
  if (group.domain !== group.defaultDomain) return -EBUSY;
  setGroupDomain(group, domain);
  return 0;
}

/** `iommu_detach_device`: back to the group's default domain. */
export function iommuDetachDevice(domain: IommuDomain, dev: Device): void {
  checkDomain(domain);
  checkDev(dev);
  const state = devIommu(dev);
  if (state === null) return;
  iommuDetachGroup(domain, state.group);
}

/** `iommu_detach_group`. */
export function iommuDetachGroup(domain: IommuDomain, group: IommuGroup): void {
  checkDomain(domain);
  if (group.domain !== domain) {
    group.iommu.machine.printk('warn', null, `iommu: detaching group ${group.id} from ${domain.toString()}, which it is not attached to`);
    return;
  }
  setGroupDomain(group, group.defaultDomain);
}

/**
 * `iommu_group_alloc` + `iommu_group_add_device`: moves `dev` into `group` (devices the IOMMU
 * cannot isolate from each other, as PCI aliases); it takes the group's current domain.
 */
export function iommuGroupAddDevice(group: IommuGroup, dev: Device): number {
  if (!(group instanceof IommuGroup)) throw new TypeError(`group must be an IommuGroup, got ${describe(group)}`);
  checkDev(dev);
  const state = devIommu(dev);
  if (state === null || state.iommu !== group.iommu) return -ENODEV;
  if (state.group === group) return 0;
  const old = state.group;
  old.devices.splice(old.devices.indexOf(dev), 1);
  if (old.devices.length === 0 && old.domain !== null) old.domain.attachedGroups--;
  state.group = group;
  group.devices.push(dev);
  applyDomain(dev, group.domain);
  return 0;
}

/** `iommu_set_fault_handler`: `handler(domain, dev, iova, flags, token)` for faults in `domain`. */
export function iommuSetFaultHandler(domain: IommuDomain, handler: IommuFaultHandler | null, token?: unknown): void {
  checkDomain(domain);
  if (handler !== null && typeof handler !== 'function') throw new TypeError(`handler must be a function or null, got ${describe(handler)}`);
  domain.handler = handler;
  domain.handlerToken = token ?? null;
}

/** `report_iommu_fault`: the handler's answer, or -ENOSYS when there is none. */
export function reportIommuFault(domain: IommuDomain, dev: Device, iova: number, flags: number): number {
  const handler = domain.handler;
  if (handler === null) return -ENOSYS;
  return handler(domain, dev, iova, flags, domain.handlerToken);
}

function unaligned(domain: IommuDomain, message: string): void {
  domain.iommu.machine.printk('err', null, `iommu: unaligned: ${message} min_pagesz ${hex(domain.granule)}`);
}

/**
 * `iommu_map`: maps `[iova, iova + size)` to `paddr` with `prot` (`IOMMU_READ`, …), using the
 * largest page sizes the alignment of both addresses allows. 0, or -EINVAL (not a paging domain,
 * or not aligned to the smallest page size) or the page table's error; a failed map is undone.
 */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  checkDomain(domain);
  checkAddress(iova, 'iova');
  checkAddress(paddr, 'paddr');
  checkSize(size, 'size', 0);
  checkInteger(prot, 'prot', 0, 63);
  if (!domain.isPaging) return -EINVAL;
  const g = domain.granule;
  if (addrMod(iova, g) !== 0 || addrMod(paddr, g) !== 0 || addrMod(size, g) !== 0) {
    unaligned(domain, `iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)}`);
    return -EINVAL;
  }
  return mapRange(domain, iova, paddr, size, prot);
}

/** `__iommu_map` after the checks (dma-iommu calls it with aligned, valid arguments). */
export function mapRange(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  const pgtable = domain.pgtable as IoPgtableOps;
  const choice = domain.pgsizeChoice;
  const mapped = domain.mappedOut;
  let left = size;
  let at = iova;
  let pa = paddr;
  let ret = 0;
  while (left > 0) {
    iommuPgsize(domain.pgsizes, at, pa, left, choice);
    mapped.mapped = 0;
    // ->map_pages may map fewer than asked (the end of a table): the loop asks again.
    ret = pgtable.mapPages(at, pa, choice.pgsize, choice.count, prot, mapped);
    left -= mapped.mapped;
    domain.mappedBytes += mapped.mapped;
    if (ret !== 0) break;
    at += mapped.mapped;
    pa += mapped.mapped;
  }
  if (ret !== 0) {
    // Unroll what was mapped.
    const gather = iommuIotlbGatherInit();
    unmapRange(domain, iova, size - left, gather);
    iommuIotlbSync(domain, gather);
    return ret;
  }
  return 0;
}

/** `__iommu_unmap` after the checks: bytes unmapped (whole blocks, so possibly more than asked). */
export function unmapRange(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  const pgtable = domain.pgtable as IoPgtableOps;
  const choice = domain.pgsizeChoice;
  let unmapped = 0;
  let at = iova;
  while (unmapped < size) {
    iommuPgsize(domain.pgsizes, at, at, size - unmapped, choice);
    const page = pgtable.unmapPages(at, choice.pgsize, choice.count);
    if (page === 0) break;
    if (at < gather.start) gather.start = at;
    if (at + page > gather.end) gather.end = at + page;
    at += page;
    unmapped += page;
  }
  domain.mappedBytes = Math.max(0, domain.mappedBytes - unmapped);
  return unmapped;
}

function checkUnmap(domain: IommuDomain, iova: number, size: number): boolean {
  checkDomain(domain);
  checkAddress(iova, 'iova');
  checkSize(size, 'size', 0);
  if (!domain.isPaging) return false;
  if (addrMod(iova, domain.granule) !== 0 || addrMod(size, domain.granule) !== 0) {
    unaligned(domain, `iova ${hex(iova)} size ${hex(size)}`);
    return false;
  }
  return true;
}

/**
 * `iommu_unmap`: unmaps `[iova, iova + size)` and invalidates the IOTLB for it at once. Returns
 * the bytes unmapped — more than `size` when the range cut into a block mapping, which goes
 * whole; 0 for an unaligned range or a domain without a page table.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  if (!checkUnmap(domain, iova, size)) return 0;
  const gather = iommuIotlbGatherInit();
  const unmapped = unmapRange(domain, iova, size, gather);
  iommuIotlbSync(domain, gather);
  return unmapped;
}

/**
 * `iommu_unmap_fast`: unmaps without invalidating; the range joins `gather`, for one
 * `iommuIotlbSync` later (or none, in lazy mode, until the flush queue drains).
 */
export function iommuUnmapFast(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  if (!checkUnmap(domain, iova, size)) return 0;
  return unmapRange(domain, iova, size, gather);
}

/** `iommu_iotlb_sync`: invalidates the gathered range in the IOTLB (one invalidation command). */
export function iommuIotlbSync(domain: IommuDomain, gather: IommuIotlbGather): void {
  if (gather.end <= gather.start) return;
  const tlb = domain.iotlb;
  if (tlb !== null) {
    const g = domain.granule;
    const first = Math.floor(gather.start / g);
    tlb.invalidateRange(first, Math.ceil(gather.end / g) - first);
    domain.iommu.counters.flushes++;
  }
  gather.start = Number.MAX_SAFE_INTEGER;
  gather.end = 0;
}

/** `iommu_flush_iotlb_all`: invalidates the whole IOTLB of the domain; nothing stale remains. */
export function iommuFlushIotlbAll(domain: IommuDomain): void {
  checkDomain(domain);
  const tlb = domain.iotlb;
  if (tlb === null) return;
  tlb.invalidateAll();
  domain.iommu.counters.flushes++;
  domain.pendingFlushes = 0;
}

/**
 * `iommu_map_sg`: maps the entries' physical ranges one after another from `iova`, joining
 * physically contiguous neighbours into one `iommu_map`. Bytes mapped, or a negative errno (with
 * everything undone).
 */
export function iommuMapSg(domain: IommuDomain, iova: number, sgl: readonly Scatterlist[], nents: number, prot: number): number {
  checkDomain(domain);
  checkAddress(iova, 'iova');
  if (!Array.isArray(sgl)) throw new TypeError(`sgl must be an array of scatterlist entries, got ${describe(sgl)}`);
  checkInteger(nents, 'nents', 0, sgl.length);
  checkInteger(prot, 'prot', 0, 63);
  const pageSize = domain.iommu.machine.pageSize;
  let mapped = 0;
  let start = 0;
  let len = 0;
  for (let i = 0; i <= nents; i++) {
    const sg = i < nents ? (sgl[i] as Scatterlist) : null;
    const phys = sg === null ? -1 : sg.pfn * pageSize + sg.offset;
    if (len > 0 && phys !== start + len) {
      const ret = iommuMap(domain, iova + mapped, start, len, prot);
      if (ret !== 0) {
        if (mapped > 0) iommuUnmap(domain, iova, mapped);
        return ret;
      }
      mapped += len;
      len = 0;
    }
    if (sg === null) break;
    if (len > 0) {
      len += sg.length;
    } else {
      len = sg.length;
      start = phys;
    }
  }
  return mapped;
}

/**
 * `iommu_iova_to_phys`: the physical address `iova` translates to in software (no IOTLB); 0 when
 * it is not mapped, as in the kernel (`domain.walk` tells 0 from unmapped). Identity domains
 * return `iova`.
 */
export function iommuIovaToPhys(domain: IommuDomain, iova: number): number {
  checkDomain(domain);
  checkAddress(iova, 'iova');
  const paddr = domain.walk(iova);
  return paddr < 0 ? 0 : paddr;
}
