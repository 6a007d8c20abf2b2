/**
 * The videobuf2 core (drivers/media/common/videobuf2/videobuf2-core.c) with the V4L2 ioctls on
 * top, for MMAP buffers: a queue of buffers whose memory comes from an allocator's `vb2_mem_ops`
 * (dma-contig or dma-sg), handed between user space and the driver by REQBUFS, QUERYBUF, QBUF,
 * DQBUF, STREAMON and STREAMOFF, and mapped into a process by the offset cookie QUERYBUF gives.
 *
 * The cache-maintenance contract is vb2's: a buffer is synced for the device (`prepare` memop)
 * when it is queued and synced for the CPU (`finish` memop) when the driver completes it, before
 * it is put on the done list; the driver's `buf_finish` runs at dequeue.
 *
 * Ioctls return a negative errno where the kernel's fail (-EINVAL, -EBUSY, -EAGAIN, -ENOMEM);
 * arguments that are not valid JavaScript values for the call throw TypeError/RangeError.
 */
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  EAGAIN,
  EBUSY,
  EINVAL,
  ENOMEM,
  type Device,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { alignUp, checkInteger, checkSize, pow2 } from '@kdma/hw';
import { MmapError, Process, VM_READ, VM_SHARED, VM_WRITE, type Vma } from '@kdma/mm';
import { checkBugs, type V4l2Bug } from './bugs.js';
import { fillV4l2Buffer, type V4l2Buffer } from './videobuf2-v4l2.js';

/** `VB2_MAX_FRAME`: buffers per queue. */
export const VB2_MAX_FRAME = 64;
/** `VB2_MAX_PLANES`. */
export const VB2_MAX_PLANES = 8;
/** `PLANE_INDEX_BITS`: the plane's bits of the offset cookie, above the page offset. */
const PLANE_INDEX_BITS = 3;

/** `enum vb2_buffer_state` (no request API: no IN_REQUEST). */
export type Vb2BufferState = 'dequeued' | 'preparing' | 'queued' | 'active' | 'done' | 'error';
/** `enum vb2_memory`. Only MMAP is implemented. */
export type Vb2Memory = 'mmap' | 'userptr' | 'dmabuf';
/** `V4L2_BUF_TYPE_VIDEO_CAPTURE` / `_OUTPUT`. */
export type Vb2QueueType = 'video-capture' | 'video-output';

/** What an allocator's `alloc` gets: vb2 passes the buffer, the device and the size. */
export interface Vb2AllocContext {
  /** The device doing DMA (`q->dev` / `alloc_devs[plane]`). */
  readonly dev: Device;
  /** The plane's size, page-aligned. */
  readonly size: number;
  /** `q->dma_dir`. */
  readonly dmaDir: DmaDataDirection;
  /** `q->dma_attrs`. */
  readonly dmaAttrs: number;
  /** `q->gfp_flags`: extra GFP flags (GFP_DMA32 for a 32-bit engine without swiotlb, say). */
  readonly gfpFlags: number;
  /** Steps the allocator must leave out (the driver's `bugs` option). */
  readonly bugs: ReadonlySet<V4l2Bug>;
}

/**
 * `struct vb2_mem_ops` for MMAP buffers: the allocator. The buffer private (`mem_priv`) is opaque
 * to the core; `alloc` returns null when memory ran out.
 */
export interface Vb2MemOps {
  readonly name: string;
  alloc(ctx: Vb2AllocContext): object | null;
  put(bufPriv: object): void;
  /** Hands the buffer to the device before DMA (cache sync), at qbuf. */
  prepare?(bufPriv: object): void;
  /** Hands the buffer back to the CPU after DMA (cache sync), at completion. */
  finish?(bufPriv: object): void;
  /** A kernel virtual address of the buffer, or null when there is none. */
  vaddr?(bufPriv: object): number | null;
  /** The allocator's handle for the driver (a DMA address, an sg table). */
  cookie?(bufPriv: object): unknown;
  /** Maps the buffer into the VMA (vm_pgoff already 0); 0 or a negative errno. */
  mmap(bufPriv: object, vma: Vma): number;
}

/** `queue_setup`'s answer: how many buffers, and each plane's size. */
export interface Vb2QueueSetup {
  readonly count: number;
  readonly sizes: readonly number[];
}

