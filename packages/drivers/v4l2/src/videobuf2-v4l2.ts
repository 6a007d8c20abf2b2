/**
 * The V4L2 face of a vb2 buffer (drivers/media/common/videobuf2/videobuf2-v4l2.c): what
 * VIDIOC_QUERYBUF and VIDIOC_DQBUF hand user space in `struct v4l2_buffer`.
 */
import type { Vb2Buffer, Vb2BufferState, Vb2QueueType } from './videobuf2-core.js';

/** `V4L2_BUF_FLAG_MAPPED`: user space has the buffer mmapped. */
export const V4L2_BUF_FLAG_MAPPED = 0x1;
/** `V4L2_BUF_FLAG_QUEUED`: on the driver's incoming queue. */
export const V4L2_BUF_FLAG_QUEUED = 0x2;
/** `V4L2_BUF_FLAG_DONE`: on the outgoing queue (or just dequeued from it). */
export const V4L2_BUF_FLAG_DONE = 0x4;
/** `V4L2_BUF_FLAG_ERROR`: the data may be corrupt (a DMA error, a cancelled frame). */
export const V4L2_BUF_FLAG_ERROR = 0x40;
/** `V4L2_BUF_FLAG_PREPARED`: prepared (synced for the device) but not queued. */
export const V4L2_BUF_FLAG_PREPARED = 0x400;
/** `V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC`: the timestamp is the machine clock. */
export const V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x2000;

/** `struct v4l2_buffer` for a single-planar MMAP buffer, plus vb2's state for convenience. */
export interface V4l2Buffer {
  readonly index: number;
  readonly type: Vb2QueueType;
  readonly memory: 'mmap';
  /** Bytes of data in the buffer (set by the driver at completion). */
  readonly bytesused: number;
  readonly flags: number;
  /** Machine time (ns) at which the driver completed the buffer. */
  readonly timestampNs: number;
  /** The frame's sequence number (the device's frame counter). */
  readonly sequence: number;
  /** The buffer's size in bytes. */
  readonly length: number;
  /** `m.offset`: the cookie to pass as mmap's offset to map this buffer. */
  readonly offset: number;
  /** vb2's state of the buffer when the structure was filled. */
  readonly state: Vb2BufferState;
}

/** `__fill_v4l2_buffer`: the structure as user space sees it for `vb` (plane 0). */
export function fillV4l2Buffer(vb: Vb2Buffer, inUse: boolean): V4l2Buffer {
  const plane = vb.planes[0];
  let flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
  switch (vb.state) {
    case 'queued':
    case 'active':
      flags |= V4L2_BUF_FLAG_QUEUED;
      break;
    case 'error':
      flags |= V4L2_BUF_FLAG_ERROR | V4L2_BUF_FLAG_DONE;
      break;
    case 'done':
      flags |= V4L2_BUF_FLAG_DONE;
      break;
    case 'preparing':
    case 'dequeued':
      break;
  }
  if (vb.state === 'dequeued' && vb.synced && vb.prepared) flags |= V4L2_BUF_FLAG_PREPARED;
  if (inUse) flags |= V4L2_BUF_FLAG_MAPPED;
  return Object.freeze({
    index: vb.index,
    type: vb.queue.type,
    memory: 'mmap' as const,
    bytesused: plane?.bytesused ?? 0,
    flags,
    timestampNs: vb.timestampNs,
    sequence: vb.sequence,
    length: plane?.length ?? 0,
    offset: plane?.offset ?? 0,
    state: vb.state,
  });
}
