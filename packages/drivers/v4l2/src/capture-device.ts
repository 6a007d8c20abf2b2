/**
 * The simulated capture hardware: a sensor and its DMA engine (the device side, not the driver).
 * It captures one frame per `frameIntervalNs` of machine time and writes it by DMA, through the
 * device's bus master, into the next buffer the driver queued — one contiguous range
 * (`queueContig`, what a dma-contig driver programs into two registers) or the segments of a
 * descriptor list in memory (`queueSgList`, what a scatter-gather engine walks). It talks to the
 * driver through an interrupt line: `frame-start` when it starts filling a buffer, `frame-done`
 * when the last byte is written, `dma-error` when its bus access faulted (IOMMU, address width).
 *
 * Timing: frames start at every multiple of the interval after `start()`; a frame started at tick
 * k is written and completed at tick k + 1, just before the next frame starts. With no buffer
 * queued at a tick the frame is dropped (its counter is used up, as V4L2 sequence numbers are).
 *
 * Descriptor list format (`CAPTURE_DESC_SIZE` = 16 bytes each, little-endian): bus address low
 * and high 32 bits, length, flags (`CAPTURE_DESC_LAST` on the last). The engine fetches the list
 * by DMA when the driver rings the doorbell (`queueSgList`), as engines that prefetch descriptors
 * do, so the list must be in memory — past the CPU's write buffer — by then.
 */
import type { Device } from '@kdma/dma-mapping';
import { checkInteger, DmaFault, lower32Bits, upper32Bits } from '@kdma/hw';
import { CapturePattern, CAPTURE_HEADER_SIZE, CAPTURE_TRAILER_SIZE } from './capture-pattern.js';

/** Bytes per descriptor. */
export const CAPTURE_DESC_SIZE = 16;
/** Flag of the last descriptor of a list. */
export const CAPTURE_DESC_LAST = 1;

const U32 = 2 ** 32;

/** An interrupt from the capture device. `tag` is the value the driver queued the buffer with. */
export type CaptureIrq =
  | { readonly kind: 'frame-start'; readonly tag: number; readonly frame: number }
  | { readonly kind: 'frame-done'; readonly tag: number; readonly frame: number; readonly bytesused: number }
  | { readonly kind: 'dma-error'; readonly tag: number; readonly frame: number; readonly fault: DmaFault };

/** The driver's interrupt handler (`request_irq`). */
export type CaptureIrqHandler = (irq: CaptureIrq) => void;

export interface CaptureDeviceOptions {
  /** Bytes per frame (the format's `sizeimage`), at least 24. */
  readonly sizeimage: number;
  /** Machine time between frames in ns (default 33 333 333: 30 frames per second). */
  readonly frameIntervalNs?: number;
}

/** One buffer on the engine's queue: its segments as bus address / length pairs. */
interface Slot {
  tag: number;
  count: number;
  addrs: Float64Array;
  lens: Float64Array;
}

/** Writes the little-endian descriptor `index` of a list into `view` (the driver side's helper). */
export function writeCaptureDescriptor(view: DataView, index: number, busAddr: number, length: number, last: boolean): void {
  const at = index * CAPTURE_DESC_SIZE;
  view.setUint32(at, lower32Bits(busAddr), true);
  view.setUint32(at + 4, upper32Bits(busAddr), true);
  view.setUint32(at + 8, length, true);
  view.setUint32(at + 12, last ? CAPTURE_DESC_LAST : 0, true);
}

/** The capture device model. */
export class CaptureDevice {
  readonly dev: Device;
  readonly sizeimage: number;
  readonly frameIntervalNs: number;
  /** The pattern the frames carry (the reader's reference too). */
  readonly pattern: CapturePattern;
  /** Frames written completely. */
  framesCaptured = 0;
  /** Frame slots that passed with no buffer queued. */
  framesDropped = 0;
  /** Descriptor-list fetches (doorbells of `queueSgList`). */
  descriptorFetches = 0;