/** `struct vb2_ops`: the driver's callbacks. */
export interface Vb2Ops {
  /** Buffer count (≤ `count`) and plane sizes, or a negative errno. */
  queueSetup(q: Vb2Queue, count: number): Vb2QueueSetup | number;
  /** Once per buffer after its memory is allocated; 0 or a negative errno. */
  bufInit?(vb: Vb2Buffer): number;
  /** At every qbuf, before the memory is synced for the device; 0 or a negative errno. */
  bufPrepare?(vb: Vb2Buffer): number;
  /** At dqbuf (and when streaming stops with the buffer prepared). */
  bufFinish?(vb: Vb2Buffer): void;
  /** Once per buffer before its memory is freed. */
  bufCleanup?(vb: Vb2Buffer): void;
  /** Gives the buffer to the hardware. */
  bufQueue(vb: Vb2Buffer): void;
  /** Starts the hardware with `count` buffers queued; 0 or a negative errno (then it returns them as `'queued'`). */
  startStreaming?(q: Vb2Queue, count: number): number;
  /** Stops the hardware; must return every buffer it owns with `vb2BufferDone(vb, 'error')`. */
  stopStreaming?(q: Vb2Queue): void;
}

/** `struct vb2_plane`. */
export interface Vb2Plane {
  /** `mem_priv`: the allocator's buffer. */
  memPriv: object | null;
  /** Plane size asked for by queue_setup. */
  length: number;
  /** Bytes of data (set by the driver). */
  bytesused: number;
  /** `m.offset`: the mmap cookie. */
  offset: number;
}

/** `struct vb2_buffer` (with `struct vb2_v4l2_buffer`'s sequence). */
export class Vb2Buffer {
  readonly queue: Vb2Queue;
  readonly index: number;
  state: Vb2BufferState = 'dequeued';
  readonly planes: Vb2Plane[];
  /** `vbuf->sequence`, set by the driver. */
  sequence = 0;
  /** `vb->timestamp` in ns of machine time, set by the driver. */
  timestampNs = 0;
  /** `vb->prepared`: buf_prepare and the prepare memop ran. */
  prepared = false;
  /** `vb->synced`: the prepare memop ran and finish has not. */
  synced = false;
  /** Driver-private data (`container_of` the driver's buffer structure). */
  driverData: unknown = null;
  /** The user VMAs that map the buffer (what vb2's mmap refcount counts). */
  readonly mappings: Vma[] = [];

  constructor(queue: Vb2Queue, index: number, sizes: readonly number[]) {
    this.queue = queue;
    this.index = index;
    this.planes = sizes.map((length) => ({ memPriv: null, length, bytesused: 0, offset: 0 }));
  }
}

export interface Vb2QueueOptions {
  /** The device that does the DMA (`q->dev`). */
  readonly dev: Device;
  /** The allocator (`q->mem_ops`): `vb2DmaContigMemops` or `vb2DmaSgMemops`. */
  readonly memOps: Vb2MemOps;
  /** The driver's callbacks (`q->ops`). */
  readonly ops: Vb2Ops;
  /** Default `'video-capture'`. */
  readonly type?: Vb2QueueType;
  /** `q->dma_attrs` for the allocator. */
  readonly dmaAttrs?: number;
  /** The driver never touches the buffers with the CPU: adds `DMA_ATTR_NO_KERNEL_MAPPING`. */
  readonly noKernelMapping?: boolean;
  /** `q->gfp_flags`. */
  readonly gfpFlags?: number;
  /** `q->min_queued_buffers`: buffers queued before start_streaming is called (default 1). */
  readonly minQueuedBuffers?: number;
  /** Steps to leave out on purpose (see `V4l2Bug`). */
  readonly bugs?: readonly V4l2Bug[];
}

/** DQBUF's options. */
export interface DqbufOptions {
  /**
   * `O_NONBLOCK` (default true): -EAGAIN when no buffer is done. When false, the call sleeps:
   * it advances the machine clock to its next timer until a buffer is done, and returns -EAGAIN
   * only when no timer is left that could complete one.
   */
  readonly nonblocking?: boolean;
}

