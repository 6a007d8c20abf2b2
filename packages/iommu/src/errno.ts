/** Kernel errno values the IOMMU core returns (positive; functions return them negated). */
export { EBUSY, EINVAL, EIO, ENOMEM, ENXIO } from '@kdma/mm';

/** EEXIST: the IOVA is already mapped (io-pgtable's overlapping map). */
export const EEXIST = 17;
/** ENODEV: the device is not behind an IOMMU (`iommu_attach_device` without a group). */
export const ENODEV = 19;
/** ERANGE: an address beyond the page table's input or output size. */
export const ERANGE = 34;
/** ENOSYS: `report_iommu_fault` with no handler installed. */
export const ENOSYS = 38;
