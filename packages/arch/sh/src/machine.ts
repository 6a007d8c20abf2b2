import { describe } from '@kdma/hw';
import { buildMachine, setDmaOps, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { MEMORY_SIZE, MEMORY_START, SH_PLATFORM_NAMES, shFacts } from './arch.js';
import { p2WindowSize } from './addrspace.js';
import { nommuDmaOps, shDirectHooks } from './dma-nommu.js';

function ramBytes(options: MachineOptions): number {
  if (options.memoryRegions !== undefined) return options.memoryRegions.reduce((sum, region) => sum + region.size, 0);
  return options.memory ?? MEMORY_SIZE;
}

/** How `buildMachine` assembles a SuperH machine with a `platform` CPU. */
export function shDescription(platform: string): ArchDescription {
  const facts = shFacts(platform);
  return {
    facts,
    defaultMemory: MEMORY_SIZE,
    defaultCma: 0,
    kmallocMinAlign: facts.dmaMinAlign,
    memoryLayout: (memory) => [{ base: MEMORY_START, size: memory }],
    needsCacheModel: () => true,
    defaultDeviceCoherent: () => false,
    mmOptions: (options) => ({
      // P3's vmalloc area, 0xc0000000 up to the fixmap: about 512 MiB.
      vmallocSize: 512 * 2 ** 20,
      consistentSize: p2WindowSize(ramBytes(options)),
    }),
    directHooks: shDirectHooks,
    // no_iommu_init: every device gets the one global dma_ops, nommu_dma_ops.
    setupDevice: (_machine, dev) => setDmaOps(dev, nommuDmaOps),
  };
}

/** A SuperH machine: an SH-4 board with 64 MiB at 0x0c000000 unless `platform: 'sh3'`. */
export function createMachine(options: MachineOptions = {}): Machine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const platform = options.platform ?? SH_PLATFORM_NAMES[0];
  if (typeof platform !== 'string' || !SH_PLATFORM_NAMES.includes(platform)) {
    throw new RangeError(`options.platform must be one of ${SH_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  }
  return buildMachine(shDescription(platform), options);
}
