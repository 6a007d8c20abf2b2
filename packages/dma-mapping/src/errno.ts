/** Kernel errno values, positive as the kernel defines them; functions return them negated. */
export { EADDRINUSE, EAGAIN, EFAULT, EINVAL, EIO, ENOMEM, ENOTSUPP, ENXIO, EOPNOTSUPP } from '@kdma/mm';

/** `EREMOTEIO`: the device cannot reach P2PDMA memory in the table (dma_map_sgtable). */
export const EREMOTEIO = 121;

/** `EBUSY`. */
export const EBUSY = 16;
