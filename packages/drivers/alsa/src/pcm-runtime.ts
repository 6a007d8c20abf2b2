import type { SndDmaBuffer } from './memalloc.js';
import type { SndPcmFormat } from './pcm-format.js';

/*
 * `struct snd_pcm_runtime` (include/sound/pcm.h): the state of an open substream — its
 * parameters, the ring buffer, and the two pointers the whole PCM layer turns on: `hw_ptr`, where
 * the hardware is, and `appl_ptr`, where the application is. Both count frames from the start,
 * wrapping at `boundary` (a multiple of the buffer size), so that the ring position is
 * `ptr % buffer_size` and the distance between them is never ambiguous.
 */

/** `SNDRV_PCM_STREAM_PLAYBACK` / `_CAPTURE`. */
export const SNDRV_PCM_STREAM_PLAYBACK = 0;
export const SNDRV_PCM_STREAM_CAPTURE = 1;
export type SndPcmStream = typeof SNDRV_PCM_STREAM_PLAYBACK | typeof SNDRV_PCM_STREAM_CAPTURE;

/** `SNDRV_PCM_POS_XRUN`: what a driver's `pointer` returns when the hardware lost track. */
export const SNDRV_PCM_POS_XRUN = -1;

/** `snd_pcm_state_t` (the states this shim reaches). */
export type SndPcmState = 'OPEN' | 'SETUP' | 'PREPARED' | 'RUNNING' | 'XRUN' | 'DRAINING';

/** The hw_params a user space settles on (`snd_pcm_hw_params` once refined to single values). */
export interface SndPcmHwParams {
  /** Frames per second. */
  readonly rate: number;
  readonly channels: number;
  readonly format: SndPcmFormat;
  /** `params_period_bytes`. */
  readonly periodBytes: number;
  /** `params_periods`. */
  readonly periods: number;
}

/** `SNDRV_PCM_INFO_EXPLICIT_SYNC`: data and pointers need explicit syncs (non-coherent buffers). */
export const SNDRV_PCM_INFO_EXPLICIT_SYNC = 0x10000000;

/**
 * `LONG_MAX` of a 32-bit kernel: `boundary` is the largest power-of-two multiple of the buffer
 * size that stays below it, as `snd_pcm_hw_params` computes it.
 */
const LONG_MAX_32 = 2 ** 31 - 1;

export class SndPcmRuntime {
  state: SndPcmState = 'OPEN';
  /** `runtime->info`: SNDRV_PCM_INFO_* flags. */
  info = 0;
  rate = 0;
  channels = 0;
  format: SndPcmFormat = 'S16_LE';
  /** `frame_bits / 8`. */
  frameBytes = 0;
  /** `period_size`, frames. */
  periodSize = 0;
  periods = 0;
  /** `buffer_size`, frames. */
  bufferSize = 0;
  boundary = 0;
  /** `status->hw_ptr`. */
  hwPtr = 0;
  /** `control->appl_ptr`. */
  applPtr = 0;
  /** `control->avail_min`. */
  availMin = 1;
  /** `hw_ptr_base`: `hw_ptr` minus the ring position. */
  hwPtrBase = 0;
  /** `hw_ptr_interrupt`: `hw_ptr` at the last period interrupt, rounded to a period. */
  hwPtrInterrupt = 0;
  /** `start_threshold` (frames queued before an automatic start; kdma starts explicitly). */
  startThreshold = 1;
  /** `stop_threshold`: avail at which the stream stops with an xrun. */
  stopThreshold = 0;
  /** xruns seen since open. */
  xruns = 0;
  /** `dma_buffer_p`: the buffer in use (the preallocated one or one of its own). */
  dmaBuffer: SndDmaBuffer | null = null;
  /** `dma_area`: its kernel address. */
  dmaArea = 0;
  /** `dma_addr`: its bus address (first byte). */
  dmaAddr = 0;
  /** `dma_bytes`: the bytes hw_params asked for. */
  dmaBytes = 0;
  /** `runtime->private_data`: the driver's. */
  privateData: unknown = null;

  /** Sets the parameters and derived sizes (part of `snd_pcm_hw_params`). */
  setParams(params: SndPcmHwParams, frameBytes: number): void {
    this.rate = params.rate;
    this.channels = params.channels;
    this.format = params.format;
    this.frameBytes = frameBytes;
    this.periodSize = params.periodBytes / frameBytes;
    this.periods = params.periods;
    this.bufferSize = this.periodSize * params.periods;
    let boundary = this.bufferSize;
    while (boundary * 2 <= LONG_MAX_32 - this.bufferSize) boundary *= 2;
    this.boundary = boundary;
    this.stopThreshold = this.bufferSize;
  }

  /** `frames_to_bytes`. */
  framesToBytes(frames: number): number {
    return frames * this.frameBytes;
  }

  /** `bytes_to_frames`. */
  bytesToFrames(bytes: number): number {
    return Math.floor(bytes / this.frameBytes);
  }

  /** `snd_pcm_playback_avail`: frames the application may write. */
  playbackAvail(): number {
    let avail = this.hwPtr + this.bufferSize - this.applPtr;
    if (avail < 0) avail += this.boundary;
    else if (avail >= this.boundary) avail -= this.boundary;
    return avail;
  }

  /** `snd_pcm_capture_avail`: frames the application may read. */
  captureAvail(): number {
    let avail = this.hwPtr - this.applPtr;
    if (avail < 0) avail += this.boundary;
    return avail;
  }
}
