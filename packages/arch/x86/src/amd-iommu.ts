import type { Device } from '@kdma/dma-mapping';
import { DeviceIoTlb, type Machine } from '@kdma/dma-mapping/ops';
import { devIommu, type IommuDriver, type IommuFaultInfo } from '@kdma/iommu';
import { IOAPIC_RANGE_SIZE, IOAPIC_RANGE_START, pciSlot } from './intel-iommu.js';

/*
 * drivers/iommu/amd as the machine option `iommu: 'amd-iommu'`: AMD-Vi with its v1 (host) page
 * table, 4 levels for a 48-bit IOVA space. The real v1 format maps any power-of-two size from 4K
 * up (`AMD_IOMMU_PGSIZES`, larger ones by replicating PTEs and skipping levels); kdma reuses the
 * x86 4-level format of VT-d ('INTEL_VTD_SL': 9 bits a level, 4K pages, 2M and 1G leaves), so
 * the page sizes are 4K|2M|1G. Reserved: the MSI window and the HyperTransport range below 1 TiB.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;

/** `HT_RANGE_START`..`HT_RANGE_END`: HyperTransport's reserved addresses (`IOMMU_RESV_RESERVED`). */
export const HT_RANGE_START = 0xfd_0000_0000;
export const HT_RANGE_END = 0xff_ffff_ffff;

/** `EVENT_FLAG_PR`, `EVENT_FLAG_RW` of an IO_PAGE_FAULT event. */
const EVENT_FLAG_PR = 0x010;
const EVENT_FLAG_RW = 0x020;

/** `amd_iommu_report_page_fault`'s line for a fault the domain's handler did not take. */
export function amdIommuFaultMessage(fault: IommuFaultInfo): string {
  const flags = (fault.write ? EVENT_FLAG_RW : 0) | (fault.kind === 'permission' ? EVENT_FLAG_PR : 0);
  return (
    `${fault.device} 0000:${pciSlot(fault.deviceIndex)}: Event logged [IO_PAGE_FAULT domain=0x${fault.domainId.toString(16).padStart(4, '0')} ` +
    `address=0x${fault.iova.toString(16)} flags=0x${flags.toString(16).padStart(4, '0')}]`
  );
}

/** The AMD-Vi driver facts for `@kdma/iommu`. */
export function amdIommuDriver(_machine: Machine): IommuDriver {
  return {
    name: 'amd-iommu',
    format: 'INTEL_VTD_SL',
    pgsizeBitmap: SZ_4K + SZ_2M + SZ_1G,
    ias: 48,
    oas: 46,
    iotlbEntries: 512,
    deferredFlush: true,
    pciDevices: true,
    reservedRegions: [
      { start: IOAPIC_RANGE_START, length: IOAPIC_RANGE_SIZE, type: 'msi' },
      { start: HT_RANGE_START, length: HT_RANGE_END - HT_RANGE_START + 1, type: 'reserved' },
    ],
    formatFault: amdIommuFaultMessage,
  };
}

/**
 * `device_dma_ops_init` (drivers/iommu/amd_iommu.c): a device the IOMMU handles gets
 * `amd_iommu_dma_ops` (today's `iommu_dma_ops`, already set by the probe); a passthrough one
 * (`iommuPassthrough`) gets `nommu_dma_ops` — dma-direct that never bounces, since AMD-Vi turned
 * swiotlb off (`swiotlb = 0`) and only brought it back for the devices it does not handle.
 */
export function amdIommuDeviceDmaOpsInit(dev: Device): void {
  if (devIommu(dev) !== null && dev.dmaOps === null) dev.dmaIoTlbMem = new DeviceIoTlb(dev, null);
}