  private irq: CaptureIrqHandler | null = null;
  private running = false;
  private timer = 0;
  /** The next frame's counter. */
  private frame = 0;
  /** Queued buffers, FIFO, and a pool of free slots (their arrays are reused). */
  private readonly queue: Slot[] = [];
  private readonly free: Slot[] = [];
  private inFlight: Slot | null = null;
  /** Slots whose descriptor fetch faulted: they complete with `dma-error`. */
  private readonly faults = new Map<Slot, DmaFault>();
  private inFlightFrame = 0;
  private listBytes = new Uint8Array(0);
  private listView = new DataView(this.listBytes.buffer);

  constructor(dev: Device, options: CaptureDeviceOptions) {
    if (typeof dev !== 'object' || dev === null || typeof dev.hw?.dmaWrite !== 'function') {
      throw new TypeError('dev must be a Device from machine.createDevice');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.dev = dev;
    this.pattern = new CapturePattern(options.sizeimage);
    this.sizeimage = options.sizeimage;
    const interval = options.frameIntervalNs ?? 33_333_333;
    checkInteger(interval, 'options.frameIntervalNs', 1);
    this.frameIntervalNs = interval;
  }

  /** `request_irq`: the one handler of the device's interrupt line. */
  requestIrq(handler: CaptureIrqHandler): void {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (this.irq !== null) throw new Error(`${this.dev.name}: interrupt line already requested`);
    this.irq = handler;
  }

  /** `free_irq`. */
  freeIrq(): void {
    this.irq = null;
  }

  /** Is the engine running? */
  get streaming(): boolean {
    return this.running;
  }

  /** Buffers on the engine's queue, the one being filled included. */
  get queuedBuffers(): number {
    return this.queue.length + (this.inFlight === null ? 0 : 1);
  }

  /** The RUN bit: frames start one interval from now. The frame counter restarts at 0. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.frame = 0;
    this.timer = this.dev.machine.clock.setTimer(this.frameIntervalNs, this.tick);
  }

  /** Clears RUN: the frame in progress is abandoned and the queue is emptied (the driver returns its buffers). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.dev.machine.clock.cancelTimer(this.timer);
    if (this.inFlight !== null) this.free.push(this.inFlight);
    this.inFlight = null;
    for (const slot of this.queue) this.free.push(slot);
    this.queue.length = 0;
  }

  /** Programs a contiguous buffer: base bus address and length registers, then the doorbell. */
  queueContig(busAddr: number, length: number, tag: number): void {
    checkInteger(busAddr, 'busAddr');
    checkInteger(length, 'length', 1, U32 - 1);
    checkInteger(tag, 'tag');
    const slot = this.slot(tag, 1);
    slot.addrs[0] = busAddr;
    slot.lens[0] = length;
    this.queue.push(slot);
  }

  /**
   * Doorbell for a scatter-gather buffer: the engine fetches `count` descriptors at `listBusAddr`
   * by DMA now. A fault while fetching raises `dma-error` for the buffer at its frame.
   */
  queueSgList(listBusAddr: number, count: number, tag: number): void {
    checkInteger(listBusAddr, 'listBusAddr');
    checkInteger(count, 'count', 1, 2 ** 20);
    checkInteger(tag, 'tag');
    const bytes = count * CAPTURE_DESC_SIZE;
    if (this.listBytes.length < bytes) {
      this.listBytes = new Uint8Array(bytes);
      this.listView = new DataView(this.listBytes.buffer);
    }
    const slot = this.slot(tag, count);
    this.descriptorFetches++;
    try {
      this.dev.hw.dmaReadInto(listBusAddr, this.listBytes, 0, bytes);
    } catch (error) {
      if (!(error instanceof DmaFault)) throw error;
      slot.count = 0; // nothing to write: the buffer completes with dma-error
      this.faults.set(slot, error);
      this.queue.push(slot);
      return;
    }
    const view = this.listView;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const at = i * CAPTURE_DESC_SIZE;
      slot.addrs[n] = view.getUint32(at, true) + view.getUint32(at + 4, true) * U32;
      slot.lens[n] = view.getUint32(at + 8, true);
      n++;
      if ((view.getUint32(at + 12, true) & CAPTURE_DESC_LAST) !== 0) break;
    }
    slot.count = n;
    this.queue.push(slot);
  }

