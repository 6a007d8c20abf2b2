import { buildMachine, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { IOMMU_OPTION_NAMES, iommuProbeDevice, iommuSetupMachine, type IommuMachineOptions } from '@kdma/iommu';
import { arch, PHYS_OFFSET } from './arch.js';
import { armSmmuDriver } from './arm-smmu.js';
import { armDirectHooks } from './dma-mapping.js';
import { ARM_OPTION_NAMES, armOptions, type ArmOptions } from './options.js';

const MIB = 2 ** 20;

/** How `buildMachine` assembles an ARM machine. */
export const armDescription: ArchDescription = {
  facts: arch,
  defaultMemory: 512 * MIB,
  // CONFIG_CMA_SIZE_MBYTES of the multi_v7 defconfig.
  defaultCma: 64 * MIB,
  kmallocMinAlign: arch.dmaMinAlign,
  extraOptions: [...ARM_OPTION_NAMES, ...IOMMU_OPTION_NAMES],
  memoryLayout: (memory) => [{ base: PHYS_OFFSET, size: memory }],
  needsCacheModel: () => true,
  defaultDeviceCoherent: () => false,
  mmOptions: (options) => {
    const { consistentDmaSize } = armOptions(options);
    // 32-bit ARM's vmalloc area (VMALLOC_END - VMALLOC_START with the default 240 MiB).
    return { vmallocSize: 240 * MIB, consistentSize: consistentDmaSize };
  },
  directHooks: armDirectHooks,
  // The SMMU, when `iommu: 'arm-smmu'` asks for it.
  setupMachine: (machine, options) => {
    iommuSetupMachine(machine, options, { 'arm-smmu': armSmmuDriver });
  },
  // of_dma_configure → arch_setup_dma_ops: a device the SMMU covers (all of them, unless
  // `iommu: false`) gets a default DMA domain and iommu_dma_ops.
  setupDevice: (machine, dev, options) => iommuProbeDevice(machine, dev, options),
};

/**
 * An ARM machine: 512 MiB at `PHYS_OFFSET`, non-coherent devices, 64 MiB CMA by default; with
 * `iommu: 'arm-smmu'` every device sits behind an SMMU unless created with `iommu: false`.
 */
export function createMachine(options: MachineOptions & ArmOptions & IommuMachineOptions = {}): Machine {
  armOptions(options);
  return buildMachine(armDescription, options);
}
