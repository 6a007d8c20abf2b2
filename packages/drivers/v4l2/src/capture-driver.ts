/**
 * A V4L2 capture driver for the simulated capture device, written as a vb2 driver is: `vb2_ops`
 * (queue_setup, buf_init, buf_prepare, buf_queue, buf_cleanup, start/stop_streaming) and an
 * interrupt handler that completes buffers with `vb2_buffer_done`. With dma-contig it programs
 * the buffer's DMA address into the engine; with dma-sg it writes a descriptor list of the
 * buffer's mapped DMA segments into coherent memory, issues `wmb()` so the list leaves the CPU's
 * write buffer, and rings the doorbell.
 *
 * The `bugs` option leaves steps out on purpose (see `V4l2Bug`): the allocator's syncs, unmaps and
 * frees, the driver's `wmb()`, and waiting for the end-of-frame interrupt.
 */
import { dmaAllocCoherent, dmaFreeCoherent, ENOMEM, EINVAL, type Device } from '@kdma/dma-mapping';
import { CaptureDevice, CAPTURE_DESC_SIZE, writeCaptureDescriptor, type CaptureIrq } from './capture-device.js';
import { checkBugs, type V4l2Bug } from './bugs.js';
import {
  Vb2Queue,
  vb2BufferDone,
  vb2PlaneSize,
  vb2SetPlanePayload,
  type Vb2Buffer,
  type Vb2Ops,
  type Vb2QueueSetup,
} from './videobuf2-core.js';
import { vb2DmaContigMemops, vb2DmaContigPlaneDmaAddr } from './videobuf2-dma-contig.js';
import { vb2DmaSgMemops, vb2DmaSgPlaneDesc } from './videobuf2-dma-sg.js';

/** Which videobuf2 allocator the driver uses. */
export type CaptureAllocator = 'dma-contig' | 'dma-sg';

export interface CaptureDriverOptions {
  /** Default `'dma-contig'`. */
  readonly allocator?: CaptureAllocator;
  /** dma-contig: the driver never reads the pixels, so the buffers get no kernel mapping. */
  readonly noKernelMapping?: boolean;
  /** `q->gfp_flags` for the buffers (GFP_DMA32: dma-sg pages a 32-bit engine reaches without bouncing). */
  readonly gfpFlags?: number;
  /** Buffers queued before the engine starts (`min_queued_buffers`, default 1). */
  readonly minQueuedBuffers?: number;
  /** Steps to leave out on purpose. */
  readonly bugs?: readonly V4l2Bug[];
}

/** The driver's part of a dma-sg buffer: its descriptor list, built at buf_init. */
interface DescriptorList {
  readonly cpuAddr: number;
  readonly dmaHandle: number;
  readonly size: number;
  readonly count: number;
  /** The list's bytes, written into coherent memory at every buf_queue. */
  readonly bytes: Uint8Array;
}

/** The capture driver bound to one device. */
export class CaptureDriver {
  readonly dev: Device;
  readonly hardware: CaptureDevice;
  readonly allocator: CaptureAllocator;
  readonly bugs: ReadonlySet<V4l2Bug>;
  /** The video device's buffer queue: what user space drives with the V4L2 ioctls. */
  readonly queue: Vb2Queue;
  /** Buffers given to the engine, in the order it fills them (the driver's `dmaq`). */
  private active: Vb2Buffer[] = [];
  private bound = true;

  constructor(dev: Device, hardware: CaptureDevice, options: CaptureDriverOptions = {}) {
    if (!(hardware instanceof CaptureDevice)) throw new TypeError('hardware must be a CaptureDevice');
    if (hardware.dev !== dev) throw new TypeError(`hardware belongs to device ${hardware.dev.name}, not ${String(dev?.name)}`);
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const allocator = options.allocator ?? 'dma-contig';
    if (allocator !== 'dma-contig' && allocator !== 'dma-sg') {
      throw new TypeError(`options.allocator must be 'dma-contig' or 'dma-sg', got ${String(allocator)}`);
    }
    this.dev = dev;
    this.hardware = hardware;
    this.allocator = allocator;
    this.bugs = checkBugs(options.bugs, 'options.bugs');
    const ops: Vb2Ops = {
      queueSetup: (_q, count) => this.queueSetup(count),
      bufInit: (vb) => this.bufInit(vb),
      bufPrepare: (vb) => this.bufPrepare(vb),
      bufQueue: (vb) => this.bufQueue(vb),
      bufCleanup: (vb) => this.bufCleanup(vb),
      startStreaming: () => this.startStreaming(),
      stopStreaming: () => this.stopStreaming(),
    };
    this.queue = new Vb2Queue({
      dev,
      memOps: allocator === 'dma-sg' ? vb2DmaSgMemops : vb2DmaContigMemops,
      ops,
      ...(options.noKernelMapping === undefined ? {} : { noKernelMapping: options.noKernelMapping }),
      ...(options.minQueuedBuffers === undefined ? {} : { minQueuedBuffers: options.minQueuedBuffers }),
      ...(options.gfpFlags === undefined ? {} : { gfpFlags: options.gfpFlags }),
      bugs: [...this.bugs],
    });
    hardware.requestIrq(this.irqHandler);
  }