/** `struct vb2_queue` with the V4L2 ioctls. */
export class Vb2Queue {
  readonly dev: Device;
  readonly type: Vb2QueueType;
  readonly memOps: Vb2MemOps;
  readonly ops: Vb2Ops;
  /** `q->dma_dir`: FROM_DEVICE for capture, TO_DEVICE for output. */
  readonly dmaDir: DmaDataDirection;
  /** `q->dma_attrs`. */
  readonly dmaAttrs: number;
  readonly gfpFlags: number;
  readonly minQueuedBuffers: number;
  readonly bugs: ReadonlySet<V4l2Bug>;
  /** Driver-private data (`vb2_get_drv_priv`). */
  drvPriv: unknown = null;

  private bufs: Vb2Buffer[] = [];
  private memory: Vb2Memory | null = null;
  private isStreaming = false;
  private startStreamingCalled = false;
  /** `queued_list`: buffers between qbuf and dqbuf. */
  private queuedList: Vb2Buffer[] = [];
  /** `done_list`: completed buffers waiting for dqbuf. */
  private doneList: Vb2Buffer[] = [];
  private ownedByDrvCount = 0;

  constructor(options: Vb2QueueOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const { dev, memOps, ops } = options;
    if (typeof dev !== 'object' || dev === null || typeof dev.machine !== 'object') throw new TypeError('options.dev must be a Device');
    if (typeof memOps !== 'object' || memOps === null || typeof memOps.alloc !== 'function') {
      throw new TypeError('options.memOps must be a vb2_mem_ops object (vb2DmaContigMemops, vb2DmaSgMemops)');
    }
    if (typeof ops !== 'object' || ops === null || typeof ops.queueSetup !== 'function' || typeof ops.bufQueue !== 'function') {
      throw new TypeError('options.ops must have queueSetup and bufQueue');
    }
    const type = options.type ?? 'video-capture';
    if (type !== 'video-capture' && type !== 'video-output') throw new TypeError(`options.type must be 'video-capture' or 'video-output', got ${String(type)}`);
    const attrs = options.dmaAttrs ?? 0;
    checkInteger(attrs, 'options.dmaAttrs');
    const gfp = options.gfpFlags ?? 0;
    checkInteger(gfp, 'options.gfpFlags');
    const minQueued = options.minQueuedBuffers ?? 1;
    checkInteger(minQueued, 'options.minQueuedBuffers', 0, VB2_MAX_FRAME);
    if (options.noKernelMapping !== undefined && typeof options.noKernelMapping !== 'boolean') {
      throw new TypeError('options.noKernelMapping must be a boolean');
    }
    this.dev = dev;
    this.type = type;
    this.memOps = memOps;
    this.ops = ops;
    this.dmaDir = type === 'video-output' ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
    this.dmaAttrs = options.noKernelMapping === true ? attrs | DMA_ATTR_NO_KERNEL_MAPPING : attrs;
    this.gfpFlags = gfp;
    this.minQueuedBuffers = minQueued;
    this.bugs = checkBugs(options.bugs, 'options.bugs');
  }

  /** The driver asked for no kernel mapping of the buffers (`DMA_ATTR_NO_KERNEL_MAPPING`). */
  get noKernelMapping(): boolean {
    return (this.dmaAttrs & DMA_ATTR_NO_KERNEL_MAPPING) !== 0;
  }

  /** `q->num_buffers`. */
  get numBuffers(): number {
    return this.bufs.length;
  }

  /** `vb2_is_streaming`-ish: STREAMON was called and STREAMOFF was not. */
  get streaming(): boolean {
    return this.isStreaming;
  }

  /** `q->queued_count`. */
  get queuedCount(): number {
    return this.queuedList.length;
  }

  /** Buffers completed and not yet dequeued. */
  get doneCount(): number {
    return this.doneList.length;
  }

  /** `vb2_get_buffer`: the buffer at `index`, or null. */
  buffer(index: number): Vb2Buffer | null {
    checkInteger(index, 'index');
    return this.bufs[index] ?? null;
  }

  // ---- VIDIOC_REQBUFS

