/** Error numbers ALSA returns beyond those `@kdma/mm` defines (positive, as the kernel's). */
export { EBUSY, EINVAL, ENOMEM, ENXIO } from '@kdma/mm';

/** `ENOENT`: `snd_dma_buffer_mmap` of a type without an mmap method. */
export const ENOENT = 2;
/** `EPIPE`: an xrun (buffer under- or overrun). */
export const EPIPE = 32;
/** `EBADFD`: the PCM is in a state where the call makes no sense. */
export const EBADFD = 77;
