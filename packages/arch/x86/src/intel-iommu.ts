import type { Machine } from '@kdma/dma-mapping/ops';
import type { IommuDriver, IommuFaultInfo } from '@kdma/iommu';

/*
 * drivers/iommu/intel/iommu.c as the machine option `iommu: 'intel-iommu'`: VT-d with
 * second-level page tables (4-level, AGAW 48, so a 48-bit IOVA space), 2M and 1G super pages,
 * the host's 46-bit physical address width, PCI devices (dma-iommu tries a 32-bit IOVA first),
 * and the interrupt-remapping window 0xfee00000–0xfeefffff reserved in every DMA domain.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;

/** `IOAPIC_RANGE_START`..`IOAPIC_RANGE_END`: MSI writes, never DMA (`IOMMU_RESV_MSI`). */
export const IOAPIC_RANGE_START = 0xfee0_0000;
export const IOAPIC_RANGE_SIZE = 0x10_0000;

/** The PCI slot a device gets on the machine's bus 0 (00:01.0 for the first). */
export function pciSlot(deviceIndex: number): string {
  return `00:${(deviceIndex + 1).toString(16).padStart(2, '0')}.0`;
}

/**
 * `dmar_fault_do_one` (6.1): a missing or read-only PTE shows as reason 0x05 for a write and 0x06
 * for a read — second-level tables have no separate "not present" reason.
 */
export function dmarFaultMessage(fault: IommuFaultInfo): string {
  const [reason, text] = fault.write ? [0x05, 'PTE Write access is not set'] : [0x06, 'PTE Read access is not set'];
  return (
    `DMAR: [${fault.write ? 'DMA Write' : 'DMA Read'} NO_PASID] Request device [${pciSlot(fault.deviceIndex)}] ` +
    `fault addr 0x${fault.iova.toString(16)} [fault reason 0x${reason.toString(16).padStart(2, '0')}] ${text}`
  );
}

/** The VT-d driver facts for `@kdma/iommu`. */
export function intelIommuDriver(_machine: Machine): IommuDriver {
  return {
    name: 'intel-iommu',
    format: 'INTEL_VTD_SL',
    pgsizeBitmap: SZ_4K + SZ_2M + SZ_1G,
    ias: 48,
    oas: 46,
    iotlbEntries: 512,
    deferredFlush: true,
    pciDevices: true,
    reservedRegions: [{ start: IOAPIC_RANGE_START, length: IOAPIC_RANGE_SIZE, type: 'msi' }],
    formatFault: dmarFaultMessage,
  };
}
