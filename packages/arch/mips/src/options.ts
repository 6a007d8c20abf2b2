import { describe } from '@kdma/hw';
import type { MachineOptions } from '@kdma/dma-mapping/ops';
import { mipsPlatform } from './arch.js';

/** MIPS's own `createMachine` options. */
export interface MipsOptions {
  /**
   * The `coherentio` command-line switch of `CONFIG_DMA_MAYBE_COHERENT` boards (Malta with an
   * IOCU): every device snoops, and `_dma_cache_*` become `cache_noop`. Default false.
   */
  readonly coherentio?: boolean;
  /**
   * Octeon only: devices sit on the PCIe bus (gen1 host, `OCTEON_DMA_BAR_TYPE_PCIE`) and get
   * `_octeon_pci_dma_map_ops` from `pcibios_plat_dev_init`; otherwise they are on-chip and use
   * `octeon_linear_dma_map_ops`. Default false.
   */
  readonly pciDevices?: boolean;
}

export const MIPS_OPTION_NAMES = ['coherentio', 'pciDevices'] as const;

/** Reads and checks the MIPS options of a machine's options. */
export function mipsOptions(options: MachineOptions): Required<MipsOptions> {
  const coherentio = options['coherentio'] ?? false;
  if (typeof coherentio !== 'boolean') throw new TypeError(`options.coherentio must be a boolean, got ${describe(coherentio)}`);
  const platform = typeof options.platform === 'string' ? options.platform : 'malta';
  if (coherentio && !mipsPlatform(platform).maybeCoherent) {
    throw new RangeError(`options.coherentio: ${platform} is not a DMA_MAYBE_COHERENT board (only malta is)`);
  }
  const pciDevices = options['pciDevices'] ?? false;
  if (typeof pciDevices !== 'boolean') throw new TypeError(`options.pciDevices must be a boolean, got ${describe(pciDevices)}`);
  if (pciDevices && mipsPlatform(platform).cpu !== 'octeon') {
    throw new RangeError(`options.pciDevices: only octeon has Octeon PCIe DMA ops, not ${platform}`);
  }
  return { coherentio, pciDevices };
}
