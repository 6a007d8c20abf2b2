import { dmaSetMaxSegSize, type Device } from '@kdma/dma-mapping';
import { lower32Bits, upper32Bits } from '@kdma/hw';
import { checkInt, describeValue } from './args.js';
import { ENXIO } from './errno.js';
import { SNDRV_DMA_TYPE_DEV_WC, sndSgbufGetAddr, sndSgbufGetChunkSize, type SndDmaType } from './memalloc.js';
import { sndCardFree, sndCardNew, sndPcmNew, sndPcmSetOps, type AlsaBug, type SndCard, type SndPcm, type SndPcmOps } from './pcm.js';
import { sndPcmPeriodElapsed, sndPcmXrun } from './pcm-lib.js';
import { sndPcmSetManagedBuffer } from './pcm-memory.js';
import type { SndPcmSubstream } from './pcm-native.js';
import { SNDRV_PCM_STREAM_CAPTURE, SNDRV_PCM_STREAM_PLAYBACK } from './pcm-runtime.js';
import {
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
  type PcmPlaybackSink,
} from './pcm-dma-engine.js';

/*
 * A card driver for the simulated audio DMA controller, written the way a real one is: managed
 * buffers of the chosen SNDRV_DMA_TYPE_*, a prepare that programs the ring's bus segments
 * (`snd_sgbuf_get_addr`/`snd_sgbuf_get_chunk_size`, as HD-audio fills its BDL), trigger and pointer
 * on the stream registers, and an interrupt handler that acknowledges the stream and calls
 * `snd_pcm_period_elapsed`. It uses only the consumer DMA API, through the ALSA core; nothing in
 * it depends on the architecture.
 */

export interface PcmDmaCardOptions {
  /** The buffer kind (default `SNDRV_DMA_TYPE_DEV_WC`, the usual choice of ARM SoC drivers). */
  readonly type?: SndDmaType;
  /** Bytes preallocated per substream (default 64 KiB; 0: none). */
  readonly preallocBytes?: number;
  /** The largest buffer hw_params may ask for (default 4 MiB). */
  readonly maxBytes?: number;
  readonly playback?: boolean;
  readonly capture?: boolean;
  /** Steps left out on purpose (see `AlsaBug`). */
  readonly bugs?: readonly AlsaBug[];
  /** What the playback engine plays into. */
  readonly sink?: PcmPlaybackSink;
  /** What the capture engine records. */
  readonly source?: PcmCaptureSource;
}

/** A probed card: the ALSA objects and the simulated streams behind them. */
export interface PcmDmaCard {
  readonly card: SndCard;
  readonly pcm: SndPcm;
  readonly playback: SndPcmSubstream | null;
  readonly capture: SndPcmSubstream | null;
  /** The device side of each substream. */
  readonly engines: { readonly playback: PcmDmaEngine | null; readonly capture: PcmDmaEngine | null };
  /** `snd_card_free`: closes the substreams and frees the buffers. */
  free(): void;
}

/** The driver's per-substream state. */
interface StreamChip {
  readonly engine: PcmDmaEngine;
  readonly substream: SndPcmSubstream;
}

function chipOf(substream: SndPcmSubstream): StreamChip {
  return substream.privateData as StreamChip;
}

/** `writel` as ARM defines it: `__iowmb()` (a `wmb()`) before the store reaches the register. */
function writel(chip: StreamChip, reg: number, value: number): void {
  chip.substream.machine.cpu.wmb();
  chip.engine.writeReg(reg, value);
}

/** `readl`: the load, then `__iormb()` (nothing to order in the model). */
function readl(chip: StreamChip, reg: number): number {
  return chip.engine.readReg(reg);
}

