/**
 * `@kdma/alsa`: ALSA's DMA buffers (sound/core/memalloc.c), the PCM core's managed buffers,
 * substream ioctls and mmap (pcm_memory.c, pcm_native.c, pcm_lib.c), the user-space side of an
 * mmap stream, and a card driver for a simulated audio DMA controller.
 */
export {
  SNDRV_DMA_SYNC_CPU,
  SNDRV_DMA_SYNC_DEVICE,
  SNDRV_DMA_TYPE_CONTINUOUS,
  SNDRV_DMA_TYPE_DEV,
  SNDRV_DMA_TYPE_DEV_SG,
  SNDRV_DMA_TYPE_DEV_WC,
  SNDRV_DMA_TYPE_NONCONTIG,
  SNDRV_DMA_TYPES,
  sndDmaAllocDirPages,
  sndDmaAllocPages,
  sndDmaBufferMmap,
  sndDmaBufferSync,
  sndDmaFreePages,
  sndDmaTypeName,
  sndSgbufGetAddr,
  sndSgbufGetChunkSize,
  type SndDmaBuffer,
  type SndDmaNoncontig,
  type SndDmaSgFallback,
  type SndDmaSyncMode,
  type SndDmaType,
} from './memalloc.js';
export { EBADFD, ENOENT, EPIPE } from './errno.js';
export { sndPcmFormatPhysicalWidth, sndPcmFrameBytes, type SndPcmFormat } from './pcm-format.js';
export {
  SndPcmRuntime,
  SNDRV_PCM_INFO_EXPLICIT_SYNC,
  SNDRV_PCM_POS_XRUN,
  SNDRV_PCM_STREAM_CAPTURE,
  SNDRV_PCM_STREAM_PLAYBACK,
  type SndPcmHwParams,
  type SndPcmState,
  type SndPcmStream,
} from './pcm-runtime.js';
export { checkAlsaBugs, SndCard, sndCardFree, sndCardNew, SndPcm, sndPcmNew, sndPcmSetOps, type AlsaBug, type SndPcmNewOptions, type SndPcmOps } from './pcm.js';
export { SndPcmSubstream, type SndPcmPeriodListener, type SndPcmSyncPtrRequest } from './pcm-native.js';
export { pcmLibApplyApplPtr, sndPcmAvail, sndPcmPeriodElapsed, sndPcmUpdateHwPtr, sndPcmXrun } from './pcm-lib.js';
export {
  sndPcmLibFreePages,
  sndPcmLibMallocPages,
  sndPcmLibPreallocateFree,
  sndPcmLibPreallocatePages,
  sndPcmSetManagedBuffer,
  sndPcmSetManagedBufferAll,
  type SndPcmBufferConfig,
} from './pcm-memory.js';
export { SndPcmUser, type SndPcmMmapArea, type SndPcmUserOptions } from './pcm-user.js';
export {
  createCapturePattern,
  PcmDmaEngine,
  PCM_CTL_IE,
  PCM_CTL_RUN,
  PCM_CTL_SRST,
  PCM_REG_CBL,
  PCM_REG_CTL,
  PCM_REG_FRAME_BYTES,
  PCM_REG_LPIB,
  PCM_REG_PERIOD,
  PCM_REG_RATE,
  PCM_REG_SEG_ADDR_HI,
  PCM_REG_SEG_ADDR_LO,
  PCM_REG_SEG_COUNT,
  PCM_REG_SEG_INDEX,
  PCM_REG_SEG_LEN,
  PCM_REG_STS,
  PCM_STS_BCIS,
  PCM_STS_DESE,
  type PcmCaptureSource,
  type PcmDmaEngineOptions,
  type PcmPlaybackSink,
} from './pcm-dma-engine.js';
export { createPcmDmaCard, type PcmDmaCard, type PcmDmaCardOptions } from './pcm-dma-driver.js';
