import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type Device } from '@kdma/dma-mapping';
import { checkInt, describeValue } from './args.js';
import { EINVAL, ENOMEM } from './errno.js';
import { sndDmaAllocDirPages, sndDmaFreePages, SNDRV_DMA_TYPES, type SndDmaBuffer, type SndDmaType } from './memalloc.js';
import type { SndPcm } from './pcm.js';
import type { SndPcmSubstream } from './pcm-native.js';
import { SNDRV_PCM_STREAM_PLAYBACK } from './pcm-runtime.js';

/*
 * sound/core/pcm_memory.c: buffers preallocated when the card is built, so that hw_params finds
 * memory even when it has fragmented, and the "managed" mode in which the PCM core allocates and
 * frees the runtime buffer itself around the driver's hw_params/hw_free.
 */

/** `snd_minimum_buffer`: preallocation halves on -ENOMEM down to this size. */
const SND_MINIMUM_BUFFER = 16384;

/** The direction a substream's buffer is mapped in (`snd_dma_alloc_dir_pages` in pcm_memory.c). */
function streamDir(substream: SndPcmSubstream) {
  return substream.stream === SNDRV_PCM_STREAM_PLAYBACK ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
}

/** The device and type a substream allocates with (`substream->dma_buffer.dev`). */
export interface SndPcmBufferConfig {
  readonly type: SndDmaType;
  readonly dev: Device;
}

/** `preallocate_pcm_pages`: `size` bytes, halving on failure unless `noFallback`. */
function preallocatePcmPages(substream: SndPcmSubstream, config: SndPcmBufferConfig, size: number, noFallback: boolean): number {
  let bytes = size;
  do {
    const dmab = sndDmaAllocDirPages(config.type, config.dev, streamDir(substream), bytes);
    if (dmab !== null) {
      substream.dmaBuffer = dmab;
      return 0;
    }
    if (noFallback) break;
    bytes = Math.floor(bytes / 2);
  } while (bytes >= SND_MINIMUM_BUFFER);
  return -ENOMEM;
}

/** `preallocate_pages`: the common body of the preallocation and managed-buffer setters. */
function preallocatePages(substream: SndPcmSubstream, type: SndDmaType, dev: Device, size: number, max: number, managed: boolean): number {
  if (!SNDRV_DMA_TYPES.includes(type)) throw new RangeError(`type must be an SNDRV_DMA_TYPE_*, got ${describeValue(type)}`);
  checkInt(size, 'size');
  checkInt(max, 'max');
  if (substream.bufferConfig !== null) return -EINVAL;
  const config = { type, dev };
  substream.bufferConfig = config;
  if (size > 0) {
    // max 0: a fixed-size buffer, so its allocation failure is the caller's error.
    const err = preallocatePcmPages(substream, config, size, max === 0);
    if (err < 0 && max === 0) {
      substream.bufferConfig = null;
      return err;
    }
  }
  const prealloc = substream.dmaBuffer;
  substream.bufferBytesMax = prealloc !== null ? Math.max(prealloc.bytes, max) : max;
  substream.dmaMax = max;
  if (managed) substream.managedBufferAlloc = true;
  return 0;
}

/** `snd_pcm_lib_preallocate_pages`: preallocation only; the driver calls `sndPcmLibMallocPages`. */
export function sndPcmLibPreallocatePages(substream: SndPcmSubstream, type: SndDmaType, dev: Device, size: number, max: number): number {
  return preallocatePages(substream, type, dev, size, max, false);
}

/**
 * `snd_pcm_set_managed_buffer`: preallocate `size` bytes now (0: none) and let the PCM core give
 * the runtime a buffer of up to `max` bytes at hw_params (0: exactly the preallocated one).
 */
export function sndPcmSetManagedBuffer(substream: SndPcmSubstream, type: SndDmaType, dev: Device, size: number, max: number): number {
  return preallocatePages(substream, type, dev, size, max, true);
}

/** `snd_pcm_set_managed_buffer_all`: the same for every substream of `pcm`. */
export function sndPcmSetManagedBufferAll(pcm: SndPcm, type: SndDmaType, dev: Device, size: number, max: number): number {
  for (const substream of pcm.substreams()) {
    const err = sndPcmSetManagedBuffer(substream, type, dev, size, max);
    if (err < 0) return err;
  }
  return 0;
}

/** `snd_pcm_lib_preallocate_free`: gives the preallocated buffer back. */
export function sndPcmLibPreallocateFree(substream: SndPcmSubstream): void {
  if (substream.dmaBuffer !== null) sndDmaFreePages(substream.dmaBuffer);
  substream.dmaBuffer = null;
}

/** `snd_pcm_set_runtime_buffer`. */
export function sndPcmSetRuntimeBuffer(substream: SndPcmSubstream, dmab: SndDmaBuffer | null): void {
  const runtime = substream.runtime;
  if (runtime === null) return;
  runtime.dmaBuffer = dmab;
  runtime.dmaArea = dmab?.area ?? 0;
  runtime.dmaAddr = dmab?.addr ?? 0;
  runtime.dmaBytes = dmab?.bytes ?? 0;
}

/**
 * `snd_pcm_lib_malloc_pages`: a runtime buffer of `size` bytes — the current one if it is big
 * enough, else the preallocated one, else a new allocation. 1 when the buffer changed, 0 when it
 * did not, a negative errno on failure.
 */
export function sndPcmLibMallocPages(substream: SndPcmSubstream, size: number): number {
  const runtime = substream.runtime;
  const config = substream.bufferConfig;
  if (runtime === null || config === null) return -EINVAL;
  checkInt(size, 'size', 1);
  const current = runtime.dmaBuffer;
  if (current !== null) {
    if (current.bytes >= size) {
      runtime.dmaBytes = size;
      return 0;
    }
    sndPcmLibFreePages(substream);
  }
  let dmab: SndDmaBuffer | null;
  const prealloc = substream.dmaBuffer;
  if (prealloc !== null && prealloc.bytes >= size) {
    dmab = prealloc;
  } else {
    if (prealloc !== null && substream.dmaMax === 0) return -ENOMEM;
    dmab = sndDmaAllocDirPages(config.type, config.dev, streamDir(substream), size);
    if (dmab === null) return -ENOMEM;
  }
  sndPcmSetRuntimeBuffer(substream, dmab);
  runtime.dmaBytes = size;
  return 1;
}

/** `snd_pcm_lib_free_pages`: drops the runtime buffer, freeing it unless it is the preallocated one. */
export function sndPcmLibFreePages(substream: SndPcmSubstream): number {
  const runtime = substream.runtime;
  if (runtime === null) return -EINVAL;
  const dmab = runtime.dmaBuffer;
  if (dmab !== null && dmab !== substream.dmaBuffer) sndDmaFreePages(dmab);
  sndPcmSetRuntimeBuffer(substream, null);
  return 0;
}
