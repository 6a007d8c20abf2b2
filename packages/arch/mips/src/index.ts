/** `@kdma/arch-mips`: arch/mips's DMA mapping on the kdma machine. */
export { arch, MIPS_PLATFORM_NAMES, MIPS_PLATFORMS, mipsFacts, mipsPlatform, type MipsCpu, type MipsPlatform } from './arch.js';
export { cacAddr, uncacAddr, uncachedWindowSize } from './addrspace.js';
export { dmaCacheInv, dmaCacheWback, dmaCacheWbackInv } from './c-r4k.js';
export { cpuNeedsPostDmaFlush, dmaSync, mipsDirectHooks, mipsMachineCoherent, platDeviceIsCoherent } from './dma-default.js';
export {
  CVMX_PCIE_BAR1_PHYS_BASE,
  CVMX_PCIE_BAR1_PHYS_SIZE,
  CVMX_PCIE_BAR1_RC_BASE,
  OCTEON_DRAM_HOLE_BUS,
  OCTEON_DRAM_HOLE_PHYS,
  octeonGen1DmaToPhys,
  octeonGen1PhysToDma,
  octeonLinearDmaMapOps,
  octeonMemoryLayout,
  octeonPciDevInit,
  octeonPciDmaMapOps,
  octeonPcieInbound,
} from './dma-octeon.js';
export { createMachine, mipsDescription } from './machine.js';
export type { MipsOptions } from './options.js';
