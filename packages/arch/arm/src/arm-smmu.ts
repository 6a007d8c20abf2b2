import type { Machine } from '@kdma/dma-mapping/ops';
import type { IommuDriver, IommuFaultInfo } from '@kdma/iommu';

/*
 * drivers/iommu/arm/arm-smmu/arm-smmu.c as the machine option `iommu: 'arm-smmu'`: an SMMU
 * (SMMU-400/500 class) with stage-1 contexts using the LPAE (AArch64 long-descriptor) format and a
 * 4K granule: 48-bit IOVA, 40-bit output (LPAE's physical address space), 4K pages and 2M/1G
 * blocks. Platform devices, not PCI: no 32-bit-first IOVA policy.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;

/** `ARM_SMMU_FSR_TF`: translation fault. */
const FSR_TF = 1 << 1;
/** `ARM_SMMU_FSR_PF`: permission fault. */
const FSR_PF = 1 << 3;
/** `ARM_SMMU_FSYNR0_WNR`: the faulting access was a write. */
const FSYNR0_WNR = 1 << 4;

/** The device name the SMMU driver prints with (its DT node). */
export const ARM_SMMU_DEV_NAME = 'arm-smmu 2b400000.iommu';

/** `arm_smmu_context_fault`'s message for a fault no domain handler took. */
export function armSmmuFaultMessage(fault: IommuFaultInfo): string {
  const fsr = fault.kind === 'permission' ? FSR_PF : FSR_TF;
  const fsynr = fault.write ? FSYNR0_WNR : 0;
  const iova = fault.iova.toString(16).padStart(8, '0');
  return (
    `${ARM_SMMU_DEV_NAME}: Unhandled context fault: fsr=0x${fsr.toString(16)}, iova=0x${iova}, ` +
    `fsynr=0x${fsynr.toString(16)}, cbfrsynra=0x${fault.deviceIndex.toString(16)}, cb=${fault.domainId}`
  );
}

/** The SMMU's driver facts for `@kdma/iommu`. */
export function armSmmuDriver(_machine: Machine): IommuDriver {
  return {
    name: 'arm-smmu',
    format: 'ARM_64_LPAE_S1',
    pgsizeBitmap: SZ_4K + SZ_2M + SZ_1G,
    ias: 48,
    oas: 40,
    iotlbEntries: 512,
    deferredFlush: true,
    pciDevices: false,
    // MSI_IOVA_BASE: a software-managed MSI window, mapped on demand, never reserved in the IOVA tree.
    reservedRegions: [{ start: 0x800_0000, length: 0x10_0000, type: 'sw-msi' }],
    formatFault: armSmmuFaultMessage,
  };
}