  /**
   * VIDIOC_REQBUFS: frees the buffers there are (when none is mapped and the queue is not
   * streaming) and allocates `count` new ones. Returns the number allocated (possibly fewer than
   * asked, as the driver's queue_setup and memory allow; 0 for `count` 0) or a negative errno:
   * -EBUSY while streaming or while a buffer is still mapped, -EINVAL for a memory type other
   * than MMAP, -ENOMEM when not one buffer could be allocated.
   *
   * Today's kernel lets REQBUFS(0) orphan mapped buffers, which live on until unmapped through
   * their VMA's close hook; the model's VMAs have no such hook, so the queue refuses instead.
   */
  reqbufs(count: number, memory: Vb2Memory = 'mmap'): number {
    checkInteger(count, 'count', 0, 2 ** 32 - 1);
    if (memory !== 'mmap' && memory !== 'userptr' && memory !== 'dmabuf') {
      throw new TypeError(`memory must be 'mmap', 'userptr' or 'dmabuf', got ${String(memory)}`);
    }
    if (memory !== 'mmap') return -EINVAL;
    if (this.isStreaming) return -EBUSY;
    if (count === 0 || this.bufs.length !== 0) {
      if (this.buffersInUse()) return -EBUSY;
      this.cancel();
      this.freeBuffers();
      this.memory = null;
      if (count === 0) return 0;
    }
    const wanted = Math.min(Math.max(count, this.minQueuedBuffers), VB2_MAX_FRAME);
    const setup = this.callQueueSetup(wanted);
    if (typeof setup === 'number') return setup;
    const allocated = this.allocBuffers(setup.count, setup.sizes);
    if (allocated === 0) return -ENOMEM;
    if (allocated < setup.count) {
      // Fewer than the driver asked for: it must agree to work with what there is.
      const again = this.callQueueSetup(allocated);
      if (typeof again === 'number' || again.count > allocated) {
        this.freeBuffers();
        return -ENOMEM;
      }
    }
    this.memory = memory;
    return allocated;
  }

  private callQueueSetup(count: number): Vb2QueueSetup | number {
    const setup = this.ops.queueSetup(this, count);
    if (typeof setup === 'number') {
      checkInteger(-setup, 'queueSetup() result');
      return setup;
    }
    checkInteger(setup?.count, 'queueSetup().count', 1, count);
    if (!Array.isArray(setup.sizes) || setup.sizes.length < 1 || setup.sizes.length > VB2_MAX_PLANES) {
      throw new TypeError(`queueSetup().sizes must list 1 to ${VB2_MAX_PLANES} plane sizes`);
    }
    setup.sizes.forEach((size, i) => checkSize(size, `queueSetup().sizes[${i}]`));
    return setup;
  }

  /** `__vb2_queue_alloc`: memory, buf_init and offsets, buffer by buffer until one fails. */
  private allocBuffers(count: number, sizes: readonly number[]): number {
    const pageSize = this.dev.machine.pageSize;
    for (let index = 0; index < count; index++) {
      const vb = new Vb2Buffer(this, index, sizes);
      if (!this.allocMem(vb, pageSize)) break;
      const ret = this.ops.bufInit?.(vb) ?? 0;
      if (ret !== 0) {
        this.freeMem(vb);
        break;
      }
      // __setup_offsets (v6.8 on): the buffer index above the plane index above the page offset.
      vb.planes.forEach((plane, p) => {
        plane.offset = (index * pow2(PLANE_INDEX_BITS) + p) * pageSize;
      });
      this.bufs.push(vb);
    }
    return this.bufs.length;
  }

  /** `__vb2_buf_mem_alloc`: every plane, page-aligned; false (and nothing kept) on failure. */
  private allocMem(vb: Vb2Buffer, pageSize: number): boolean {
    for (const plane of vb.planes) {
      const priv = this.memOps.alloc({
        dev: this.dev,
        size: alignUp(plane.length, pageSize),
        dmaDir: this.dmaDir,
        dmaAttrs: this.dmaAttrs,
        gfpFlags: this.gfpFlags,
        bugs: this.bugs,
      });
      if (priv === null) {
        this.freeMem(vb);
        return false;
      }
      plane.memPriv = priv;
    }
    return true;
  }

  /** `__vb2_buf_mem_free`. */
  private freeMem(vb: Vb2Buffer): void {
    for (const plane of vb.planes) {
      if (plane.memPriv === null) continue;
      this.memOps.put(plane.memPriv);
      plane.memPriv = null;
    }
  }

  /** `__vb2_queue_free`: buf_cleanup, then the memory, for every buffer. */
  private freeBuffers(): void {
    for (const vb of this.bufs) this.ops.bufCleanup?.(vb);
    for (const vb of this.bufs) this.freeMem(vb);
    this.bufs = [];
  }

