import { DMA_ATTR_NO_WARN, type DmaDataDirection } from '@kdma/dma-attrs';
import { bitMask, type DmaTranslation, getOrder, pow2, type TranslationRun } from '@kdma/hw';
import { GFP_DMA32 } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import {
  MachineSwiotlb,
  dmaCommonGetSgtable,
  dmaCommonMmap,
  minNotZero,
  swiotlbAllocCoherent,
  swiotlbDmaOps,
  swiotlbDmaSupported,
  swiotlbMapPage,
  swiotlbMapSg,
  setDmaOps,
  type DmaMapOps,
} from '@kdma/dma-mapping/ops';

/*
 * arch/mips/cavium-octeon/dma-octeon.c: Octeon's `struct octeon_dma_map_ops`, a `dma_map_ops` on
 * lib/swiotlb.c plus the board's `phys_to_dma`/`dma_to_phys`. Octeon's I/O is coherent, so there
 * is no cache maintenance; the CPU's write buffer is, so every map and sync for the device ends
 * with `mb()` (SYNCW) before the device is told.
 *
 * Octeon's DRAM is not where its size suggests: the first 256 MiB at 0, the second 256 MiB at
 * 0x410000000 (the boot bus and I/O sit at 0x10000000–0x1fffffff), the rest from 0x20000000 up.
 */

const MIB = 2 ** 20;

/** Where Octeon's second 256 MiB of DRAM appears in the physical space. */
export const OCTEON_DRAM_HOLE_PHYS = 0x4_1000_0000;
/** The bus addresses a PCIe gen1 / big-BAR host uses for that DRAM: the I/O hole below 512 MiB. */
export const OCTEON_DRAM_HOLE_BUS = 0x1000_0000;
const HOLE_SIZE = 256 * MIB;
/** `CVMX_PCIE_BAR1_PHYS_BASE`: 256 MiB at the end of the first 4 GiB, mapped by BAR1. */
export const CVMX_PCIE_BAR1_PHYS_BASE = 2 ** 32 - 2 ** 28;
/** `CVMX_PCIE_BAR1_PHYS_SIZE`. */
export const CVMX_PCIE_BAR1_PHYS_SIZE = 2 ** 28;
/** `CVMX_PCIE_BAR1_RC_BASE`: where BAR1 sits on the PCIe bus ("the same for gen1 and gen2"). */
export const CVMX_PCIE_BAR1_RC_BASE = 2 ** 41;

/** Octeon's RAM layout for `memory` bytes: 256 MiB at 0, 256 MiB at 0x410000000, the rest at 0x20000000. */
export function octeonMemoryLayout(memory: number): { base: number; size: number }[] {
  const regions = [{ base: 0, size: Math.min(memory, HOLE_SIZE) }];
  if (memory > HOLE_SIZE) regions.push({ base: OCTEON_DRAM_HOLE_PHYS, size: Math.min(memory - HOLE_SIZE, HOLE_SIZE) });
  if (memory > 2 * HOLE_SIZE) regions.push({ base: 0x2000_0000, size: memory - 2 * HOLE_SIZE });
  return regions;
}

/** `octeon_hole_phys_to_dma`: BAR1's 256 MiB below 4 GiB move to `CVMX_PCIE_BAR1_RC_BASE`. */
function octeonHolePhysToDma(paddr: number): number {
  if (paddr >= CVMX_PCIE_BAR1_PHYS_BASE && paddr < CVMX_PCIE_BAR1_PHYS_BASE + CVMX_PCIE_BAR1_PHYS_SIZE) {
    return paddr - CVMX_PCIE_BAR1_PHYS_BASE + CVMX_PCIE_BAR1_RC_BASE;
  }
  return paddr;
}

/** `octeon_hole_dma_to_phys`. */
function octeonHoleDmaToPhys(daddr: number): number {
  return daddr >= CVMX_PCIE_BAR1_RC_BASE ? daddr + CVMX_PCIE_BAR1_PHYS_BASE - CVMX_PCIE_BAR1_RC_BASE : daddr;
}

/**
 * `octeon_gen1_phys_to_dma` (OCTEON_DMA_BAR_TYPE_PCIE): the DRAM at 0x410000000 is reached through
 * bus addresses 0x10000000–0x1fffffff, so a 32-bit PCIe device needs no bounce for it.
 */
export function octeonGen1PhysToDma(paddr: number): number {
  if (paddr >= OCTEON_DRAM_HOLE_PHYS && paddr < OCTEON_DRAM_HOLE_PHYS + HOLE_SIZE) paddr -= OCTEON_DRAM_HOLE_PHYS - OCTEON_DRAM_HOLE_BUS;
  return octeonHolePhysToDma(paddr);
}

