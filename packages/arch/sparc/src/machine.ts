import { describe, type MemoryRegion } from '@kdma/hw';
import type { Device, DeviceOptions } from '@kdma/dma-mapping';
import { buildMachine, setDmaOps, type ArchDescription, type DmaDirectHooks, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { SPARC_PLATFORM_NAMES, sparcFacts } from './arch.js';
import { sun4uDmaOps, sun4uIommuInit, sun4uIommuOf } from './iommu.js';
import { leonDirectHooks, pci32DmaOps } from './ioport.js';
import { sun4vDmaOps, sun4vIommuInit, sun4vIommuOf } from './pci-sun4v.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** sparc's own `createMachine` options. */
export interface SparcOptions {
  /** LEON only: `sparc_leon3_snooping_enabled()` — the D-cache snoops DMA, devices are coherent. */
  readonly leonSnooping?: boolean;
}

export const SPARC_OPTION_NAMES = ['leonSnooping'] as const;

/** Where RAM lies: from 0 on sparc64, from 0x40000000 (the AHB SDRAM controller) on a LEON. */
export function sparcMemoryLayout(platform: string, memory: number): MemoryRegion[] {
  return [{ base: platform === 'sparc32-leon' ? 0x4000_0000 : 0, size: memory }];
}

/** sparc64's dma-direct hooks: nothing to do, the caches being coherent (the STC is the IOMMU's). */
function sparc64DirectHooks(_machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: 0,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  };
}

/** `dev->archdata.iommu`/`stc` (sparc64) or the global `dma_ops` (LEON), and the bus path. */
function setupDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  const platform = machine.platform;
  if (platform === 'sparc32-leon') {
    setDmaOps(dev, pci32DmaOps);
    return;
  }
  if (options.iommu === false) throw new RangeError(`options.iommu: every PCI device of a ${platform} machine is behind its IOMMU`);
  const iommu = platform === 'sun4u' ? sun4uIommuOf(machine) : sun4vIommuOf(machine);
  if (iommu === null) throw new Error(`${platform}: no IOMMU`);
  dev.hw.translation = iommu;
  setDmaOps(dev, platform === 'sun4u' ? sun4uDmaOps : sun4vDmaOps);
}

function setupMachine(machine: Machine, options: MachineOptions): void {
  const platform = machine.platform;
  const snooping = options['leonSnooping'];
  if (snooping !== undefined && typeof snooping !== 'boolean') throw new TypeError(`options.leonSnooping must be a boolean, got ${describe(snooping)}`);
  if (snooping !== undefined && platform !== 'sparc32-leon') throw new RangeError(`options.leonSnooping: a ${platform} machine has no LEON`);
  if (platform === 'sparc32-leon') {
    if (options.iommu !== undefined && options.iommu !== false) throw new RangeError('options.iommu: a LEON has no IOMMU');
    return;
  }
  const own = platform === 'sun4u' ? 'sun4u-iommu' : 'sun4v-iommu';
  if (options.iommu !== undefined && options.iommu !== own) throw new RangeError(`options.iommu: a ${platform} machine always has its ${own} (got ${describe(options.iommu)})`);
  if (platform === 'sun4u') sun4uIommuInit(machine);
  else sun4vIommuInit(machine);
}

/** How `buildMachine` assembles a SPARC machine of `platform` (`snooping`: a LEON whose cache snoops). */
export function sparcDescription(platform: string, snooping = false): ArchDescription {
  const leon = platform === 'sparc32-leon';
  return {
    facts: sparcFacts(platform),
    defaultMemory: leon ? 256 * MIB : GIB,
    defaultCma: 0,
    kmallocMinAlign: 8,
    extraOptions: SPARC_OPTION_NAMES,
    memoryLayout: (memory) => sparcMemoryLayout(platform, memory),
    needsCacheModel: () => leon && !snooping,
    defaultDeviceCoherent: () => !leon || snooping,
    // sparc32's vmalloc area is small (VMALLOC_END - VMALLOC_START: 256 MiB); sparc64's is vast.
    mmOptions: () => ({ vmallocSize: leon ? 256 * MIB : 32 * GIB }),
    directHooks: leon ? leonDirectHooks : sparc64DirectHooks,
    setupMachine,
    setupDevice,
  };
}

/**
 * A SPARC machine: a sun4u box (1 GiB, 8 KiB pages, the Schizo IOMMU with its streaming buffer)
 * unless `platform` says `'sun4v'` (the hypervisor's IOMMU) or `'sparc32-leon'` (256 MiB at
 * 0x40000000, 4 KiB pages, a non-snooping write-through D-cache; `leonSnooping: true` for one that
 * snoops).
 */
export function createMachine(options: MachineOptions & SparcOptions = {}): Machine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const platform = options.platform ?? (SPARC_PLATFORM_NAMES[0] as string);
  if (typeof platform !== 'string' || !SPARC_PLATFORM_NAMES.includes(platform)) {
    throw new RangeError(`options.platform must be one of ${SPARC_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  }
  return buildMachine(sparcDescription(platform, options.leonSnooping === true), options);
}
