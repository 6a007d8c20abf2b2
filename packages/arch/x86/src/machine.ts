import type { MemoryRegion } from '@kdma/hw';
import { buildMachine, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { IOMMU_OPTION_NAMES, iommuProbeDevice, iommuSetupMachine, type IommuMachineOptions } from '@kdma/iommu';
import { amdIommuDriver } from './amd-iommu.js';
import { arch, PCI_HOLE_END, PCI_HOLE_START } from './arch.js';
import { x86DirectHooks } from './dma-mapping.js';
import { intelIommuDriver } from './intel-iommu.js';

const GIB = 2 ** 30;

/** e820 as a PC reports it: low RAM up to the PCI hole, the rest above 4 GiB. */
export function e820Layout(memory: number): MemoryRegion[] {
  if (memory <= PCI_HOLE_START) return [{ base: 0, size: memory }];
  return [
    { base: 0, size: PCI_HOLE_START },
    { base: PCI_HOLE_END, size: memory - PCI_HOLE_START },
  ];
}

/** How `buildMachine` assembles an x86-64 machine. */
export const x86Description: ArchDescription = {
  facts: arch,
  defaultMemory: 2 * GIB,
  defaultCma: 0,
  kmallocMinAlign: 8,
  memoryLayout: (memory) => e820Layout(memory),
  needsCacheModel: () => false,
  defaultDeviceCoherent: () => true,
  mmOptions: () => ({ vmallocSize: 32 * GIB }),
  directHooks: x86DirectHooks,
  // pci_swiotlb_detect: bounce buffers as soon as some RAM lies beyond a 32-bit device's reach.
  swiotlbByDefault: (machine) => machine.maxPhysAddress > 4 * GIB,
  extraOptions: IOMMU_OPTION_NAMES,
  // The DMAR / IVRS unit, when `iommu` names one.
  setupMachine: (machine, options) => {
    iommuSetupMachine(machine, options, { 'intel-iommu': intelIommuDriver, 'amd-iommu': amdIommuDriver });
  },
  // iommu_probe_device: every PCI device the IOMMU covers (all of them, unless `iommu: false`)
  // gets a default DMA domain and iommu_dma_ops.
  setupDevice: (machine, dev, options) => iommuProbeDevice(machine, dev, options),
};

/**
 * An x86-64 PC: 2 GiB by default, coherent devices, dma-direct (the old `nommu_dma_ops`); with
 * `iommu: 'intel-iommu'` or `'amd-iommu'` every device sits behind it unless `iommu: false`.
 */
export function createMachine(options: MachineOptions & IommuMachineOptions = {}): Machine {
  return buildMachine(x86Description, options);
}