  /** `__buffers_in_use`: some buffer is still mapped by a process. */
  private buffersInUse(): boolean {
    return this.bufs.some((vb) => this.bufferInUse(vb));
  }

  /** `vb2_buffer_in_use`: a VMA that mapped it is still there (munmap drops it). */
  private bufferInUse(vb: Vb2Buffer): boolean {
    for (let i = vb.mappings.length - 1; i >= 0; i--) {
      const vma = vb.mappings[i] as Vma;
      if (!vma.mm.owns(vma)) vb.mappings.splice(i, 1);
    }
    return vb.mappings.length > 0;
  }

  // ---- VIDIOC_QUERYBUF

  /** VIDIOC_QUERYBUF: the buffer's `struct v4l2_buffer`, or -EINVAL for an unknown index. */
  querybuf(index: number): V4l2Buffer | number {
    checkInteger(index, 'index', 0, 2 ** 32 - 1);
    const vb = this.bufs[index];
    if (vb === undefined) return -EINVAL;
    return fillV4l2Buffer(vb, this.bufferInUse(vb));
  }

  // ---- VIDIOC_QBUF

  /**
   * VIDIOC_QBUF: prepares the buffer (driver's buf_prepare, then the allocator's sync for the
   * device) and queues it; a streaming queue hands it to the driver at once. 0, or -EINVAL for an
   * unknown index or a buffer that is not dequeued, or the driver's error.
   */
  qbuf(index: number): number {
    checkInteger(index, 'index', 0, 2 ** 32 - 1);
    if (this.memory !== 'mmap') return -EINVAL;
    const vb = this.bufs[index];
    if (vb === undefined || vb.state !== 'dequeued') return -EINVAL;
    if (!vb.prepared) {
      const ret = this.bufPrepare(vb);
      if (ret !== 0) return ret;
    }
    this.queuedList.push(vb);
    vb.state = 'queued';
    if (this.startStreamingCalled) this.enqueueInDriver(vb);
    if (this.isStreaming && !this.startStreamingCalled && this.queuedList.length >= this.minQueuedBuffers) {
      const ret = this.startStreaming();
      if (ret !== 0) return ret;
    }
    return 0;
  }

  /** `__buf_prepare`. */
  private bufPrepare(vb: Vb2Buffer): number {
    const orig = vb.state;
    vb.state = 'preparing';
    const ret = this.ops.bufPrepare?.(vb) ?? 0;
    if (ret !== 0) {
      vb.state = orig;
      return ret;
    }
    this.memPrepare(vb);
    vb.prepared = true;
    vb.state = orig;
    return 0;
  }

  /** `__vb2_buf_mem_prepare`: the prepare memop, once per ownership period. */
  private memPrepare(vb: Vb2Buffer): void {
    if (vb.synced) return;
    vb.synced = true;
    for (const plane of vb.planes) if (plane.memPriv !== null) this.memOps.prepare?.(plane.memPriv);
  }

  /** `__vb2_buf_mem_finish`. */
  private memFinish(vb: Vb2Buffer): void {
    if (!vb.synced) return;
    vb.synced = false;
    for (const plane of vb.planes) if (plane.memPriv !== null) this.memOps.finish?.(plane.memPriv);
  }

  /** `__enqueue_in_driver`. */
  private enqueueInDriver(vb: Vb2Buffer): void {
    vb.state = 'active';
    this.ownedByDrvCount++;
    this.ops.bufQueue(vb);
  }

  /** `vb2_start_streaming`. */
  private startStreaming(): number {
    for (const vb of this.queuedList) if (vb.state === 'queued') this.enqueueInDriver(vb);
    this.startStreamingCalled = true;
    const ret = this.ops.startStreaming?.(this, this.ownedByDrvCount) ?? 0;
    if (ret === 0) return 0;
    this.startStreamingCalled = false;
    // The driver must have given its buffers back as 'queued'; take any it kept.
    if (this.ownedByDrvCount > 0) {
      this.dev.machine.printk('warn', this.dev, 'vb2: driver bug: start_streaming failed without returning its buffers');
      for (const vb of this.bufs) if (vb.state === 'active') vb2BufferDone(vb, 'queued');
    }
    return ret;
  }

  // ---- VIDIOC_DQBUF

