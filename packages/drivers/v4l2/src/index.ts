/**
 * `@kdma/v4l2`: a videobuf2-style V4L2 capture queue over the DMA API, with the kernel's two
 * allocators (dma-contig, dma-sg), mmap by the buffer's offset cookie, and a simulated capture
 * device that writes frames by DMA.
 */
export { V4L2_BUGS, checkBugs, type V4l2Bug } from './bugs.js';
export {
  CAPTURE_HEADER_SIZE,
  CAPTURE_MAGIC,
  CAPTURE_MIN_FRAME_SIZE,
  CAPTURE_PATTERN_PERIOD,
  CAPTURE_TRAILER_SIZE,
  CapturePattern,
  captureFrameCounter,
} from './capture-pattern.js';
export {
  CAPTURE_DESC_LAST,
  CAPTURE_DESC_SIZE,
  CaptureDevice,
  writeCaptureDescriptor,
  type CaptureDeviceOptions,
  type CaptureIrq,
  type CaptureIrqHandler,
} from './capture-device.js';
export { CaptureDriver, type CaptureAllocator, type CaptureDriverOptions } from './capture-driver.js';
export {
  VB2_MAX_FRAME,
  VB2_MAX_PLANES,
  Vb2Buffer,
  Vb2Queue,
  vb2BufferDone,
  vb2GetPlanePayload,
  vb2PlaneCookie,
  vb2PlaneSize,
  vb2PlaneVaddr,
  vb2SetPlanePayload,
  type DqbufOptions,
  type Vb2AllocContext,
  type Vb2BufferState,
  type Vb2MemOps,
  type Vb2Memory,
  type Vb2Ops,
  type Vb2Plane,
  type Vb2QueueOptions,
  type Vb2QueueSetup,
  type Vb2QueueType,
} from './videobuf2-core.js';
export { Vb2DcBuf, vb2DmaContigMemops, vb2DmaContigPlaneDmaAddr } from './videobuf2-dma-contig.js';
export { Vb2DmaSgBuf, vb2DmaSgMemops, vb2DmaSgPlaneDesc } from './videobuf2-dma-sg.js';
export {
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_FLAG_MAPPED,
  V4L2_BUF_FLAG_PREPARED,
  V4L2_BUF_FLAG_QUEUED,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
  fillV4l2Buffer,
  type V4l2Buffer,
} from './videobuf2-v4l2.js';
