import { buildMachine, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, PHYS_OFFSET } from './arch.js';
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
  extraOptions: ARM_OPTION_NAMES,
  memoryLayout: (memory) => [{ base: PHYS_OFFSET, size: memory }],
  needsCacheModel: () => true,
  defaultDeviceCoherent: () => false,
  mmOptions: (options) => {
    const { consistentDmaSize } = armOptions(options);
    // 32-bit ARM's vmalloc area (VMALLOC_END - VMALLOC_START with the default 240 MiB).
    return { vmallocSize: 240 * MIB, consistentSize: consistentDmaSize };
  },
  directHooks: armDirectHooks,
};

/** An ARM machine: 512 MiB at `PHYS_OFFSET`, non-coherent devices, 64 MiB CMA by default. */
export function createMachine(options: MachineOptions & ArmOptions = {}): Machine {
  armOptions(options);
  return buildMachine(armDescription, options);
}
