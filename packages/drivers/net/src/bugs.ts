import { describeValue } from './args.js';

/**
 * Steps the driver leaves out on purpose, to show what the machine catches:
 * - `'no-wmb'`: no `wmb()` between writing descriptors and ringing the doorbell (RDT/TDT). The
 *   rings are coherent memory, which ARM maps bufferable: the descriptor stores can still be in
 *   the CPU's write buffer when the NIC fetches them, so it reads stale descriptors — writing a
 *   frame into a buffer the driver already gave away, sending an old frame. (x86 keeps stores in
 *   order and maps the ring cached: nothing shows there, as on real hardware.)
 * - `'no-sync-for-cpu'`: the copybreak path reads a received frame with no
 *   `dma_sync_single_for_cpu` (with `pagePool`, a frame is also handed up in its buffer without
 *   it): stale bytes where the buffer bounces (swiotlb) or the CPU cached it, and dma-debug sees
 *   the CPU read a buffer the device owns.
 * - `'no-sync-for-device'`: a copybreak buffer (with `pagePool`, also a buffer coming back to the
 *   pool) is recycled with no `dma_sync_single_for_device`: dma-debug sees the NIC write a buffer
 *   the CPU owns.
 * - `'no-dma-mapping-error-check'`: `dma_mapping_error` is never called on the RX and TX
 *   mappings (a page pool checks the mappings it makes itself): dma-debug reports each unchecked
 *   mapping when it is unmapped.
 * - `'no-unmap'`: received frames are handed up, and sent ones freed, while still mapped:
 *   dma-debug sees the stack read a device-owned buffer and reports the leaked mappings when the
 *   device goes away; with swiotlb the frame is never copied back, behind an IOMMU the IOVA space
 *   leaks. With `pagePool` the pool leaves its buffers mapped when it lets them go: dma-debug
 *   reports them as leaked, and the IOVA space leaks.
 */
export type NetBug = 'no-wmb' | 'no-sync-for-cpu' | 'no-sync-for-device' | 'no-dma-mapping-error-check' | 'no-unmap';

const NET_BUGS: readonly NetBug[] = ['no-wmb', 'no-sync-for-cpu', 'no-sync-for-device', 'no-dma-mapping-error-check', 'no-unmap'];

/** Validates a `bugs` option: a list of known bug names. */
export function checkNetBugs(bugs: unknown): ReadonlySet<NetBug> {
  if (bugs === undefined) return new Set();
  if (!Array.isArray(bugs)) throw new TypeError(`bugs must be an array of ${NET_BUGS.join(', ')}, got ${describeValue(bugs)}`);
  for (const bug of bugs) {
    if (!NET_BUGS.includes(bug as NetBug)) throw new RangeError(`bugs: unknown bug ${describeValue(bug)} (known: ${NET_BUGS.join(', ')})`);
  }
  return new Set(bugs as NetBug[]);
}
