/** `@kdma/arch-x86`: arch/x86's DMA mapping on the kdma machine. */
export { arch, PCI_HOLE_END, PCI_HOLE_START } from './arch.js';
export { x86DirectHooks } from './dma-mapping.js';
export { createMachine, e820Layout, x86Description } from './machine.js';
export { amdIommuDriver, amdIommuFaultMessage, HT_RANGE_END, HT_RANGE_START } from './amd-iommu.js';
export { dmarFaultMessage, intelIommuDriver, IOAPIC_RANGE_SIZE, IOAPIC_RANGE_START, pciSlot } from './intel-iommu.js';
