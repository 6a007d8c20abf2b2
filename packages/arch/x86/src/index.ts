/** `@kdma/arch-x86`: arch/x86's DMA mapping on the kdma machine. */
export { arch, PCI_HOLE_END, PCI_HOLE_START } from './arch.js';
export { x86DirectHooks } from './dma-mapping.js';
export { createMachine, e820Layout, x86Description } from './machine.js';
export { X86_OPTION_NAMES, type X86MachineOptions } from './x86-options.js';
export { amdIommuDeviceDmaOpsInit, amdIommuDriver, amdIommuFaultMessage, HT_RANGE_END, HT_RANGE_START } from './amd-iommu.js';
export { dmarFaultMessage, intelIommuDriver, IOAPIC_RANGE_SIZE, IOAPIC_RANGE_START, pciSlot } from './intel-iommu.js';
export { intelDmaOps, iommuNoMapping } from './intel-dma-ops.js';
export { KernelPanic } from './dma-generic.js';
export { TranslationCache } from './translation-cache.js';
export { allocateAperture, GART_MAX_ADDR, GART_MIN_ADDR, gartApertureSize } from './aperture.js';
export { AmdGart, EMERGENCY_PAGES, GART_MAX_PHYS_ADDR, gartDmaOps, gartOf, gpteDecode, gpteEncode, GPTE_COHERENT, GPTE_VALID } from './amd-gart.js';
export {
  Calgary,
  CALGARY_DMA_ERROR_CODE,
  CALGARY_EMERGENCY_PAGES,
  calgaryDmaOps,
  CalgaryPhb,
  findIommuTable,
} from './pci-calgary.js';
export { determineTceTableSize, tableSizeToNumberOfEntries, TCE_ENTRY_SIZE, TCE_RPN_MASK, TceTable, tceEncode } from './tce.js';
export { XEN_RESERVED_FRAMES, XenP2m } from './xen-p2m.js';
export { XEN_DMA_ERROR_CODE, XenPv, xenOf, xenSwiotlbDmaOps } from './swiotlb-xen.js';