  /** The frame size the device produces (`sizeimage`). */
  get sizeimage(): number {
    return this.hardware.sizeimage;
  }

  /**
   * Unbinds the driver: releases the queue (as closing the video device does), frees the
   * interrupt and removes the device from the machine — where dma-debug reports any leak.
   */
  remove(): void {
    if (!this.bound) return;
    this.bound = false;
    this.queue.release();
    this.hardware.freeIrq();
    this.dev.machine.removeDevice(this.dev);
  }

  // ---- vb2_ops

  private queueSetup(count: number): Vb2QueueSetup {
    return { count, sizes: [this.hardware.sizeimage] };
  }

  private bufInit(vb: Vb2Buffer): number {
    if (this.allocator !== 'dma-sg') return 0;
    const sgt = vb2DmaSgPlaneDesc(vb, 0);
    const count = sgt.nents;
    const size = count * CAPTURE_DESC_SIZE;
    const list = dmaAllocCoherent(this.dev, size);
    if (list === null) return -ENOMEM;
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) {
      const sg = sgt.sgl[i];
      if (sg === undefined) throw new Error(`BUG: sg table of buffer ${vb.index} has fewer than ${count} entries`);
      writeCaptureDescriptor(view, i, sg.dmaAddress, sg.dmaLength, i === count - 1);
    }
    const desc: DescriptorList = { cpuAddr: list.cpuAddr, dmaHandle: list.dmaHandle, size, count, bytes };
    vb.driverData = desc;
    return 0;
  }

  private bufPrepare(vb: Vb2Buffer): number {
    const size = this.hardware.sizeimage;
    if (vb2PlaneSize(vb, 0) < size) return -EINVAL;
    vb2SetPlanePayload(vb, 0, size);
    return 0;
  }

  private bufQueue(vb: Vb2Buffer): void {
    this.active.push(vb);
    if (this.allocator === 'dma-contig') {
      this.hardware.queueContig(vb2DmaContigPlaneDmaAddr(vb, 0), vb2PlaneSize(vb, 0), vb.index);
      return;
    }
    const desc = vb.driverData as DescriptorList;
    const cpu = this.dev.machine.cpu;
    cpu.write(desc.cpuAddr, desc.bytes);
    // The list must be in memory before the engine fetches it: coherent memory may be bufferable.
    if (!this.bugs.has('no-wmb')) cpu.wmb();
    this.hardware.queueSgList(desc.dmaHandle, desc.count, vb.index);
  }

  private bufCleanup(vb: Vb2Buffer): void {
    const desc = vb.driverData as DescriptorList | null;
    if (desc === null) return;
    dmaFreeCoherent(this.dev, desc.size, desc.cpuAddr, desc.dmaHandle);
    vb.driverData = null;
  }

  private startStreaming(): number {
    this.hardware.start();
    return 0;
  }

  private stopStreaming(): void {
    this.hardware.stop();
    const active = this.active;
    this.active = [];
    for (const vb of active) vb2BufferDone(vb, 'error');
  }

  // ---- the interrupt handler

  private readonly irqHandler = (irq: CaptureIrq): void => {
    const early = this.bugs.has('done-at-frame-start');
    switch (irq.kind) {
      case 'frame-start':
        if (early) this.complete(irq.tag, irq.frame, this.hardware.sizeimage, 'done');
        return;
      case 'frame-done':
        if (!early) this.complete(irq.tag, irq.frame, irq.bytesused, 'done');
        return;
      case 'dma-error':
        this.dev.machine.printk('err', this.dev, `capture DMA error in frame ${irq.frame}: ${irq.fault.message}`);
        if (!early) this.complete(irq.tag, irq.frame, 0, 'error');
        return;
    }
  };

  /** Completes the buffer the engine finished (the head of the active list). */
  private complete(tag: number, frame: number, bytesused: number, state: 'done' | 'error'): void {
    const vb = this.active.shift();
    if (vb === undefined || vb.index !== tag) {
      throw new Error(`BUG: ${this.dev.name}: the engine completed buffer ${tag}, the driver expected ${vb?.index ?? 'none'}`);
    }
    vb.sequence = frame;
    vb.timestampNs = this.dev.machine.clock.now();
    vb2SetPlanePayload(vb, 0, Math.min(bytesused, vb2PlaneSize(vb, 0)));
    vb2BufferDone(vb, state);
  }
}
