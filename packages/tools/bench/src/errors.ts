/**
 * A benchmark run the kernel would have ended with an error from the DMA_MAP_BENCHMARK ioctl:
 * `-EINVAL` when `dma_set_mask` fails, `-ENOMEM` when a mapping fails ("dma_map_single failed on
 * %s") or the buffer cannot be allocated. Bad options are TypeError/RangeError instead.
 */
export class MapBenchmarkError extends Error {
  override readonly name = 'MapBenchmarkError';

  constructor(
    message: string,
    /** The errno the ioctl would return, by name. */
    readonly errno: 'EINVAL' | 'ENOMEM',
  ) {
    super(message);
  }
}
