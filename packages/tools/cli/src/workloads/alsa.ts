/**
 * An ALSA mmap stream through the simulated card: the process tops the ring up (playback) or
 * drains it (capture) once per period of machine time, as an application woken by poll() does.
 * Playback compares what the device played with what the process wrote; capture compares what
 * the process read with what the device recorded.
 */
import {
  createCapturePattern,
  createPcmDmaCard,
  SNDRV_DMA_TYPE_CONTINUOUS,
  SNDRV_DMA_TYPE_DEV,
  SNDRV_DMA_TYPE_DEV_SG,
  SNDRV_DMA_TYPE_DEV_WC,
  SNDRV_DMA_TYPE_NONCONTIG,
  SndPcmUser,
  type AlsaBug,
  type SndDmaType,
} from '@kdma/alsa';
import type { AlsaBufferType, AlsaWorkload } from '../scenario/types.js';
import { errorText, type WorkloadContext, type WorkloadResult } from './context.js';
import { firstDifference } from './pattern.js';

const TYPES: Readonly<Record<AlsaBufferType, SndDmaType>> = {
  CONTINUOUS: SNDRV_DMA_TYPE_CONTINUOUS,
  DEV: SNDRV_DMA_TYPE_DEV,
  DEV_WC: SNDRV_DMA_TYPE_DEV_WC,
  DEV_SG: SNDRV_DMA_TYPE_DEV_SG,
  NONCONTIG: SNDRV_DMA_TYPE_NONCONTIG,
};

function ok(err: number, what: string): void {
  if (err < 0) throw new Error(`${what} failed: ${err}`);
}

export function runAlsa(ctx: WorkloadContext, w: AlsaWorkload): WorkloadResult {
  const machine = ctx.machine;
  const dev = ctx.device(w.device);
  const playback = w.stream === 'playback';
  const total = w.periods * w.periodBytes;
  const frameBytes = 2 * w.channels;
  const seed = 3;
  const data = new Uint8Array(total);
  createCapturePattern(seed)(data, 0);
  const actual = new Uint8Array(total);
  let moved = 0;
  const card = createPcmDmaCard(dev, {
    type: TYPES[w.type],
    playback,
    capture: !playback,
    bugs: w.bugs as readonly AlsaBug[],
    preallocBytes: 0,
    sink: (period, offset) => {
      if (offset < total) actual.set(period.subarray(0, Math.min(period.length, total - offset)), offset);
      moved = Math.max(moved, Math.min(total, offset + period.length));
    },
    source: createCapturePattern(seed),
  });
  const substream = playback ? card.playback : card.capture;
  const label = `ALSA ${w.stream}, SNDRV_DMA_TYPE_${w.type}, ${w.periods} periods of ${w.periodBytes} bytes (${w.bufferPeriods}-period ring, ${w.rate} Hz)${w.bugs.length > 0 ? `, bugs: ${w.bugs.join(', ')}` : ''}`;
  const details: Record<string, number | string | boolean> = {};
  let error: string | null = null;
  let user: SndPcmUser | null = null;
  const periodNs = Math.ceil(((w.periodBytes / frameBytes) * 1e9) / w.rate);
  try {
    if (substream === null) throw new Error('the card has no such substream');
    ok(substream.open(), 'open');
    ok(substream.hwParams({ rate: w.rate, channels: w.channels, format: 'S16_LE', periodBytes: w.periodBytes, periods: w.bufferPeriods }), 'SNDRV_PCM_IOCTL_HW_PARAMS');
    ok(substream.prepare(), 'SNDRV_PCM_IOCTL_PREPARE');
    user = new SndPcmUser(substream, machine.createProcess(), { cpu: machine.hw.cpus.length > 1 ? 1 : 0 });
    details['userMapping'] = user.process.pgprotAt(user.uva);
    const u = user;
    let transferred = 0;
    const step = (): void => {
      const n = playback ? u.writeFrames(data.subarray(transferred)) : u.readFrames(actual.subarray(transferred));
      if (n < 0) throw new Error(`${playback ? 'snd_pcm_mmap_writei' : 'snd_pcm_mmap_readi'}: ${n} (state ${substream.state ?? 'closed'})`);
      transferred += n * frameBytes;
      ctx.progress(transferred / total);
    };
    if (playback) step();
    ok(u.start(), 'snd_pcm_start');
    ctx.peak();
    const limit = 4 * w.periods + 64;
    for (let guard = 0; transferred < total; guard++) {
      if (guard > limit) throw new Error(`the stream stalled after ${transferred} of ${total} bytes (state ${substream.state ?? 'closed'})`);
      machine.clock.advance(periodNs);
      step();
    }
    if (playback) {
      ok(u.drain(), 'snd_pcm_drain');
      for (let guard = 0; substream.state === 'DRAINING'; guard++) {
        if (guard > w.bufferPeriods + 8) throw new Error('drain did not finish');
        machine.clock.advance(periodNs);
      }
    } else {
      ok(u.drop(), 'snd_pcm_drop');
      moved = transferred;
    }
  } catch (err) {
    error = errorText(err);
  }
  const bad = firstDifference(actual.subarray(0, moved), data.subarray(0, moved));
  let good = 0;
  for (let p = 0; p < w.periods; p++) {
    const start = p * w.periodBytes;
    const end = start + w.periodBytes;
    if (end <= moved && firstDifference(actual.subarray(start, end), data.subarray(start, end)) === -1) good++;
  }
  if (bad >= 0) details['firstBadByte'] = bad;
  return {
    kind: 'alsa',
    device: w.device,
    label,
    intact: error === null && moved === total && bad === -1,
    unit: 'periods',
    done: Math.floor(moved / w.periodBytes),
    good,
    payloadBytes: moved,
    details,
    error,
    unbind: () => {
      user?.unmap();
      card.free();
    },
  };
}
