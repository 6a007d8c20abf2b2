import { DMA_ATTR_WRITE_BARRIER, type DmaDataDirection } from '@kdma/dma-attrs';
import { bitMask, getOrder } from '@kdma/hw';
import { DMA_MAPPING_ERROR, type Device, type DmaAllocation } from '@kdma/dma-mapping';
import { dmaCommonGetSgtable, dmaCommonMmap, type DmaMapOps } from '@kdma/dma-mapping/ops';
import type { Scatterlist } from '@kdma/scatterlist';
import { pcibrOf, type PcibrBus } from './pcibr-dma.js';

/*
 * arch/ia64/sn/pci/pci_dma.c: `sn_dma_ops` of SGI Altix (SN2). Every mapping goes through the
 * device's PCI bus provider (`SN_PCIDEV_BUSPROVIDER`, here the pcibr bridge); the ops themselves
 * only choose between `dma_map` and `dma_map_consistent` — and they choose by
 * `DMA_ATTR_WRITE_BARRIER`, the one attribute any architecture honoured in 2012. The syncs do
 * nothing: SN2 is cache-coherent. Failures return `DMA_MAPPING_ERROR` as the kernel did from
 * 2018 (v3.4 returned 0 and `sn_dma_mapping_error` said "no error").
 */

function provider(dev: Device): PcibrBus {
  const bus = pcibrOf(dev.machine);
  if (bus === null) throw new Error(`${dev.name} uses sn_dma_ops on a machine without an SN2 PCI bridge`);
  return bus;
}

/** `pcibr_dma_map`: direct64 for a 64-bit device, else direct32, else an ATE; 0 when none fits. */
export function pcibrDmaMap(dev: Device, paddr: number, size: number): number {
  const bus = provider(dev);
  if (dev.dmaMask < 0x7fff_ffff) return 0;
  if (dev.dmaMask === bitMask(64)) return bus.direct64Map(paddr, false);
  const direct = bus.direct32Map(paddr, size);
  return direct !== 0 ? direct : bus.ate32Map(paddr, size, false);
}

/**
 * `pcibr_dma_map_consistent`: the barrier attribute — direct64 with `PCI64_ATTR_BAR` when the
 * *coherent* mask is 64-bit, else an ATE with `PCI32_ATE_BAR` (never direct32, which has no
 * attribute bits).
 */
export function pcibrDmaMapConsistent(dev: Device, paddr: number, size: number): number {
  const bus = provider(dev);
  if (dev.coherentDmaMask === bitMask(64)) return bus.direct64Map(paddr, true);
  return bus.ate32Map(paddr, size, true);
}

/** `sn_dma_supported`: anything from 31 bits up. */
export function snDmaSupported(_dev: Device, mask: number): boolean {
  return mask >= 0x7fff_ffff;
}

/** `sn_dma_alloc_coherent`: node-local pages, zeroed, mapped consistent (with the barrier). */
export function snDmaAllocCoherent(dev: Device, size: number, gfp: number, _attrs: number): DmaAllocation | null {
  const { machine } = dev;
  const { mm } = machine;
  const order = getOrder(size, mm.pageSize);
  const pfn = mm.allocPages(order, gfp);
  if (pfn === null) return null;
  const cpuAddr = mm.pageAddress(pfn);
  machine.cpu.fill(cpuAddr, size, 0);
  const dmaHandle = pcibrDmaMapConsistent(dev, pfn * mm.pageSize, size);
  if (dmaHandle === 0) {
    machine.printk('err', null, 'sn_dma_alloc_coherent: out of ATEs');
    mm.freePages(pfn, order);
    return null;
  }
  return { cpuAddr, dmaHandle };
}

/** `sn_dma_free_coherent`. */
export function snDmaFreeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
  const { mm } = dev.machine;
  provider(dev).unmap(dmaHandle);
  mm.freePages(mm.virtToPfn(cpuAddr), getOrder(size, mm.pageSize));
}

function mapOne(dev: Device, paddr: number, size: number, attrs: number): number {
  return (attrs & DMA_ATTR_WRITE_BARRIER) !== 0 ? pcibrDmaMapConsistent(dev, paddr, size) : pcibrDmaMap(dev, paddr, size);
}

/** `sn_dma_map_page`: `dma_map_consistent` with `DMA_ATTR_WRITE_BARRIER`, `dma_map` without. */
export function snDmaMapPage(dev: Device, pfn: number, offset: number, size: number, _dir: DmaDataDirection, attrs: number): number {
  const addr = mapOne(dev, pfn * dev.machine.pageSize + offset, size, attrs);
  if (addr === 0) {
    dev.machine.printk('err', null, 'sn_dma_map_page: out of ATEs');
    return DMA_MAPPING_ERROR;
  }
  return addr;
}

/** `sn_dma_unmap_page`. */
export function snDmaUnmapPage(dev: Device, addr: number, _size: number, _dir: DmaDataDirection, _attrs: number): void {
  provider(dev).unmap(addr);
}

/** `sn_dma_unmap_sg`: each entry, its DMA address and length cleared. */
export function snDmaUnmapSg(dev: Device, sgl: Scatterlist[], nents: number, _dir: DmaDataDirection, _attrs: number): void {
  const bus = provider(dev);
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    bus.unmap(sg.dmaAddress);
    sg.dmaAddress = 0;
    sg.dmaLength = 0;
  }
}

/** `sn_dma_map_sg`: one mapping per entry, never merged; 0 (the rest undone) when ATEs run out. */
export function snDmaMapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): number {
  const pageSize = dev.machine.pageSize;
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i] as Scatterlist;
    const addr = mapOne(dev, sg.pfn * pageSize + sg.offset, sg.length, attrs);
    if (addr === 0) {
      dev.machine.printk('err', null, 'sn_dma_map_sg: out of ATEs');
      if (i > 0) snDmaUnmapSg(dev, sgl, i, dir, attrs);
      return 0;
    }
    sg.dmaAddress = addr;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** `sn_dma_sync_*`: nothing to do on a coherent machine. */
function snDmaSync(): void {}

/** `sn_dma_get_required_mask`: 64 bits. */
export function snDmaGetRequiredMask(_dev: Device): number {
  return bitMask(64);
}

/** `sn_dma_ops`. */
export const snDmaOps: DmaMapOps = Object.freeze({
  name: 'sn_dma_ops',
  alloc: snDmaAllocCoherent,
  free: snDmaFreeCoherent,
  mmap: dmaCommonMmap,
  getSgtable: dmaCommonGetSgtable,
  mapPage: snDmaMapPage,
  unmapPage: snDmaUnmapPage,
  mapSg: snDmaMapSg,
  unmapSg: snDmaUnmapSg,
  syncSingleForCpu: snDmaSync,
  syncSingleForDevice: snDmaSync,
  syncSgForCpu: snDmaSync,
  syncSgForDevice: snDmaSync,
  dmaSupported: snDmaSupported,
  getRequiredMask: snDmaGetRequiredMask,
});