  /**
   * VIDIOC_DQBUF: the oldest completed buffer (with its `sequence`, `bytesused` and the DONE or
   * ERROR flag), or -EAGAIN when none is done (non-blocking), or -EINVAL when not streaming.
   */
  dqbuf(options: DqbufOptions = {}): V4l2Buffer | number {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const nonblocking = options.nonblocking ?? true;
    if (typeof nonblocking !== 'boolean') throw new TypeError('options.nonblocking must be a boolean');
    const clock = this.dev.machine.clock;
    for (;;) {
      if (!this.isStreaming) return -EINVAL;
      if (this.doneList.length > 0) break;
      if (nonblocking) return -EAGAIN;
      const next = clock.nextTimerAt();
      if (next === null) return -EAGAIN;
      clock.advance(Math.max(0, next - clock.now()));
    }
    const vb = this.doneList.shift() as Vb2Buffer;
    this.ops.bufFinish?.(vb);
    vb.prepared = false;
    const info = fillV4l2Buffer(vb, this.bufferInUse(vb));
    this.queuedList.splice(this.queuedList.indexOf(vb), 1);
    vb.state = 'dequeued';
    return info;
  }

  // ---- VIDIOC_STREAMON / VIDIOC_STREAMOFF

  /**
   * VIDIOC_STREAMON: starts streaming (the driver's start_streaming once `minQueuedBuffers` are
   * queued). 0, or -EINVAL with no buffers, or the driver's error.
   */
  streamon(): number {
    if (this.isStreaming) return 0;
    if (this.bufs.length === 0 || this.bufs.length < this.minQueuedBuffers) return -EINVAL;
    if (this.queuedList.length >= this.minQueuedBuffers) {
      const ret = this.startStreaming();
      if (ret !== 0) return ret;
    }
    this.isStreaming = true;
    return 0;
  }

  /**
   * VIDIOC_STREAMOFF: stops the driver and returns every buffer to user space, dequeued: queued
   * and done buffers are not dequeueable afterwards. Always 0.
   */
  streamoff(): number {
    this.cancel();
    return 0;
  }

  /** `__vb2_queue_cancel`. */
  private cancel(): void {
    if (this.startStreamingCalled) this.ops.stopStreaming?.(this);
    if (this.ownedByDrvCount > 0) {
      this.dev.machine.printk('warn', this.dev, 'vb2: driver bug: stop_streaming did not return all its buffers');
      for (const vb of this.bufs) if (vb.state === 'active') vb2BufferDone(vb, 'error');
    }
    this.isStreaming = false;
    this.startStreamingCalled = false;
    this.queuedList = [];
    this.doneList = [];
    for (const vb of this.bufs) {
      this.memFinish(vb);
      if (vb.prepared) {
        this.ops.bufFinish?.(vb);
        vb.prepared = false;
      }
      vb.state = 'dequeued';
    }
  }

  /** Called by `vb2BufferDone`. */
  bufferDone(vb: Vb2Buffer, state: 'done' | 'error' | 'queued'): void {
    if (vb.queue !== this) throw new Error(`vb2: buffer ${vb.index} belongs to another queue`);
    if (vb.state !== 'active') {
      this.dev.machine.printk('warn', this.dev, `vb2: buffer ${vb.index} done in state ${vb.state}`);
      return;
    }
    if (state !== 'queued') this.memFinish(vb);
    if (state === 'queued') {
      vb.state = 'queued';
    } else {
      this.doneList.push(vb);
      vb.state = state;
    }
    this.ownedByDrvCount--;
  }

  // ---- mmap

  /**
   * mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, offset) on the video device:
   * `offset` is the buffer's cookie from QUERYBUF. Returns the user address, or a negative errno:
   * -EINVAL for an offset that names no buffer, a length beyond the buffer or no MMAP buffers.
   */
  mmap(process: Process, length: number, offset: number): number {
    if (!(process instanceof Process)) throw new TypeError('process must be a Process from machine.createProcess()');
    checkSize(length, 'length');
    checkInteger(offset, 'offset');
    const pageSize = this.dev.machine.pageSize;
    if (offset % pageSize !== 0) return -EINVAL;
    try {
      return process.mmap(length, (vma) => this.vb2Mmap(vma), { pgoff: offset / pageSize });
    } catch (error) {
      if (error instanceof MmapError) return -error.errno;
      throw error;
    }
  }

