import type { Process, Vma } from '@kdma/mm';
import { checkFunction, checkInt, describeValue, pageAlign } from './args.js';
import { EBADFD, EBUSY, EINVAL, ENXIO, EPIPE } from './errno.js';
import { sndDmaBufferMmap, SNDRV_DMA_SYNC_CPU, SNDRV_DMA_SYNC_DEVICE, type SndDmaBuffer } from './memalloc.js';
import type { SndPcm, SndPcmOps } from './pcm.js';
import { sndPcmFrameBytes, sndPcmFormatPhysicalWidth } from './pcm-format.js';
import { pcmLibApplyApplPtr, sndPcmAvail, sndPcmDmaBufferSync, sndPcmRunning, sndPcmUpdateHwPtr } from './pcm-lib.js';
import { sndPcmLibFreePages, sndPcmLibMallocPages, sndPcmLibPreallocateFree, type SndPcmBufferConfig } from './pcm-memory.js';
import {
  SndPcmRuntime,
  SNDRV_PCM_INFO_EXPLICIT_SYNC,
  SNDRV_PCM_STREAM_PLAYBACK,
  type SndPcmHwParams,
  type SndPcmState,
  type SndPcmStream,
} from './pcm-runtime.js';

/*
 * sound/core/pcm_native.c: what user space reaches through the PCM device's ioctls and mmap —
 * HW_PARAMS, PREPARE, START, DROP, DRAIN, HWSYNC, SYNC_PTR, FORWARD, and the mmap of the ring.
 * Each returns 0 (or a count) or a negative errno, as the ioctl would.
 */

/** `struct snd_pcm_sync_ptr`'s inputs: `hwsync` is `SNDRV_PCM_SYNC_PTR_HWSYNC`; an `applPtr` is applied. */
export interface SndPcmSyncPtrRequest {
  readonly hwsync?: boolean;
  readonly applPtr?: number;
}

/** A period-elapsed listener (a poll() waiter woken by the interrupt). */
export type SndPcmPeriodListener = (substream: SndPcmSubstream) => void;

/** `struct snd_pcm_substream`. */
export class SndPcmSubstream {
  readonly pcm: SndPcm;
  readonly stream: SndPcmStream;
  /** The driver's operations (`snd_pcm_set_ops`). */
  ops: SndPcmOps | null = null;
  /** Set while open. */
  runtime: SndPcmRuntime | null = null;
  /** `substream->dma_buffer`: the preallocated buffer. */
  dmaBuffer: SndDmaBuffer | null = null;
  /** `dma_buffer.dev`: the type and device buffers are allocated with, once set up. */
  bufferConfig: SndPcmBufferConfig | null = null;
  /** `buffer_bytes_max`: the largest buffer hw_params may ask for. */
  bufferBytesMax = 0;
  /** `dma_max`: 0 means "exactly the preallocated buffer". */
  dmaMax = 0;
  /** `managed_buffer_alloc`. */
  managedBufferAlloc = false;
  /** `substream->private_data`: the driver's. */
  privateData: unknown = null;
  private readonly listeners = new Set<SndPcmPeriodListener>();

  constructor(pcm: SndPcm, stream: SndPcmStream) {
    this.pcm = pcm;
    this.stream = stream;
  }

  /** The machine of the card. */
  get machine() {
    return this.pcm.card.machine;
  }

  /** The state, or null when closed. */
  get state(): SndPcmState | null {
    return this.runtime?.state ?? null;
  }

  // ---- open/close

  /** `snd_pcm_open_substream`: a runtime, the driver's open, and EXPLICIT_SYNC when the buffer needs syncs. */
  open(): number {
    if (this.runtime !== null) return -EBUSY;
    if (this.ops === null) return -ENXIO;
    const runtime = new SndPcmRuntime();
    this.runtime = runtime;
    const err = this.ops.open?.(this) ?? 0;
    if (err < 0) {
      this.runtime = null;
      return err;
    }
    if (this.managedBufferAlloc && this.dmaBuffer?.needSync === true) runtime.info |= SNDRV_PCM_INFO_EXPLICIT_SYNC;
    return 0;
  }

