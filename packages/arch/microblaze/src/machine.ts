import { buildMachine, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, KERNEL_BASE_ADDR } from './arch.js';
import { microblazeDirectHooks, uncachedShadowSize } from './dma-mapping.js';

const MIB = 2 ** 20;

function ramBytes(options: MachineOptions): number {
  if (options.memoryRegions !== undefined) return options.memoryRegions.reduce((sum, region) => sum + region.size, 0);
  return options.memory ?? microblazeDescription.defaultMemory;
}

/** How `buildMachine` assembles a MicroBlaze machine. */
export const microblazeDescription: ArchDescription = {
  facts: arch,
  defaultMemory: 256 * MIB,
  defaultCma: 0,
  kmallocMinAlign: arch.dmaMinAlign,
  memoryLayout: (memory) => [{ base: KERNEL_BASE_ADDR, size: memory }],
  needsCacheModel: () => true,
  defaultDeviceCoherent: () => false,
  mmOptions: (options, platform) => ({
    // VMALLOC_START..VMALLOC_END of the MMU kernel (CONFIG_KERNEL_START 0xc0000000 + lowmem).
    vmallocSize: 512 * MIB,
    consistentSize: platform === 'nommu' ? uncachedShadowSize(ramBytes(options)) : 0,
  }),
  directHooks: microblazeDirectHooks,
};

/**
 * A MicroBlaze machine: 256 MiB of DDR at 0x90000000, a write-back data cache no device sees,
 * `dma_direct_ops`; `platform: 'nommu'` makes coherent memory through the uncached shadow.
 */
export function createMachine(options: MachineOptions = {}): Machine {
  return buildMachine(microblazeDescription, options);
}
