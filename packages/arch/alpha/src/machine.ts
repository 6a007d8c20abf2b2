import { describe, type MemoryRegion } from '@kdma/hw';
import type { Device, DeviceOptions } from '@kdma/dma-mapping';
import { buildMachine, setDmaOps, type ArchDescription, type DmaDirectHooks, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { ALPHA_PLATFORM_NAMES, alphaFacts } from './arch.js';
import { tsunamiInit, tsunamiOf } from './core-tsunami.js';
import { alphaPciOps } from './pci-iommu.js';
import { alphaNoopOps } from './pci-noop.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** RAM from 0. */
export function alphaMemoryLayout(memory: number): MemoryRegion[] {
  return [{ base: 0, size: memory }];
}

/** Alpha's dma-direct hooks: nothing to do, DMA is coherent. */
function alphaDirectHooks(_machine: Machine): DmaDirectHooks {
  return {
    honouredAttrs: 0,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  };
}

function setupMachine(machine: Machine, options: MachineOptions): void {
  if (machine.platform === 'jensen') {
    if (options.iommu !== undefined && options.iommu !== false) throw new RangeError('options.iommu: a Jensen has no PCI, so no scatter-gather windows');
    return;
  }
  if (options.iommu === false) throw new RangeError('options.iommu: a Tsunami always has its PCI windows');
  tsunamiInit(machine);
}

/** The global `dma_ops` for every device, and (Tsunami) the pchip's windows on its bus. */
function setupDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  if (machine.platform === 'jensen') {
    setDmaOps(dev, alphaNoopOps);
    return;
  }
  if (options.iommu === false) throw new RangeError('options.iommu: every PCI device of a Tsunami is behind its windows');
  const hose = tsunamiOf(machine);
  if (hose === null) throw new Error('tsunami: no pchip');
  dev.hw.translation = hose;
  setDmaOps(dev, alphaPciOps);
}

/** How `buildMachine` assembles an Alpha of `platform`. */
export function alphaDescription(platform: string): ArchDescription {
  const jensen = platform === 'jensen';
  return {
    facts: alphaFacts(platform),
    defaultMemory: jensen ? 64 * MIB : 4 * GIB,
    defaultCma: 0,
    kmallocMinAlign: 8,
    memoryLayout: (memory) => alphaMemoryLayout(memory),
    needsCacheModel: () => false,
    defaultDeviceCoherent: () => true,
    mmOptions: () => ({ vmallocSize: 8 * GIB }),
    directHooks: alphaDirectHooks,
    setupMachine,
    setupDevice,
  };
}

/**
 * An Alpha: a Tsunami (DP264-class) box with 4 GiB — so a 32-bit device reaches the low 2 GiB
 * through the direct window and the rest through the scatter-gather arena — unless `platform`
 * is `'jensen'` (64 MiB, EISA, `alpha_noop_ops`).
 */
export function createMachine(options: MachineOptions = {}): Machine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const platform = options.platform ?? (ALPHA_PLATFORM_NAMES[0] as string);
  if (typeof platform !== 'string' || !ALPHA_PLATFORM_NAMES.includes(platform)) {
    throw new RangeError(`options.platform must be one of ${ALPHA_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  }
  return buildMachine(alphaDescription(platform), options);
}