  /** `snd_pcm_release_substream`: stop, hw_free, the driver's close. */
  close(): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    if (sndPcmRunning(this, runtime)) this.stopStream(runtime, 'SETUP');
    this.doHwFree(runtime);
    this.ops?.close?.(this);
    this.runtime = null;
    return 0;
  }

  /** `snd_pcm_lib_preallocate_free`. */
  preallocateFree(): void {
    sndPcmLibPreallocateFree(this);
  }

  // ---- hw_params / hw_free / prepare

  /**
   * `SNDRV_PCM_IOCTL_HW_PARAMS`: fixes rate, channels, format and the period layout; in managed
   * mode the core finds the buffer. The buffer is cleared (no stale kernel data reaches user
   * space) and, when it needs explicit syncs, handed to the device.
   */
  hwParams(params: SndPcmHwParams): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    if (typeof params !== 'object' || params === null) throw new TypeError(`params must be an object, got ${describeValue(params)}`);
    checkInt(params.rate, 'params.rate', 1, 1_536_000);
    checkInt(params.channels, 'params.channels', 1, 256);
    sndPcmFormatPhysicalWidth(params.format);
    checkInt(params.periodBytes, 'params.periodBytes', 1);
    checkInt(params.periods, 'params.periods', 1, 1024);
    const frameBytes = sndPcmFrameBytes(params.format, params.channels);
    if (params.periodBytes % frameBytes !== 0) throw new RangeError(`params.periodBytes must be whole frames of ${frameBytes} bytes, got ${params.periodBytes}`);
    if (runtime.state !== 'OPEN' && runtime.state !== 'SETUP' && runtime.state !== 'PREPARED') return -EBADFD;
    const bufferBytes = params.periodBytes * params.periods;
    if (this.managedBufferAlloc) {
      if (bufferBytes > this.bufferBytesMax) return -EINVAL;
      const err = sndPcmLibMallocPages(this, bufferBytes);
      if (err < 0) return err;
    }
    const err = this.ops?.hwParams?.(this, params) ?? 0;
    if (err < 0) {
      if (this.managedBufferAlloc) sndPcmLibFreePages(this);
      return err;
    }
    if (runtime.dmaBuffer === null || runtime.dmaBytes < bufferBytes) {
      this.ops?.hwFree?.(this);
      if (this.managedBufferAlloc) sndPcmLibFreePages(this);
      return -ENXIO;
    }
    runtime.setParams(params, frameBytes);
    // Managed mode: the kernel decides EXPLICIT_SYNC at open from the preallocated buffer; kdma
    // also looks at the buffer hw_params picked, which may be a new one.
    if (this.managedBufferAlloc && runtime.dmaBuffer.needSync) runtime.info |= SNDRV_PCM_INFO_EXPLICIT_SYNC;
    sndPcmDmaBufferSync(this, SNDRV_DMA_SYNC_CPU);
    this.machine.cpu.fill(runtime.dmaArea, pageAlign(runtime.dmaBytes, this.machine.pageSize), 0);
    // The kernel clears with no sync; on a non-coherent machine that leaves dirty lines that could
    // be evicted over the device's data later, so kdma hands the cleared buffer over.
    sndPcmDmaBufferSync(this, SNDRV_DMA_SYNC_DEVICE);
    runtime.state = 'SETUP';
    return 0;
  }

  /** `SNDRV_PCM_IOCTL_HW_FREE`. */
  hwFree(): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    if (runtime.state === 'RUNNING' || runtime.state === 'DRAINING') return -EBADFD;
    this.doHwFree(runtime);
    return 0;
  }

  private doHwFree(runtime: SndPcmRuntime): void {
    this.ops?.hwFree?.(this);
    if (this.managedBufferAlloc) sndPcmLibFreePages(this);
    runtime.state = 'OPEN';
  }

  /** `SNDRV_PCM_IOCTL_PREPARE`: the driver's prepare, both pointers back to 0. */
  prepare(): number {
    const runtime = this.runtime;
    if (runtime === null || runtime.state === 'OPEN') return -EBADFD;
    if (sndPcmRunning(this, runtime)) return -EBUSY;
    const err = this.ops?.prepare?.(this) ?? 0;
    if (err < 0) return err;
    runtime.hwPtrBase = 0;
    runtime.hwPtr = 0;
    runtime.hwPtrInterrupt = 0;
    runtime.applPtr = 0;
    runtime.state = 'PREPARED';
    return 0;
  }

  // ---- start/stop/drain

  /**
   * `SNDRV_PCM_IOCTL_START` (`'start'`, from PREPARED; playback needs queued frames) and
   * `SNDRV_PCM_IOCTL_DROP` (`'stop'`: stop now, to SETUP), through the driver's trigger.
   */
  trigger(cmd: 'start' | 'stop'): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    if (cmd === 'start') {
      if (runtime.state !== 'PREPARED') return -EBADFD;
      if (this.stream === SNDRV_PCM_STREAM_PLAYBACK && runtime.bufferSize - runtime.playbackAvail() === 0) return -EPIPE;
      const err = this.ops?.trigger(this, 'start') ?? -ENXIO;
      if (err < 0) return err;
      runtime.state = 'RUNNING';
      return 0;
    }
    if (cmd === 'stop') {
      if (runtime.state === 'OPEN') return -EBADFD;
      this.stopStream(runtime, 'SETUP');
      return 0;
    }
    throw new RangeError(`cmd must be 'start' or 'stop', got ${describeValue(cmd)}`);
  }

  /** `SNDRV_PCM_IOCTL_DRAIN`: playback runs until the queued frames are played, then stops. */
  drain(): number {
    const runtime = this.runtime;
    if (runtime === null || runtime.state === 'OPEN') return -EBADFD;
    if (this.stream !== SNDRV_PCM_STREAM_PLAYBACK) {
      this.stopStream(runtime, 'SETUP');
      return 0;
    }
    if (runtime.state === 'PREPARED') {
      if (runtime.bufferSize - runtime.playbackAvail() === 0) {
        runtime.state = 'SETUP';
        return 0;
      }
      const err = this.trigger('start');
      if (err < 0) return err;
    }
    if (runtime.state === 'RUNNING') runtime.state = 'DRAINING';
    else if (runtime.state === 'XRUN') runtime.state = 'SETUP';
    return 0;
  }

  /** `snd_pcm_stop`: the driver's trigger(stop) if the hardware runs, then `state`. */
  stopStream(runtime: SndPcmRuntime, state: SndPcmState): void {
    if (runtime.state === state) return;
    if (sndPcmRunning(this, runtime) || runtime.state === 'RUNNING' || runtime.state === 'DRAINING') this.ops?.trigger(this, 'stop');
    runtime.state = state;
  }

  // ---- pointers

  /** The driver's `pointer`: where the hardware is in the ring, in frames. */
  pointer(): number {
    return this.ops?.pointer(this) ?? 0;
  }

  /** `do_pcm_hwsync`: follows the hardware pointer where it moves. */
  private doHwsync(runtime: SndPcmRuntime): number {
    switch (runtime.state) {
      case 'DRAINING':
        if (this.stream !== SNDRV_PCM_STREAM_PLAYBACK) return -EBADFD;
        return sndPcmUpdateHwPtr(this, runtime);
      case 'RUNNING':
        return sndPcmUpdateHwPtr(this, runtime);
      case 'PREPARED':
        return 0;
      case 'XRUN':
        return -EPIPE;
      default:
        return -EBADFD;
    }
  }

  /** `SNDRV_PCM_IOCTL_HWSYNC`: the hardware pointer now, and the buffer handed to the CPU. */
  hwsync(): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    const err = this.doHwsync(runtime);
    sndPcmDmaBufferSync(this, SNDRV_DMA_SYNC_CPU);
    return err;
  }

  /**
   * `SNDRV_PCM_IOCTL_SYNC_PTR`: what alsa-lib calls when it cannot mmap the status and control
   * records (always, for EXPLICIT_SYNC buffers): optionally a hwsync, then the application's new
   * `appl_ptr`, after which the buffer is handed to the device.
   */
  syncPtr(request: SndPcmSyncPtrRequest = {}): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    if (typeof request !== 'object' || request === null) throw new TypeError(`request must be an object, got ${describeValue(request)}`);
    if (request.hwsync === true) {
      const err = this.hwsync();
      if (err < 0) return err;
    }
    if (request.applPtr === undefined) return 0;
    checkInt(request.applPtr, 'request.applPtr');
    const err = pcmLibApplyApplPtr(this, runtime, request.applPtr);
    if (err < 0) return err;
    sndPcmDmaBufferSync(this, SNDRV_DMA_SYNC_DEVICE);
    return 0;
  }

  /** `SNDRV_PCM_IOCTL_FORWARD`: moves `appl_ptr` by up to `frames`; the frames moved or a negative errno. */
  forward(frames: number): number {
    const runtime = this.runtime;
    if (runtime === null) return -EBADFD;
    checkInt(frames, 'frames');
    if (frames === 0) return 0;
    let ret = this.doHwsync(runtime);
    if (ret === 0) {
      const avail = sndPcmAvail(this, runtime);
      const n = Math.min(frames, avail);
      if (n <= 0) return 0;
      let appl = runtime.applPtr + n;
      if (appl >= runtime.boundary) appl -= runtime.boundary;
      const err = pcmLibApplyApplPtr(this, runtime, appl);
      ret = err < 0 ? err : n;
    }
    if (ret >= 0) sndPcmDmaBufferSync(this, SNDRV_DMA_SYNC_DEVICE);
    return ret;
  }

  /** `snd_pcm_avail` as of the last pointer update. */
  avail(): number {
    const runtime = this.runtime;
    return runtime === null ? 0 : sndPcmAvail(this, runtime);
  }

  // ---- mmap

  /**
   * `snd_pcm_mmap_data`: the PCM device's mmap of the ring (offset `SNDRV_PCM_MMAP_OFFSET_DATA`,
   * 0), through `snd_pcm_lib_default_mmap` → `snd_dma_buffer_mmap`. 0 or a negative errno.
   */
  mmapData(vma: Vma): number {
    const runtime = this.runtime;
    if (runtime === null || runtime.state === 'OPEN') return -EBADFD;
    const buffer = runtime.dmaBuffer;
    if (buffer === null) return -ENXIO;
    const pageSize = this.machine.pageSize;
    const size = vma.end - vma.start;
    const dmaBytes = pageAlign(runtime.dmaBytes, pageSize);
    const offset = vma.pgoff * pageSize;
    if (size > dmaBytes || offset > dmaBytes - size) return -EINVAL;
    return sndDmaBufferMmap(buffer, vma);
  }

  /** mmap() of the ring by `process`: its user address (throws `MmapError` when the driver refuses). */
  mmap(process: Process): number {
    if (typeof process !== 'object' || process === null || typeof (process as Partial<Process>).mmap !== 'function') {
      throw new TypeError(`process must be a Process from machine.createProcess, got ${describeValue(process)}`);
    }
    const bytes = this.runtime?.dmaBytes ?? 0;
    return process.mmap(pageAlign(Math.max(bytes, 1), this.machine.pageSize), (vma) => this.mmapData(vma));
  }

  // ---- period notifications

  /** Registers a period-elapsed listener; returns its removal. */
  onPeriodElapsed(listener: SndPcmPeriodListener): () => void {
    checkFunction(listener, 'listener');
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes the listeners (`snd_pcm_period_elapsed`'s wake-up). */
  notifyPeriodElapsed(): void {
    for (const listener of this.listeners) listener(this);
  }
}
