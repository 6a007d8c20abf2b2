import type { Device } from '@kdma/dma-mapping';
import type { PowerpcBus } from './arch.js';
import type { IommuTable } from './iommu.js';
import type { Ps3Device } from './ps3-mm.js';
import type { VioDevCmo } from './vio.js';

/**
 * `struct dev_archdata` (asm/device.h, v3.4): what the PowerPC DMA code keeps per device — the ops
 * chosen for it, its bus offset or IOMMU table (a union in the kernel's `dma_data`), and the bus's
 * own state (VIO's CMO accounting, the PS3 DMA region).
 */
export interface PowerpcArchData {
  readonly bus: PowerpcBus;
  /** `archdata.dma_data.dma_offset`: `dma_direct_ops` give the device `phys + dmaOffset`. */
  dmaOffset: number;
  /** `archdata.dma_data.iommu_table_base`: the TCE table `dma_iommu_ops` allocate in. */
  iommuTable: IommuTable | null;
  /** `viodev->cmo` of a VIO device under CMO. */
  vio: VioDevCmo | null;
  /** The PS3 system-bus device and its `d_region`. */
  ps3: Ps3Device | null;
}

/** The device's PowerPC arch data; every device of a PowerPC machine has it. */
export function archData(dev: Device): PowerpcArchData {
  const data = dev.archData as PowerpcArchData | null;
  if (data === null || typeof data !== 'object' || typeof (data as { bus?: unknown }).bus !== 'string') {
    throw new TypeError(`${dev.name} is not a device of a PowerPC machine`);
  }
  return data;
}

/** `get_dma_offset(dev)`: the bus address of physical address 0 for `dma_direct_ops`. */
export function getDmaOffset(dev: Device): number {
  return archData(dev).dmaOffset;
}

/**
 * `set_dma_offset(dev, off)`: where RAM appears to the device. The bus master follows unless an
 * IOMMU translates for it (the Cell fixed window is such a translation).
 */
export function setDmaOffset(dev: Device, offset: number): void {
  archData(dev).dmaOffset = offset;
  if (dev.hw.translation === null) dev.hw.dmaOffset = offset === 0 ? 0 : -offset;
}

/** `get_iommu_table_base(dev)`. */
export function getIommuTableBase(dev: Device): IommuTable | null {
  return archData(dev).iommuTable;
}

/** `set_iommu_table_base(dev, tbl)`. */
export function setIommuTableBase(dev: Device, tbl: IommuTable | null): void {
  archData(dev).iommuTable = tbl;
}

/** The bus the device sits on. */
export function deviceBus(dev: Device): PowerpcBus {
  return archData(dev).bus;
}
