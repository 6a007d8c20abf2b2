import { buildMachine, setDmaOps, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, PCI_DMA_THRESHOLD, PHYS_OFFSET } from './arch.js';
import { swiotlbDmaMapOps, unicore32DirectHooks } from './dma-swiotlb.js';
import { puv3PciBridge } from './pci.js';
import { puv3SwiotlbInit } from './swiotlb-setup.js';

const MIB = 2 ** 20;

/**
 * How `buildMachine` assembles a PKUnity-3 machine. A device is a PCI device behind the bridge
 * (`busDmaLimit = PCI_DMA_THRESHOLD`, bus addresses folded into the 128 MiB window) unless it is
 * created with a `busDmaLimit` of its own (0: an on-chip AHB master that reaches all RAM).
 */
export const unicore32Description: ArchDescription = {
  facts: arch,
  defaultMemory: 512 * MIB,
  defaultCma: 0,
  kmallocMinAlign: arch.dmaMinAlign,
  memoryLayout: (memory) => [{ base: PHYS_OFFSET, size: memory }],
  needsCacheModel: () => false,
  defaultDeviceCoherent: () => true,
  // VMALLOC_START..VMALLOC_END (0xe0000000..0xee000000 less the guard).
  mmOptions: () => ({ vmallocSize: 224 * MIB }),
  directHooks: unicore32DirectHooks,
  // `SWIOTLB` is def_bool y and mem_init calls swiotlb_init: there is always a pool.
  swiotlbByDefault: () => true,
  setupMachine: (machine, options) => puv3SwiotlbInit(machine, options),
  setupDevice: (_machine, dev, options) => {
    setDmaOps(dev, swiotlbDmaMapOps);
    if (options.busDmaLimit === undefined) {
      dev.busDmaLimit = PCI_DMA_THRESHOLD;
      dev.hw.translation = puv3PciBridge;
    }
  },
};

/** A PKUnity-3 machine: 512 MiB at 0, coherent devices, swiotlb for everything. */
export function createMachine(options: MachineOptions = {}): Machine {
  return buildMachine(unicore32Description, options);
}
