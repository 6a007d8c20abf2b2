import { describe } from '@kdma/hw';
import type { Device } from '@kdma/dma-mapping';
import { buildMachine, setDmaOps, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { MIPS_PLATFORM_NAMES, mipsFacts, mipsPlatform } from './arch.js';
import { uncachedWindowSize } from './addrspace.js';
import { mipsDirectHooks } from './dma-default.js';
import { octeonLinearDmaMapOps, octeonPciDevInit } from './dma-octeon.js';
import { MIPS_OPTION_NAMES, mipsOptions, type MipsOptions } from './options.js';

const GIB = 2 ** 30;

function ramBytes(options: MachineOptions, defaultMemory: number): number {
  if (options.memoryRegions !== undefined) return options.memoryRegions.reduce((sum, region) => sum + region.size, 0);
  return options.memory ?? defaultMemory;
}

/**
 * How `buildMachine` assembles a MIPS machine of `platform`: the board's RAM layout, line size,
 * `ARCH_DMA_MINALIGN` and coherence; `coherentio` makes a Malta's devices snoop.
 */
export function mipsDescription(platform: string, coherentio = false, pciDevices = false): ArchDescription {
  const board = mipsPlatform(platform);
  if (coherentio && !board.maybeCoherent) throw new RangeError(`coherentio: ${platform} is not a DMA_MAYBE_COHERENT board`);
  if (pciDevices && board.cpu !== 'octeon') throw new RangeError(`pciDevices: ${platform} is not an Octeon`);
  const coherent = board.coherent || coherentio;
  const octeon = board.cpu === 'octeon';
  return {
    facts: mipsFacts(platform),
    defaultMemory: board.defaultMemory,
    // No CMA on MIPS in the 3.x kernels (HAVE_DMA_CONTIGUOUS came with v4.0).
    defaultCma: 0,
    kmallocMinAlign: board.kmallocMinAlign,
    extraOptions: MIPS_OPTION_NAMES,
    memoryLayout: (memory) => board.memoryLayout(memory),
    needsCacheModel: () => !coherent,
    defaultDeviceCoherent: () => coherent,
    mmOptions: (options) => ({
      // 32-bit: VMALLOC_START 0xc0000000 up to the fixmap, about 1 GiB; 64-bit: XKSEG, vast.
      vmallocSize: board.kernelBits === 32 ? GIB : 2 ** 40,
      consistentSize: uncachedWindowSize(ramBytes(options, board.defaultMemory)),
    }),
    directHooks: mipsDirectHooks,
    ...(octeon
      ? {
          // plat_swiotlb_setup: Octeon always has a pool (64 MiB once DRAM reaches beyond 0xf0000000).
          swiotlbByDefault: () => true,
          // mips_dma_map_ops = &octeon_linear_dma_map_ops; PCIe devices get the PCI ops.
          setupDevice: (_machine: Machine, dev: Device) => {
            if (pciDevices) octeonPciDevInit(dev);
            else setDmaOps(dev, octeonLinearDmaMapOps);
          },
        }
      : {}),
  };
}

/**
 * A MIPS machine: a Malta (256 MiB, non-coherent, 64-byte lines) unless `platform` names another
 * board ('ip27', 'ip28', 'ip32', 'octeon'); `coherentio: true` gives a Malta with an IOCU,
 * `pciDevices: true` an Octeon whose devices are on its PCIe bus.
 */
export function createMachine(options: MachineOptions & MipsOptions = {}): Machine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const platform = options.platform ?? MIPS_PLATFORM_NAMES[0];
  if (typeof platform !== 'string' || !MIPS_PLATFORM_NAMES.includes(platform)) {
    throw new RangeError(`options.platform must be one of ${MIPS_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  }
  const { coherentio, pciDevices } = mipsOptions(options);
  return buildMachine(mipsDescription(platform, coherentio, pciDevices), options);
}
