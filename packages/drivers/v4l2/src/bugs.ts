/**
 * Steps the driver can be told to leave out on purpose (DESIGN.md "Driver shims"), to show what
 * the machine catches. Each names one line of a real vb2 driver or allocator:
 *
 * | bug | what is left out | caught by |
 * |---|---|---|
 * | `'no-sync-for-cpu'` | dma-sg `finish`: `dma_sync_sgtable_for_cpu` after the frame | dma-debug `cpu-access-device-owned` when the process reads it; on swiotlb the frame stays in the bounce buffer (wrong data) |
 * | `'no-sync-for-device'` | dma-sg `prepare`: `dma_sync_sgtable_for_device` at qbuf | dma-debug `device-access-cpu-owned` when the device writes the frame |
 * | `'no-unmap'` | dma-sg `put`: `dma_unmap_sgtable` when the buffers are freed | dma-debug `leak` when the driver is removed |
 * | `'no-free'` | dma-contig `put`: `dma_free_attrs` when the buffers are freed | dma-debug `leak` when the driver is removed |
 * | `'no-wmb'` | the driver's `wmb()` between writing a dma-sg descriptor list into coherent memory and ringing the doorbell | wrong data on ARM, whose coherent memory is bufferable: the engine fetches descriptors still in the CPU's write buffer |
 * | `'done-at-frame-start'` | waiting for the end-of-frame interrupt: the handler completes the buffer at start of frame | wrong data: the process reads the buffer before the device has written it |
 */

/** A step left out of the driver (see the table above). */
export type V4l2Bug = 'no-sync-for-cpu' | 'no-sync-for-device' | 'no-unmap' | 'no-free' | 'no-wmb' | 'done-at-frame-start';

/** Every bug the driver knows. */
export const V4L2_BUGS: readonly V4l2Bug[] = Object.freeze([
  'no-sync-for-cpu',
  'no-sync-for-device',
  'no-unmap',
  'no-free',
  'no-wmb',
  'done-at-frame-start',
] as const);

/** Validates a `bugs` option: an array of known bug names (absent: none). */
export function checkBugs(value: unknown, name: string): ReadonlySet<V4l2Bug> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of bug names, got ${value === null ? 'null' : typeof value}`);
  const bugs = new Set<V4l2Bug>();
  value.forEach((bug: unknown, i) => {
    if (typeof bug !== 'string' || !(V4L2_BUGS as readonly string[]).includes(bug)) {
      throw new TypeError(`${name}[${i}] must be one of ${V4L2_BUGS.join(', ')}, got ${String(bug)}`);
    }
    bugs.add(bug as V4l2Bug);
  });
  return bugs;
}
