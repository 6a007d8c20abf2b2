import { describe } from '@kdma/hw';
import type { Device, DeviceOptions, Machine } from '@kdma/dma-mapping';
import { setDmaOps, type MachineOptions } from '@kdma/dma-mapping/ops';
import { iommuDmaInitDomain, iommuDmaOps } from './dma-iommu.js';
import { iommuDeviceRegister, iommuOf, type IommuDevice, type IommuDriver } from './iommu-device.js';
import {
  allocDomain,
  DevIommu,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_DOMAIN_IDENTITY,
  IommuGroup,
  IommuTranslation,
  setGroupDomain,
  type IommuDomainType,
} from './iommu.js';

/*
 * How devices get onto an IOMMU (iommu_probe_device, iommu_setup_default_domain,
 * iommu_setup_dma_ops): the arch packages call these from their ArchDescription hooks.
 */

/** Machine options of `@kdma/iommu` an arch package accepts (add them to `extraOptions`). */
export const IOMMU_OPTION_NAMES = ['iommuPassthrough'] as const;

/** The extra machine options: `iommuPassthrough` is `iommu.passthrough=1` (identity default domains). */
export interface IommuMachineOptions {
  readonly iommuPassthrough?: boolean;
}

/**
 * `setupMachine` for an arch with IOMMU models: registers the driver `drivers[options.iommu]`
 * when the machine was asked for one; returns it (null when there is none).
 */
export function iommuSetupMachine(machine: Machine, options: MachineOptions, drivers: Readonly<Record<string, (machine: Machine) => IommuDriver>>): IommuDevice | null {
  const passthrough = options['iommuPassthrough'] ?? false;
  if (typeof passthrough !== 'boolean') throw new TypeError(`options.iommuPassthrough must be a boolean, got ${describe(passthrough)}`);
  const name = options.iommu;
  if (name === undefined || name === false) {
    if (passthrough) throw new RangeError('options.iommuPassthrough needs an IOMMU (options.iommu)');
    return null;
  }
  const make = drivers[name];
  if (make === undefined) throw new RangeError(`options.iommu: no IOMMU model named ${describe(name)}`);
  return iommuDeviceRegister(machine, make(machine), { passthrough });
}

/** The default domain type (`iommu_def_domain_type`, `iommu.strict`, `iommu.passthrough`). */
function defaultDomainType(iommu: IommuDevice, want: boolean | undefined): IommuDomainType {
  if (want !== true && iommu.passthrough) return IOMMU_DOMAIN_IDENTITY;
  const lazy = !iommu.machine.iommuStrict && iommu.driver.deferredFlush !== false;
  return lazy ? IOMMU_DOMAIN_DMA_FQ : IOMMU_DOMAIN_DMA;
}

/**
 * `iommu_probe_device` + `iommu_setup_dma_ops` (the arch's `setupDevice`): every device the
 * machine's IOMMU covers gets a group of its own and a default domain — a DMA domain with
 * `iommu_dma_ops` (lazy with a flush queue when `iommuStrict` is false), or an identity domain
 * with dma-direct under `iommuPassthrough`. As in the kernel, a device is behind the IOMMU unless
 * it says `iommu: false`; `iommu: true` asks for a DMA domain even under passthrough (the sysfs
 * group type "DMA").
 */
export function iommuProbeDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  const iommu = iommuOf(machine);
  const want = options.iommu;
  if (want !== undefined && typeof want !== 'boolean') throw new TypeError(`options.iommu must be a boolean, got ${describe(want)}`);
  if (iommu === null || want === false) return;
  const index = iommu.allocDeviceIndex();
  const group = new IommuGroup(iommu);
  const translation = new IommuTranslation(dev, iommu, index);
  dev.iommu = new DevIommu(iommu, group, translation, iommu.driver.pciDevices === true);
  group.devices.push(dev);
  const type = defaultDomainType(iommu, want);
  const domain = allocDomain(iommu, type);
  if (domain === null) throw new Error(`${iommu.name}: cannot allocate a default domain for ${dev.name}`);
  group.defaultDomain = domain;
  if (type !== IOMMU_DOMAIN_IDENTITY) iommuDmaInitDomain(machine, domain);
  setGroupDomain(group, domain);
  setDmaOps(dev, type === IOMMU_DOMAIN_DMA || type === IOMMU_DOMAIN_DMA_FQ ? iommuDmaOps : null);
}
