import { EINVAL, EPIPE } from './errno.js';
import { sndDmaBufferSync, SNDRV_DMA_SYNC_CPU, type SndDmaSyncMode } from './memalloc.js';
import type { SndPcmSubstream } from './pcm-native.js';
import { SNDRV_PCM_INFO_EXPLICIT_SYNC, SNDRV_PCM_POS_XRUN, SNDRV_PCM_STREAM_PLAYBACK, type SndPcmRuntime } from './pcm-runtime.js';

/*
 * sound/core/pcm_lib.c: following the hardware pointer, detecting xruns, applying the
 * application pointer, and the explicit buffer syncs of non-coherent buffers.
 */

/** `snd_pcm_avail`: frames the application may write (playback) or read (capture). */
export function sndPcmAvail(substream: SndPcmSubstream, runtime: SndPcmRuntime): number {
  return substream.stream === SNDRV_PCM_STREAM_PLAYBACK ? runtime.playbackAvail() : runtime.captureAvail();
}

/** `snd_pcm_running`: the hardware is moving data. */
export function sndPcmRunning(substream: SndPcmSubstream, runtime: SndPcmRuntime): boolean {
  return runtime.state === 'RUNNING' || (runtime.state === 'DRAINING' && substream.stream === SNDRV_PCM_STREAM_PLAYBACK);
}

/** `__snd_pcm_xrun`: stop the stream in the XRUN state. */
export function sndPcmXrun(substream: SndPcmSubstream, runtime: SndPcmRuntime): void {
  runtime.xruns++;
  substream.stopStream(runtime, 'XRUN');
}

/**
 * `snd_pcm_update_state`: after the pointer moved — the end of a drain, an xrun when the
 * application fell a whole `stop_threshold` behind, else a wake-up of its waiters.
 */
export function sndPcmUpdateState(substream: SndPcmSubstream, runtime: SndPcmRuntime): number {
  const avail = sndPcmAvail(substream, runtime);
  if (runtime.state === 'DRAINING') {
    if (avail >= runtime.bufferSize) {
      substream.stopStream(runtime, 'SETUP');
      return -EPIPE;
    }
  } else if (avail >= runtime.stopThreshold) {
    sndPcmXrun(substream, runtime);
    return -EPIPE;
  }
  return 0;
}

/**
 * `snd_pcm_update_hw_ptr0`: reads the driver's pointer and advances `hw_ptr`, adding a buffer
 * to `hw_ptr_base` when the ring position went backwards (it wrapped). The kernel also guesses
 * from jiffies when a whole buffer passed between two reads; the simulated hardware interrupts
 * every period, so a backwards position is the only wrap there is.
 */
export function sndPcmUpdateHwPtr0(substream: SndPcmSubstream, runtime: SndPcmRuntime, inInterrupt: boolean): number {
  const pos = substream.ops === null ? 0 : substream.ops.pointer(substream);
  if (pos === SNDRV_PCM_POS_XRUN) {
    sndPcmXrun(substream, runtime);
    return -EPIPE;
  }
  const position = Number.isInteger(pos) && pos >= 0 && pos < runtime.bufferSize ? pos : 0;
  let hwBase = runtime.hwPtrBase;
  let newHwPtr = hwBase + position;
  if (newHwPtr < runtime.hwPtr) {
    hwBase += runtime.bufferSize;
    if (hwBase >= runtime.boundary) hwBase = 0;
    newHwPtr = hwBase + position;
  }
  runtime.hwPtrBase = hwBase;
  runtime.hwPtr = newHwPtr;
  if (inInterrupt) runtime.hwPtrInterrupt = newHwPtr - (newHwPtr % runtime.periodSize);
  return sndPcmUpdateState(substream, runtime);
}

/** `snd_pcm_update_hw_ptr`: outside the interrupt (hwsync, status). */
export function sndPcmUpdateHwPtr(substream: SndPcmSubstream, runtime: SndPcmRuntime): number {
  return sndPcmUpdateHwPtr0(substream, runtime, false);
}

/**
 * `snd_pcm_period_elapsed`: the driver's interrupt handler calls this when the hardware finished
 * a period; the pointer is updated and the application's waiters are woken.
 */
export function sndPcmPeriodElapsed(substream: SndPcmSubstream): void {
  const runtime = substream.runtime;
  if (runtime === null) return;
  if (sndPcmRunning(substream, runtime)) sndPcmUpdateHwPtr0(substream, runtime, true);
  substream.notifyPeriodElapsed();
}

/**
 * `pcm_lib_apply_appl_ptr`: the application moved `appl_ptr` (mmap commit, forward); the driver's
 * `ack` may tell the hardware. 0 or a negative errno (the old pointer is kept).
 */
export function pcmLibApplyApplPtr(substream: SndPcmSubstream, runtime: SndPcmRuntime, applPtr: number): number {
  const old = runtime.applPtr;
  if (applPtr === old) return 0;
  if (!Number.isInteger(applPtr) || applPtr < 0 || applPtr >= runtime.boundary) return -EINVAL;
  runtime.applPtr = applPtr;
  const ack = substream.ops?.ack;
  if (ack !== undefined) {
    const ret = ack(substream);
    if (ret < 0) {
      runtime.applPtr = old;
      if (ret === -EPIPE) sndPcmXrun(substream, runtime);
      return ret;
    }
  }
  return 0;
}

/**
 * `snd_pcm_dma_buffer_sync`: the explicit sync of a buffer marked `SNDRV_PCM_INFO_EXPLICIT_SYNC`,
 * unless the matching `bugs` entry leaves it out.
 */
export function sndPcmDmaBufferSync(substream: SndPcmSubstream, mode: SndDmaSyncMode): void {
  const runtime = substream.runtime;
  if (runtime === null || runtime.dmaBuffer === null || (runtime.info & SNDRV_PCM_INFO_EXPLICIT_SYNC) === 0) return;
  const bugs = substream.pcm.bugs;
  if (bugs.has(mode === SNDRV_DMA_SYNC_CPU ? 'no-sync-for-cpu' : 'no-sync-for-device')) return;
  sndDmaBufferSync(runtime.dmaBuffer, mode);
}
