import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '@kdma/dma-mapping';
import type { DmaMapOps, Machine } from '@kdma/dma-mapping/ops';
import { iommuDmaOps, type IommuDriver, type IommuFaultInfo } from '@kdma/iommu';
import type { Scatterlist } from '@kdma/scatterlist';
import { machvecDmaSyncSg, machvecDmaSyncSingle } from './machvec.js';

/*
 * machvec dig_vtd (arch/ia64/kernel/pci-dma.c, drivers/iommu/intel-iommu.c): Intel VT-d on
 * Itanium (Tukwila-era DIG boxes). `pci_iommu_alloc` set `dma_ops = &intel_dma_ops` and replaced
 * its sync hooks with `machvec_dma_sync_*` and its `dma_supported` with `iommu_dma_supported`.
 * kdma has no separate model of the 2012 `intel_dma_ops`: it is today's dma-iommu
 * (`iommu_dma_ops` of `@kdma/iommu`) over VT-d's second-level page tables, under the 2012 name,
 * with ia64's sync hooks.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;

/** `IOAPIC_RANGE_START`..: the interrupt window every VT-d domain reserves. */
const IOAPIC_RANGE_START = 0xfee0_0000;
const IOAPIC_RANGE_SIZE = 0x10_0000;

/**
 * v3.4's `dmar_fault_do_one` line (two lines in the log; reason 5 for writes, 6 for reads, in
 * decimal as `%02d` printed it).
 */
export function ia64DmarFaultMessage(fault: IommuFaultInfo): string {
  const [reason, text] = fault.write ? [5, 'PTE Write access is not set'] : [6, 'PTE Read access is not set'];
  const slot = `00:${(fault.deviceIndex + 1).toString(16).padStart(2, '0')}.0`;
  return (
    `DMAR:[${fault.write ? 'DMA Write' : 'DMA Read'}] Request device [${slot}] fault addr ${fault.iova.toString(16)} \n` +
    `DMAR:[fault reason ${reason.toString().padStart(2, '0')}] ${text}`
  );
}

/** The VT-d facts for `@kdma/iommu`: 48-bit IOVA, Itanium's 50-bit physical addresses. */
export function ia64IntelIommuDriver(_machine: Machine): IommuDriver {
  return {
    name: 'intel-iommu',
    format: 'INTEL_VTD_SL',
    pgsizeBitmap: SZ_4K + SZ_2M + SZ_1G,
    ias: 48,
    oas: 50,
    iotlbEntries: 512,
    deferredFlush: true,
    pciDevices: true,
    reservedRegions: [{ start: IOAPIC_RANGE_START, length: IOAPIC_RANGE_SIZE, type: 'msi' }],
    formatFault: ia64DmarFaultMessage,
  };
}

/** `intel_dma_ops` on ia64: dma-iommu with `machvec_dma_sync_*` (a barrier) around its own syncs. */
export const ia64IntelDmaOps: DmaMapOps = Object.freeze({
  ...iommuDmaOps,
  name: 'intel_dma_ops',
  // Its syncs carry a barrier a coherent device still needs; ia64 left the kernel before
  // DMA_F_CAN_SKIP_SYNC existed.
  flags: 0,
  syncSingleForCpu: (dev: Device, addr: number, size: number, dir: DmaDataDirection) => {
    iommuDmaOps.syncSingleForCpu?.(dev, addr, size, dir);
    machvecDmaSyncSingle(dev, addr, size, dir);
  },
  syncSingleForDevice: (dev: Device, addr: number, size: number, dir: DmaDataDirection) => {
    iommuDmaOps.syncSingleForDevice?.(dev, addr, size, dir);
    machvecDmaSyncSingle(dev, addr, size, dir);
  },
  syncSgForCpu: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => {
    iommuDmaOps.syncSgForCpu?.(dev, sgl, nents, dir);
    machvecDmaSyncSg(dev, sgl, nents, dir);
  },
  syncSgForDevice: (dev: Device, sgl: Scatterlist[], nents: number, dir: DmaDataDirection) => {
    iommuDmaOps.syncSgForDevice?.(dev, sgl, nents, dir);
    machvecDmaSyncSg(dev, sgl, nents, dir);
  },
});
