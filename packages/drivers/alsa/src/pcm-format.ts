import { describeValue } from './args.js';

/*
 * PCM sample formats (include/uapi/sound/asound.h, sound/core/pcm_misc.c): only their sizes
 * matter to the DMA path — the bytes per frame that turn frames into buffer offsets.
 */

/** `snd_pcm_format_t` names (SNDRV_PCM_FORMAT_*). */
export type SndPcmFormat = 'S8' | 'U8' | 'S16_LE' | 'S16_BE' | 'U16_LE' | 'S24_LE' | 'S24_3LE' | 'S32_LE' | 'FLOAT_LE';

/** `pcm_formats[].phys`: bits a sample takes in memory (S24_LE sits in 32). */
const PHYSICAL_WIDTH: Readonly<Record<SndPcmFormat, number>> = Object.freeze({
  S8: 8,
  U8: 8,
  S16_LE: 16,
  S16_BE: 16,
  U16_LE: 16,
  S24_LE: 32,
  S24_3LE: 24,
  S32_LE: 32,
  FLOAT_LE: 32,
});

/** `snd_pcm_format_physical_width`. */
export function sndPcmFormatPhysicalWidth(format: SndPcmFormat): number {
  const width = Object.prototype.hasOwnProperty.call(PHYSICAL_WIDTH, format) ? PHYSICAL_WIDTH[format] : undefined;
  if (width === undefined) throw new RangeError(`format must be one of ${Object.keys(PHYSICAL_WIDTH).join(', ')}, got ${describeValue(format)}`);
  return width;
}

/** `frame_bits / 8`: bytes per frame of `channels` samples of `format`. */
export function sndPcmFrameBytes(format: SndPcmFormat, channels: number): number {
  return (sndPcmFormatPhysicalWidth(format) / 8) * channels;
}