const ops: SndPcmOps = {
  prepare(substream) {
    const chip = chipOf(substream);
    const runtime = substream.runtime;
    const dmab = runtime?.dmaBuffer ?? null;
    if (runtime === null || dmab === null) return -ENXIO;
    const bufferBytes = runtime.framesToBytes(runtime.bufferSize);
    writel(chip, PCM_REG_CTL, PCM_CTL_SRST);
    // The ring as bus segments, each a run the device can address contiguously.
    let index = 0;
    for (let offset = 0; offset < bufferBytes; index++) {
      const addr = sndSgbufGetAddr(dmab, offset);
      const length = sndSgbufGetChunkSize(dmab, offset, bufferBytes - offset);
      writel(chip, PCM_REG_SEG_INDEX, index);
      writel(chip, PCM_REG_SEG_ADDR_LO, lower32Bits(addr));
      writel(chip, PCM_REG_SEG_ADDR_HI, upper32Bits(addr));
      writel(chip, PCM_REG_SEG_LEN, length);
      offset += length;
    }
    writel(chip, PCM_REG_SEG_COUNT, index);
    writel(chip, PCM_REG_CBL, bufferBytes);
    writel(chip, PCM_REG_PERIOD, runtime.framesToBytes(runtime.periodSize));
    writel(chip, PCM_REG_RATE, runtime.rate);
    writel(chip, PCM_REG_FRAME_BYTES, runtime.frameBytes);
    return 0;
  },
  trigger(substream, cmd) {
    const chip = chipOf(substream);
    writel(chip, PCM_REG_CTL, cmd === 'start' ? PCM_CTL_RUN | PCM_CTL_IE : 0);
    return 0;
  },
  pointer(substream) {
    const runtime = substream.runtime;
    return runtime === null ? 0 : runtime.bytesToFrames(readl(chipOf(substream), PCM_REG_LPIB));
  },
};

/** The stream interrupt: acknowledge, then tell the PCM core (or stop it on a DMA error). */
function streamInterrupt(chip: StreamChip): void {
  const sts = readl(chip, PCM_REG_STS);
  if (sts === 0) return;
  writel(chip, PCM_REG_STS, sts);
  const runtime = chip.substream.runtime;
  if ((sts & PCM_STS_DESE) !== 0) {
    if (runtime !== null) sndPcmXrun(chip.substream, runtime);
    return;
  }
  if ((sts & PCM_STS_BCIS) !== 0) sndPcmPeriodElapsed(chip.substream);
}

/**
 * The probe of the simulated card on `dev`: a card, one PCM device with a playback and a capture
 * substream on managed buffers of `options.type`, and a DMA engine behind each.
 */
export function createPcmDmaCard(dev: Device, options: PcmDmaCardOptions = {}): PcmDmaCard {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const type = options.type ?? SNDRV_DMA_TYPE_DEV_WC;
  const preallocBytes = options.preallocBytes ?? 64 * 1024;
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  checkInt(preallocBytes, 'options.preallocBytes');
  checkInt(maxBytes, 'options.maxBytes');
  // The engine's segment length register is 32 bits wide: say so (`dma_set_max_seg_size`), or
  // a NONCONTIG buffer longer than the default 64 KiB is a segment the device "cannot take".
  dmaSetMaxSegSize(dev, 2 ** 32 - 1);
  const card = sndCardNew(dev, 'kdma-pcm');
  const pcm = sndPcmNew(card, 'kdma-pcm', 0, {
    playback: options.playback === false ? 0 : 1,
    capture: options.capture === false ? 0 : 1,
    ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
  });
  const engines: { playback: PcmDmaEngine | null; capture: PcmDmaEngine | null } = { playback: null, capture: null };
  for (const stream of [SNDRV_PCM_STREAM_PLAYBACK, SNDRV_PCM_STREAM_CAPTURE] as const) {
    const substream = pcm.substream(stream);
    if (substream === null) continue;
    const playback = stream === SNDRV_PCM_STREAM_PLAYBACK;
    const engine = new PcmDmaEngine(dev, {
      direction: playback ? 'playback' : 'capture',
      ...(options.sink === undefined ? {} : { sink: options.sink }),
      ...(options.source === undefined ? {} : { source: options.source }),
    });
    const chip: StreamChip = { engine, substream };
    substream.privateData = chip;
    engine.requestIrq(() => streamInterrupt(chip));
    sndPcmSetOps(pcm, stream, ops);
    const err = sndPcmSetManagedBuffer(substream, type, dev, preallocBytes, maxBytes);
    if (err < 0) {
      sndCardFree(card);
      throw new Error(`createPcmDmaCard: preallocating ${preallocBytes} bytes failed (${err})`);
    }
    if (playback) engines.playback = engine;
    else engines.capture = engine;
  }
  return {
    card,
    pcm,
    playback: pcm.playback,
    capture: pcm.capture,
    engines,
    free: () => sndCardFree(card),
  };
}
