/** How far apart the two windows start: a page, so that any alignment the host cares about matches. */
const PAGE = 4096;

/**
 * Source and target for a `TypedArray.set` baseline: two windows of one buffer, whole pages
 * apart, so they sit at the same offset within a cache line. Two arrays allocated apart land 0,
 * 16, 32 or 48 bytes apart modulo a line, by whatever the process allocated before, and a copy
 * between misaligned ones takes about twice as long (4 KiB: ~58 ns aligned, ~116 ns at +16):
 * the baseline, and every ratio to it, would change from one run to the next. The aligned copy
 * is the fast one, so a ratio to it never flatters the path.
 */
export function copyPair(size: number, fill = 0x5a): { readonly src: Uint8Array; readonly dst: Uint8Array } {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${String(size)}`);
  if (!Number.isInteger(fill) || fill < 0 || fill > 255) throw new RangeError(`fill must be a byte value, got ${String(fill)}`);
  const stride = Math.ceil(size / PAGE) * PAGE;
  const buffer = new Uint8Array(2 * stride);
  return { src: buffer.subarray(0, size).fill(fill), dst: buffer.subarray(stride, stride + size) };
}
