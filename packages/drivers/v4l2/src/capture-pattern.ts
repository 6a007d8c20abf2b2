/**
 * The test pattern the simulated capture device writes (in the spirit of vivid's test pattern
 * generator): every frame is different at every byte, so a stale cache line, a missed bounce
 * copy or a page the device never wrote shows up wherever it lands.
 *
 * Layout of frame `n` (`size` bytes, at least `CAPTURE_MIN_FRAME_SIZE`):
 * - bytes `[16, size - 8)`: `(i + n) mod 251` at byte `i` — a prime period, so the pattern of a
 *   frame and that of any frame fewer than 251 frames earlier differ at every byte, and the period
 *   never lines up with cache lines, pages or buffer counts;
 * - header `[0, 16)`: the magic `"V4L2"`, the frame counter, its complement and the frame size
 *   (little-endian 32-bit words);
 * - trailer `[size - 8, size)`: the frame counter and the magic again, so a frame cut short is seen.
 *
 * The device copies the body straight out of one precomputed source (`source`, `size + 251`
 * bytes) at offset `n mod 251`: a frame costs one copy, as a real sensor's DMA does.
 */
import { checkBytes, checkInteger } from '@kdma/hw';

/** The pattern's period in bytes (prime). */
export const CAPTURE_PATTERN_PERIOD = 251;
/** Header bytes at the start of a frame. */
export const CAPTURE_HEADER_SIZE = 16;
/** Trailer bytes at the end of a frame. */
export const CAPTURE_TRAILER_SIZE = 8;
/** The smallest frame that holds a header and a trailer. */
export const CAPTURE_MIN_FRAME_SIZE = CAPTURE_HEADER_SIZE + CAPTURE_TRAILER_SIZE;
/** `"V4L2"` read as a little-endian 32-bit word. */
export const CAPTURE_MAGIC = 0x324c3456;

const U32 = 2 ** 32;

/** The pattern of frames of one size: the device's source and the reader's reference. */
export class CapturePattern {
  /** Bytes per frame. */
  readonly size: number;
  /** `source[j] = j mod 251`, `size + 251` bytes: frame `n`'s body is `source[n mod 251 + i]`. */
  readonly source: Uint8Array;
  private readonly headerBytes = new Uint8Array(CAPTURE_HEADER_SIZE);
  private readonly headerView = new DataView(this.headerBytes.buffer);
  private readonly trailerBytes = new Uint8Array(CAPTURE_TRAILER_SIZE);
  private readonly trailerView = new DataView(this.trailerBytes.buffer);

  constructor(size: number) {
    checkInteger(size, 'size', CAPTURE_MIN_FRAME_SIZE, 2 ** 31);
    this.size = size;
    const source = new Uint8Array(size + CAPTURE_PATTERN_PERIOD);
    for (let j = 0; j < CAPTURE_PATTERN_PERIOD; j++) source[j] = j;
    // Doubling copies fill the rest: log2(size) calls, no per-byte loop.
    for (let filled = CAPTURE_PATTERN_PERIOD; filled < source.length; filled *= 2) {
      source.copyWithin(filled, 0, Math.min(filled, source.length - filled));
    }
    this.source = source;
  }

  /** Where frame `frame`'s body starts in `source`. */
  sourceOffset(frame: number): number {
    checkInteger(frame, 'frame');
    return frame % CAPTURE_PATTERN_PERIOD;
  }

  /** Frame `frame`'s header (16 bytes). The returned array is reused by the next call. */
  header(frame: number): Uint8Array {
    checkInteger(frame, 'frame');
    const counter = frame % U32;
    const view = this.headerView;
    view.setUint32(0, CAPTURE_MAGIC, true);
    view.setUint32(4, counter, true);
    view.setUint32(8, U32 - 1 - counter, true);
    view.setUint32(12, this.size, true);
    return this.headerBytes;
  }

  /** Frame `frame`'s trailer (8 bytes). The returned array is reused by the next call. */
  trailer(frame: number): Uint8Array {
    checkInteger(frame, 'frame');
    const view = this.trailerView;
    view.setUint32(0, frame % U32, true);
    view.setUint32(4, CAPTURE_MAGIC, true);
    return this.trailerBytes;
  }

  /** The exact bytes of frame `frame` (a new array). */
  expected(frame: number): Uint8Array {
    const offset = this.sourceOffset(frame);
    const out = this.source.slice(offset, offset + this.size);
    out.set(this.header(frame), 0);
    out.set(this.trailer(frame), this.size - CAPTURE_TRAILER_SIZE);
    return out;
  }

  /**
   * Checks `bytes` against frame `frame`: the index of the first wrong byte, or -1 when the frame
   * is intact.
   */
  verify(bytes: Uint8Array, frame: number): number {
    checkBytes(bytes, 'bytes');
    const size = this.size;
    if (bytes.length !== size) return Math.min(bytes.length, size);
    const header = this.header(frame);
    for (let i = 0; i < CAPTURE_HEADER_SIZE; i++) if (bytes[i] !== header[i]) return i;
    const source = this.source;
    const base = this.sourceOffset(frame);
    const end = size - CAPTURE_TRAILER_SIZE;
    for (let i = CAPTURE_HEADER_SIZE; i < end; i++) if (bytes[i] !== source[base + i]) return i;
    const trailer = this.trailer(frame);
    for (let i = 0; i < CAPTURE_TRAILER_SIZE; i++) if (bytes[end + i] !== trailer[i]) return end + i;
    return -1;
  }
}

/** The frame counter in a frame's header, or null when the header is not there. */
export function captureFrameCounter(bytes: Uint8Array): number | null {
  checkBytes(bytes, 'bytes');
  if (bytes.length < CAPTURE_HEADER_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, CAPTURE_HEADER_SIZE);
  if (view.getUint32(0, true) !== CAPTURE_MAGIC) return null;
  const counter = view.getUint32(4, true);
  return view.getUint32(8, true) === U32 - 1 - counter ? counter : null;
}