/** `octeon_gen1_dma_to_phys`. */
export function octeonGen1DmaToPhys(daddr: number): number {
  daddr = octeonHoleDmaToPhys(daddr);
  if (daddr >= OCTEON_DRAM_HOLE_BUS && daddr < OCTEON_DRAM_HOLE_BUS + HOLE_SIZE) daddr += OCTEON_DRAM_HOLE_PHYS - OCTEON_DRAM_HOLE_BUS;
  return daddr;
}

/**
 * The PCIe host's inbound windows as the hardware applies them (what `octeon_gen1_dma_to_phys`
 * undoes in software): installed on each PCIe device's bus master.
 */
export const octeonPcieInbound: DmaTranslation = Object.freeze({
  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): null {
    // Each window maps linearly; a run stops where the next one begins.
    const limit =
      busAddr < OCTEON_DRAM_HOLE_BUS
        ? OCTEON_DRAM_HOLE_BUS
        : busAddr < OCTEON_DRAM_HOLE_BUS + HOLE_SIZE
          ? OCTEON_DRAM_HOLE_BUS + HOLE_SIZE
          : busAddr < CVMX_PCIE_BAR1_RC_BASE
            ? CVMX_PCIE_BAR1_RC_BASE
            : Number.MAX_SAFE_INTEGER;
    out.paddr = octeonGen1DmaToPhys(busAddr);
    out.length = Math.min(length, limit - busAddr);
    return null;
  },
});

function mb(dev: Device): void {
  dev.machine.cpu.mb();
}

/**
 * `octeon_linear_dma_map_ops` (`mips_dma_map_ops` once `plat_swiotlb_setup` ran): the swiotlb
 * functions with unity `phys_to_dma`, an `mb()` after each map and sync for the device, and
 * `octeon_dma_alloc_coherent`'s zone choice (`__GFP_DMA32` for a coherent mask of 32 bits or
 * less), which the core's `swiotlb_alloc_coherent` makes from the mask as well.
 */
export const octeonLinearDmaMapOps: DmaMapOps = Object.freeze({
  ...swiotlbDmaOps,
  name: 'octeon_linear_dma_map_ops',
  alloc: (dev: Device, size: number, gfp: number, attrs: number) => {
    const buf = swiotlbAllocCoherent(dev, size, gfp, attrs);
    mb(dev);
    return buf;
  },
  mapPage: (dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number) => {
    const addr = swiotlbMapPage(dev, pfn, offset, size, dir, attrs);
    mb(dev);
    return addr;
  },
  mapSg: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number) => {
    const mapped = swiotlbMapSg(dev, sgl, nents, dir, attrs);
    mb(dev);
    return mapped;
  },
  syncSingleForDevice: (dev: Device, addr: number, size: number, dir: DmaDataDirection) => {
    swiotlbDmaOps.syncSingleForDevice?.(dev, addr, size, dir);
    mb(dev);
  },
  syncSgForDevice: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => {
    swiotlbDmaOps.syncSgForDevice?.(dev, sgl, nents, dir);
    mb(dev);
  },
});

function poolOf(dev: Device): MachineSwiotlb | null {
  const backend = dev.machine.swiotlb;
  return backend instanceof MachineSwiotlb ? backend : null;
}

function reachable(dev: Device, addr: number, size: number): boolean {
  return addr + Math.max(size, 1) - 1 <= minNotZero(dev.dmaMask, dev.busDmaLimit);
}

/** `swiotlb_map_page` through Octeon's PCIe `phys_to_dma`: in place when reachable, else bounced. */
function octeonPciMapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  const phys = pfn * dev.machine.mm.pageSize + offset;
  const swiotlb = poolOf(dev);
  const direct = octeonGen1PhysToDma(phys);
  let addr = direct;
  if (!reachable(dev, direct, size) || (swiotlb !== null && swiotlb.isForceBounce(dev))) {
    if (swiotlb === null || !swiotlb.isActive(dev)) return DMA_MAPPING_ERROR;
    const tlb = swiotlb.tblMapSingle(dev, phys, size, 0, dir, attrs | DMA_ATTR_NO_WARN);
    if (tlb === DMA_MAPPING_ERROR) {
      dev.machine.printk('err', null, `DMA: Out of SW-IOMMU space for ${size} bytes at device ${dev.name}`);
      return DMA_MAPPING_ERROR;
    }
    addr = octeonGen1PhysToDma(tlb);
    if (!reachable(dev, addr, size)) {
      swiotlb.unmap(dev, tlb, size, dir, attrs);
      return DMA_MAPPING_ERROR;
    }
  }
  mb(dev);
  return addr;
}

function octeonPciUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  const phys = octeonGen1DmaToPhys(addr);
  const swiotlb = poolOf(dev);
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.unmap(dev, phys, size, dir, attrs);
}

function octeonPciSyncForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const phys = octeonGen1DmaToPhys(addr);
  const swiotlb = poolOf(dev);
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.syncForCpu(dev, phys, size, dir);
}

function octeonPciSyncForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
  const phys = octeonGen1DmaToPhys(addr);
  const swiotlb = poolOf(dev);
  if (swiotlb !== null && swiotlb.isBuffer(dev, phys)) swiotlb.syncForDevice(dev, phys, size, dir);
  mb(dev);
}

function octeonPciMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const addr = octeonPciMapPage(dev, sg.pfn, sg.offset, sg.length, dir, attrs);
    if (addr === DMA_MAPPING_ERROR) {
      octeonPciUnmapSg(dev, sgl, i, dir, attrs);
      (sgl[0] as Scatterlist).dmaLength = 0;
      return 0;
    }
    sg.dmaAddress = addr;
    sg.dmaLength = sg.length;
  }
  return nents;
}

function octeonPciUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    octeonPciUnmapPage(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

/**
 * `octeon_dma_alloc_coherent` for a PCIe device: pages from the zone the coherent mask needs
 * (`__GFP_DMA32` up to 32 bits), zeroed, handed out at their PCIe bus address; null when that
 * address is still beyond the mask ("hwdev DMA mask").
 */
function octeonPciAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const mask = dev.coherentDmaMask !== 0 ? dev.coherentDmaMask : bitMask(32);
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, mask <= bitMask(32) ? gfp | GFP_DMA32 : gfp);
  if (pfn === null) return null;
  const dmaHandle = octeonGen1PhysToDma(pfn * mm.pageSize);
  if (dmaHandle + size - 1 > mask) {
    mm.freePages(pfn, order);
    return null;
  }
  const cpuAddr = mm.pageAddress(pfn);
  machine.cpu.fill(cpuAddr, mm.pageSize * pow2(order), 0);
  mb(dev);
  return { cpuAddr, dmaHandle };
}

function octeonPciFreeCoherent(dev: Device, size: number, _cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  mm.freePages(Math.floor(octeonGen1DmaToPhys(dmaHandle) / mm.pageSize), getOrder(size, mm.pageSize));
}

/**
 * `_octeon_pci_dma_map_ops` with `OCTEON_DMA_BAR_TYPE_PCIE` (`octeon_pci_dma_init`), which
 * `pcibios_plat_dev_init` gives every PCIe device: the same swiotlb operations as the linear ops,
 * through the gen1 `phys_to_dma`/`dma_to_phys`.
 */
export const octeonPciDmaMapOps: DmaMapOps = Object.freeze({
  name: 'octeon_pci_dma_map_ops',
  alloc: octeonPciAllocCoherent,
  free: octeonPciFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: octeonPciMapPage,
  unmapPage: octeonPciUnmapPage,
  mapSg: octeonPciMapSg,
  unmapSg: octeonPciUnmapSg,
  syncSingleForCpu: octeonPciSyncForCpu,
  syncSingleForDevice: octeonPciSyncForDevice,
  syncSgForCpu: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => {
    for (let i = 0; i < nents; i++) octeonPciSyncForCpu(dev, (sgl[i] as Scatterlist).dmaAddress, (sgl[i] as Scatterlist).dmaLength, dir);
  },
  syncSgForDevice: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => {
    for (let i = 0; i < nents; i++) octeonPciSyncForDevice(dev, (sgl[i] as Scatterlist).dmaAddress, (sgl[i] as Scatterlist).dmaLength, dir);
  },
  dmaSupported: swiotlbDmaSupported,
  ...(swiotlbDmaOps.maxMappingSize === undefined ? {} : { maxMappingSize: swiotlbDmaOps.maxMappingSize }),
});

/**
 * `pcibios_plat_dev_init` for a PCIe device: `_octeon_pci_dma_map_ops`, and the host's inbound
 * windows on its bus master.
 */
export function octeonPciDevInit(dev: Device): void {
  setDmaOps(dev, octeonPciDmaMapOps);
  dev.hw.translation = octeonPcieInbound;
}
