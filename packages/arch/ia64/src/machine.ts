import { describe, type MemoryRegion } from '@kdma/hw';
import type { Device, DeviceOptions } from '@kdma/dma-mapping';
import { buildMachine, getDmaOps, setDmaOps, type ArchDescription, type DmaDirectHooks, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { IOMMU_OPTION_NAMES, iommuDmaOps, iommuProbeDevice, iommuSetupMachine, type IommuMachineOptions } from '@kdma/iommu';
import { IA64_PLATFORM_NAMES, ia64Facts } from './arch.js';
import { HWSW_SWIOTLB_SIZE, hwswDmaOps } from './hwsw-iommu.js';
import { ia64IntelDmaOps, ia64IntelIommuDriver } from './intel-iommu.js';
import { ia64SwiotlbDmaOps } from './pci-swiotlb.js';
import { pcibrInit, pcibrOf, SN2_NODE0_MEMORY } from './pcibr-dma.js';
import { iocOf, sbaDmaOps, sbaInit, ZX1_IOVA_BASE, zx1IovpSize } from './sba-iommu.js';
import { snDmaOps } from './sn-pci-dma.js';

const GIB = 2 ** 30;

/** ia64's own `createMachine` options. */
export interface Ia64Options {
  /** `sbapagesize=`: the SBA's IOVP page size (4/8/16/64 KiB); default `min(PAGE_SIZE, 64K)` on zx1. */
  readonly sbaPageSize?: number;
}

export const IA64_OPTION_NAMES = ['sbaPageSize', ...IOMMU_OPTION_NAMES] as const;

/** Where a machine vector's firmware puts `memory` bytes of RAM. */
export function ia64MemoryLayout(platform: string, memory: number): MemoryRegion[] {
  const split = (low: number): MemoryRegion[] => (memory <= low ? [{ base: 0, size: memory }] : [{ base: 0, size: low }, { base: 4 * GIB, size: memory - low }]);
  switch (platform) {
    // zx1: 1 GiB below the IOC's IOVA space (1–2 GiB) and MMIO, the rest above 4 GiB.
    case 'hpzx1':
    case 'hpzx1_swiotlb':
      return split(ZX1_IOVA_BASE);
    // SN2: node 0's memory, in the cached address space of NASID 0.
    case 'sn2':
      return [{ base: SN2_NODE0_MEMORY, size: memory }];
    // DIG (Intel Tiger and kin): low memory up to 2 GiB, the rest remapped above 4 GiB.
    default:
      return split(2 * GIB);
  }
}

/** ia64's dma-direct hooks: none does anything, I/O being cache-coherent. */
export function ia64DirectHooks(machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: machine.arch.honouredAttrs,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  };
}

function iommuFor(platform: string): string | null {
  if (platform === 'hpzx1' || platform === 'hpzx1_swiotlb') return 'sba';
  if (platform === 'sn2') return 'sn-pcibr';
  return null;
}

/** `machvec_init` + the platform's DMA init (`sba_init`, `hwsw_init`, `sn_dma_init`, `pci_iommu_alloc`). */
function setupMachine(machine: Machine, options: MachineOptions): void {
  const platform = machine.platform;
  const fixed = iommuFor(platform);
  if (fixed !== null && options.iommu !== undefined && options.iommu !== fixed) {
    throw new RangeError(`options.iommu: a ${platform} machine always has its ${fixed} (got ${describe(options.iommu)})`);
  }
  if (options['sbaPageSize'] !== undefined && fixed !== 'sba') throw new RangeError(`options.sbaPageSize: a ${platform} machine has no SBA IOMMU`);
  if (options['iommuPassthrough'] !== undefined && fixed !== null) throw new RangeError(`options.iommuPassthrough: only VT-d (platform 'dig', iommu 'intel-iommu') has passthrough`);
  if (fixed === 'sba') sbaInit(machine, zx1IovpSize(machine.pageSize, options['sbaPageSize'] as number | undefined));
  else if (fixed === 'sn-pcibr') pcibrInit(machine, machine.hw.ram.regions[0]?.base ?? SN2_NODE0_MEMORY);
  else iommuSetupMachine(machine, options, { 'intel-iommu': ia64IntelIommuDriver });
}

/** `platform_dma_get_ops` for a new device, and its bus master's path to memory. */
function setupDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  const platform = machine.platform;
  if (options.iommu === false && iommuFor(platform) !== null) {
    throw new RangeError(`options.iommu: every PCI device of a ${platform} machine is behind its ${iommuFor(platform) as string}`);
  }
  switch (platform) {
    case 'hpzx1':
    case 'hpzx1_swiotlb': {
      const ioc = iocOf(machine);
      if (ioc === null) throw new Error('hpzx1: no IOC');
      dev.hw.translation = ioc;
      setDmaOps(dev, platform === 'hpzx1' ? sbaDmaOps : hwswDmaOps);
      return;
    }
    case 'sn2': {
      const bus = pcibrOf(machine);
      if (bus === null) throw new Error('sn2: no PCI bridge');
      dev.hw.translation = bus;
      setDmaOps(dev, snDmaOps);
      return;
    }
    default:
      iommuProbeDevice(machine, dev, options);
      if (getDmaOps(dev) === iommuDmaOps) setDmaOps(dev, ia64IntelDmaOps);
      else if (dev.iommu === null) setDmaOps(dev, ia64SwiotlbDmaOps);
  }
}

/** How `buildMachine` assembles an ia64 machine with machine vector `platform`. */
export function ia64Description(platform: string): ArchDescription {
  return {
    facts: ia64Facts(platform),
    defaultMemory: 2 * GIB,
    defaultCma: 0,
    kmallocMinAlign: 8,
    extraOptions: IA64_OPTION_NAMES,
    memoryLayout: (memory) => ia64MemoryLayout(platform, memory),
    needsCacheModel: () => false,
    defaultDeviceCoherent: () => true,
    mmOptions: () => ({ vmallocSize: 32 * GIB }),
    directHooks: ia64DirectHooks,
    // DIG's swiotlb (64 MiB) and hwsw's (2 MiB, sized by createMachine); sba_init's swiotlb_exit.
    swiotlbByDefault: () => platform === 'dig' || platform === 'hpzx1_swiotlb',
    setupMachine,
    setupDevice,
  };
}

/**
 * An ia64 machine: an HP zx1 (machvec hpzx1, 2 GiB: 1 GiB low, 1 GiB above 4 GiB, the SBA IOMMU
 * with 16 KiB IOVP pages) unless `platform` names another machine vector — `'hpzx1_swiotlb'`
 * (hwsw), `'dig'` (swiotlb; with `iommu: 'intel-iommu'`, VT-d) or `'sn2'` (Altix).
 */
export function createMachine(options: MachineOptions & Ia64Options & IommuMachineOptions = {}): Machine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const platform = options.platform ?? (IA64_PLATFORM_NAMES[0] as string);
  if (typeof platform !== 'string' || !IA64_PLATFORM_NAMES.includes(platform)) {
    throw new RangeError(`options.platform must be one of ${IA64_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  }
  const withPool = platform === 'hpzx1_swiotlb' && options.swiotlb === undefined ? { ...options, swiotlb: { size: HWSW_SWIOTLB_SIZE } } : options;
  return buildMachine(ia64Description(platform), withPool);
}
