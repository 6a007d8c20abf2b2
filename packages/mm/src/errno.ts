/**
 * Error numbers as the kernel defines them (include/uapi/asm-generic/errno-base.h, errno.h and
 * include/linux/errno.h), positive; kernel-style functions return them negated.
 */

/** EIO: I/O error (dma_set_mask on an unsupported mask). */
export const EIO = 5;
/** ENXIO: no such device or address (dma_mmap beyond the buffer). */
export const ENXIO = 6;
/** EAGAIN: try again. */
export const EAGAIN = 11;
/** ENOMEM: out of memory. */
export const ENOMEM = 12;
/** EACCES: permission denied (today's remap_pfn_range over an existing PTE). */
export const EACCES = 13;
/** EFAULT: bad address. */
export const EFAULT = 14;
/** EBUSY: device or resource busy (vm_insert_page over an existing PTE). */
export const EBUSY = 16;
/** EINVAL: invalid argument. */
export const EINVAL = 22;
/** EOPNOTSUPP: operation not supported on transport endpoint (the uapi one). */
export const EOPNOTSUPP = 95;
/** EADDRINUSE: address already in use (dma-debug, coherent pools). */
export const EADDRINUSE = 98;
/** ENOTSUPP: the kernel-internal "operation is not supported" (NFSv3 heritage, 524). */
export const ENOTSUPP = 524;