  /** `vb2_mmap`: the video device's mmap file operation. */
  private vb2Mmap(vma: Vma): number {
    if (this.memory !== 'mmap') return -EINVAL;
    if ((vma.flags & VM_SHARED) === 0) return -EINVAL;
    if ((vma.flags & (this.type === 'video-output' ? VM_WRITE : VM_READ)) === 0) return -EINVAL;
    const pageSize = this.dev.machine.pageSize;
    const offset = vma.pgoff * pageSize;
    // __find_plane_by_offset
    const index = Math.floor(vma.pgoff / pow2(PLANE_INDEX_BITS));
    const planeIndex = vma.pgoff % pow2(PLANE_INDEX_BITS);
    const vb = this.bufs[index];
    const plane = vb?.planes[planeIndex];
    if (vb === undefined || plane === undefined || plane.offset !== offset || plane.memPriv === null) return -EINVAL;
    // "MMAP invalid, as it would overflow buffer length"
    if (alignUp(plane.length, pageSize) < vma.end - vma.start) return -EINVAL;
    // dma_mmap_* and vm_map_pages use vm_pgoff as the offset inside the buffer: map it whole.
    vma.pgoff = 0;
    const ret = this.memOps.mmap(plane.memPriv, vma);
    if (ret !== 0) return ret;
    vb.mappings.push(vma);
    return 0;
  }

  /**
   * `vb2_queue_release`: what closing the file does (STREAMOFF, then REQBUFS(0)). Frees the
   * buffers even if a process still maps them (unmap first: the model has no VMA close hook).
   */
  release(): void {
    this.cancel();
    for (const vb of this.bufs) vb.mappings.length = 0;
    this.freeBuffers();
    this.memory = null;
  }
}

/**
 * `vb2_buffer_done`: the driver is done with an active buffer. `'done'` or `'error'` syncs it for
 * the CPU (finish memop) and makes it dequeueable; `'queued'` gives it back from a failed
 * start_streaming.
 */
export function vb2BufferDone(vb: Vb2Buffer, state: 'done' | 'error' | 'queued'): void {
  if (!(vb instanceof Vb2Buffer)) throw new TypeError('vb must be a Vb2Buffer');
  if (state !== 'done' && state !== 'error' && state !== 'queued') throw new TypeError(`state must be 'done', 'error' or 'queued', got ${String(state)}`);
  vb.queue.bufferDone(vb, state);
}

function planeOf(vb: Vb2Buffer, plane: number): Vb2Plane | null {
  if (!(vb instanceof Vb2Buffer)) throw new TypeError('vb must be a Vb2Buffer');
  checkInteger(plane, 'plane');
  return vb.planes[plane] ?? null;
}

/** `vb2_plane_vaddr`: the kernel address of a plane, or null (none, or no kernel mapping). */
export function vb2PlaneVaddr(vb: Vb2Buffer, plane: number): number | null {
  const p = planeOf(vb, plane);
  if (p === null || p.memPriv === null) return null;
  return vb.queue.memOps.vaddr?.(p.memPriv) ?? null;
}

/** `vb2_plane_cookie`: the allocator's handle of a plane, or null. */
export function vb2PlaneCookie(vb: Vb2Buffer, plane: number): unknown {
  const p = planeOf(vb, plane);
  if (p === null || p.memPriv === null) return null;
  return vb.queue.memOps.cookie?.(p.memPriv) ?? null;
}

/** `vb2_plane_size`: the plane's size in bytes (0 for no such plane). */
export function vb2PlaneSize(vb: Vb2Buffer, plane: number): number {
  return planeOf(vb, plane)?.length ?? 0;
}

/** `vb2_set_plane_payload`: bytes of data in the plane. */
export function vb2SetPlanePayload(vb: Vb2Buffer, plane: number, size: number): void {
  const p = planeOf(vb, plane);
  if (p === null) throw new RangeError(`plane must be below ${vb.planes.length}, got ${plane}`);
  checkInteger(size, 'size', 0, p.length);
  p.bytesused = size;
}

/** `vb2_get_plane_payload`. */
export function vb2GetPlanePayload(vb: Vb2Buffer, plane: number): number {
  return planeOf(vb, plane)?.bytesused ?? 0;
}