  private slot(tag: number, count: number): Slot {
    let slot = this.free.pop();
    if (slot === undefined || slot.addrs.length < count) {
      const capacity = Math.max(count, slot?.addrs.length ?? 0, 16);
      slot = { tag, count, addrs: new Float64Array(capacity), lens: new Float64Array(capacity) };
    }
    slot.tag = tag;
    slot.count = count;
    return slot;
  }

  /** One frame tick: finish the frame in flight, then start the next one. */
  private readonly tick = (): void => {
    if (!this.running) return;
    const done = this.inFlight;
    this.inFlight = null;
    if (done !== null) this.complete(done, this.inFlightFrame);
    if (!this.running) return; // the handler stopped the engine
    const frame = this.frame++;
    const next = this.queue.shift();
    if (next === undefined) {
      this.framesDropped++;
    } else {
      this.inFlight = next;
      this.inFlightFrame = frame;
      this.irq?.({ kind: 'frame-start', tag: next.tag, frame });
    }
    if (this.running) this.timer = this.dev.machine.clock.setTimer(this.frameIntervalNs, this.tick);
  };

  /** DMA-writes frame `frame` into the slot's segments and raises the completion interrupt. */
  private complete(slot: Slot, frame: number): void {
    const fetchFault = this.faults.get(slot);
    this.faults.delete(slot);
    let fault: DmaFault | null = fetchFault ?? null;
    let written = 0;
    if (fault === null) {
      try {
        written = this.writeFrame(slot, frame);
      } catch (error) {
        if (!(error instanceof DmaFault)) throw error;
        fault = error;
      }
    }
    const tag = slot.tag;
    this.free.push(slot);
    if (fault !== null) {
      this.irq?.({ kind: 'dma-error', tag, frame, fault });
      return;
    }
    this.framesCaptured++;
    this.irq?.({ kind: 'frame-done', tag, frame, bytesused: written });
  }

  /** The body straight from the pattern source, then header and trailer: returns the bytes written. */
  private writeFrame(slot: Slot, frame: number): number {
    const { pattern } = this;
    let capacity = 0;
    for (let i = 0; i < slot.count; i++) capacity += slot.lens[i] as number;
    const size = Math.min(this.sizeimage, capacity);
    const source = pattern.source;
    const base = pattern.sourceOffset(frame);
    const hw = this.dev.hw;
    let done = 0;
    for (let i = 0; i < slot.count && done < size; i++) {
      const length = Math.min(slot.lens[i] as number, size - done);
      if (length > 0) hw.dmaWrite(slot.addrs[i] as number, source, base + done, length);
      done += length;
    }
    if (size >= CAPTURE_HEADER_SIZE + CAPTURE_TRAILER_SIZE) {
      this.writeAt(slot, 0, pattern.header(frame));
      if (size === this.sizeimage) this.writeAt(slot, size - CAPTURE_TRAILER_SIZE, pattern.trailer(frame));
    }
    return size;
  }

  /** Writes `bytes` at `offset` of the buffer the slot describes, across segment ends. */
  private writeAt(slot: Slot, offset: number, bytes: Uint8Array): void {
    const hw = this.dev.hw;
    let start = 0;
    let from = 0;
    for (let i = 0; i < slot.count && from < bytes.length; i++) {
      const length = slot.lens[i] as number;
      const at = offset + from;
      if (at < start + length) {
        const n = Math.min(length - (at - start), bytes.length - from);
        hw.dmaWrite((slot.addrs[i] as number) + (at - start), bytes, from, n);
        from += n;
      }
      start += length;
    }
  }
}
