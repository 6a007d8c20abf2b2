import type { MemoryRegion } from '@kdma/hw';
import { buildMachine, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { IOMMU_OPTION_NAMES, type IommuMachineOptions } from '@kdma/iommu';
import { arch, PCI_HOLE_END, PCI_HOLE_START } from './arch.js';
import { x86DirectHooks } from './dma-mapping.js';
import { x86BootPlan, x86SetupDevice, x86SetupMachine, x86SwiotlbByDefault } from './pci-dma.js';
import { X86_OPTION_NAMES, type X86MachineOptions } from './x86-options.js';

const GIB = 2 ** 30;

/** e820 as a PC reports it: low RAM up to the PCI hole, the rest above 4 GiB. */
export function e820Layout(memory: number): MemoryRegion[] {
  if (memory <= PCI_HOLE_START) return [{ base: 0, size: memory }];
  return [
    { base: 0, size: PCI_HOLE_START },
    { base: PCI_HOLE_END, size: memory - PCI_HOLE_START },
  ];
}

/**
 * The RAM layout of a platform: a PC's e820 map; a Xen PV guest's pseudo-physical memory, one
 * range from 0 (the holes are in machine memory, which the guest does not see).
 */
function memoryLayout(memory: number, platform: string): MemoryRegion[] {
  return platform === 'xen-pv' ? [{ base: 0, size: memory }] : e820Layout(memory);
}

/** How `buildMachine` assembles an x86-64 machine. */
export const x86Description: ArchDescription = {
  facts: arch,
  defaultMemory: 2 * GIB,
  defaultCma: 0,
  kmallocMinAlign: 8,
  memoryLayout,
  needsCacheModel: () => false,
  defaultDeviceCoherent: () => true,
  mmOptions: () => ({ vmallocSize: 32 * GIB }),
  directHooks: x86DirectHooks,
  // pci_swiotlb_detect: bounce buffers as soon as some RAM lies beyond a 32-bit device's reach
  // (unless the GART replaces them; a Xen PV guest's pool becomes xen-swiotlb's).
  swiotlbByDefault: x86SwiotlbByDefault,
  extraOptions: [...IOMMU_OPTION_NAMES, ...X86_OPTION_NAMES],
  // pci_iommu_alloc: the Xen PV platform, or the IOMMU `iommu` names (the DMAR / IVRS unit, the
  // GART, the Calgary PHBs).
  setupMachine: (machine, options) => x86SetupMachine(machine, options, null),
  // Per device, as the 2012 kernel chose (see x86SetupDevice).
  setupDevice: x86SetupDevice,
};

/**
 * An x86-64 PC: 2 GiB by default, coherent devices, dma-direct (the old `nommu_dma_ops`); with
 * `iommu: 'intel-iommu'` or `'amd-iommu'` every device sits behind it unless `iommu: false`;
 * `iommu: 'gart'` or `'calgary'` for the 2012 chipset IOMMUs (their boot memory — the aperture,
 * the TCE tables — is added to `reservedMemory`); `platform: 'xen-pv'` for a Xen PV guest.
 */
export function createMachine(options: MachineOptions & IommuMachineOptions & X86MachineOptions = {}): Machine {
  const plan = x86BootPlan(options, memoryLayout, x86Description.defaultMemory);
  if (plan === null || plan.reserved.length === 0) return buildMachine(x86Description, options);
  const description: ArchDescription = { ...x86Description, setupMachine: (machine, opts) => x86SetupMachine(machine, opts, plan) };
  return buildMachine(description, { ...options, reservedMemory: [...(options.reservedMemory ?? []), ...plan.reserved] });
}
