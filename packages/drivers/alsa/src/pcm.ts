import type { Device } from '@kdma/dma-mapping';
import { checkInt, describeValue } from './args.js';
import { SndPcmSubstream } from './pcm-native.js';
import { SNDRV_PCM_STREAM_CAPTURE, SNDRV_PCM_STREAM_PLAYBACK, type SndPcmHwParams, type SndPcmStream } from './pcm-runtime.js';

/*
 * sound/core/init.c and pcm.c: a card, its PCM devices and their substreams, and the operations a
 * card driver gives the PCM core (`struct snd_pcm_ops`).
 */

/**
 * Steps the shim leaves out on purpose, to show what the machine catches:
 * - `'no-wmb'`: the user-space side commits samples written through its (write-combined on ARM)
 *   mapping without the write barrier that orders them before the new `appl_ptr`: the device can
 *   read the last ones from memory before they leave the write buffer.
 * - `'no-sync-for-device'`: `SNDRV_DMA_SYNC_DEVICE` is skipped: on a non-coherent machine the
 *   device reads a NONCONTIG/DEV_SG playback buffer while the samples sit in dirty cache lines
 *   (and dma-debug sees the device touch a buffer the CPU owns).
 * - `'no-sync-for-cpu'`: `SNDRV_DMA_SYNC_CPU` is skipped: the CPU reads captured samples it has
 *   not taken back (dma-debug: the CPU touches a buffer the device owns).
 */
export type AlsaBug = 'no-wmb' | 'no-sync-for-device' | 'no-sync-for-cpu';

const ALSA_BUGS: readonly AlsaBug[] = ['no-wmb', 'no-sync-for-device', 'no-sync-for-cpu'];

/** Validates a `bugs` option: a list of known bug names. */
export function checkAlsaBugs(bugs: unknown): ReadonlySet<AlsaBug> {
  if (bugs === undefined) return new Set();
  if (!Array.isArray(bugs)) throw new TypeError(`bugs must be an array of ${ALSA_BUGS.join(', ')}, got ${describeValue(bugs)}`);
  for (const bug of bugs) {
    if (!ALSA_BUGS.includes(bug as AlsaBug)) throw new RangeError(`bugs: unknown bug ${describeValue(bug)} (known: ${ALSA_BUGS.join(', ')})`);
  }
  return new Set(bugs as AlsaBug[]);
}

/** `struct snd_pcm_ops`: each returns 0 or a negative errno, `pointer` the position in frames. */
export interface SndPcmOps {
  open?(substream: SndPcmSubstream): number;
  close?(substream: SndPcmSubstream): number;
  hwParams?(substream: SndPcmSubstream, params: SndPcmHwParams): number;
  hwFree?(substream: SndPcmSubstream): number;
  prepare?(substream: SndPcmSubstream): number;
  /** `SNDRV_PCM_TRIGGER_START` / `_STOP`: called with the stream lock held, in any context. */
  trigger(substream: SndPcmSubstream, cmd: 'start' | 'stop'): number;
  /** The hardware position in the ring, in frames (`SNDRV_PCM_POS_XRUN` for an xrun). */
  pointer(substream: SndPcmSubstream): number;
  /** Called when `appl_ptr` moves (drivers whose hardware must be told). */
  ack?(substream: SndPcmSubstream): number;
}

/** `struct snd_card`. */
export class SndCard {
  readonly dev: Device;
  readonly id: string;
  readonly pcms: SndPcm[] = [];
  /** `card->private_data`. */
  privateData: unknown = null;

  constructor(dev: Device, id: string) {
    this.dev = dev;
    this.id = id;
  }

  /** The machine the card's device sits on. */
  get machine() {
    return this.dev.machine;
  }
}

/** `snd_card_new`: a card for `dev`. */
export function sndCardNew(dev: Device, id: string): SndCard {
  if (typeof dev !== 'object' || dev === null || typeof (dev as Partial<Device>).machine !== 'object') {
    throw new TypeError(`dev must be a Device from machine.createDevice, got ${describeValue(dev)}`);
  }
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`id must be a non-empty string, got ${describeValue(id)}`);
  return new SndCard(dev, id);
}

/**
 * `snd_card_free`: closes what is open and frees every preallocated buffer, so that the device
 * can be removed with nothing left mapped.
 */
export function sndCardFree(card: SndCard): void {
  for (const pcm of card.pcms) {
    for (const substream of pcm.substreams()) {
      if (substream.runtime !== null) substream.close();
      substream.preallocateFree();
    }
  }
  card.pcms.length = 0;
}

/** Options of `sndPcmNew`. */
export interface SndPcmNewOptions {
  /** Playback substreams (0 or 1 here). */
  readonly playback?: number;
  /** Capture substreams (0 or 1 here). */
  readonly capture?: number;
  /** Steps to leave out on purpose (see `AlsaBug`). */
  readonly bugs?: readonly AlsaBug[];
}

/** `struct snd_pcm`: one PCM device with a playback and/or a capture substream. */
export class SndPcm {
  readonly card: SndCard;
  readonly id: string;
  readonly device: number;
  readonly playback: SndPcmSubstream | null;
  readonly capture: SndPcmSubstream | null;
  readonly bugs: ReadonlySet<AlsaBug>;
  /** `pcm->private_data`. */
  privateData: unknown = null;

  constructor(card: SndCard, id: string, device: number, options: SndPcmNewOptions) {
    const playback = options.playback ?? 1;
    const capture = options.capture ?? 1;
    checkInt(playback, 'options.playback', 0, 1);
    checkInt(capture, 'options.capture', 0, 1);
    this.card = card;
    this.id = id;
    this.device = device;
    this.bugs = checkAlsaBugs(options.bugs);
    this.playback = playback === 1 ? new SndPcmSubstream(this, SNDRV_PCM_STREAM_PLAYBACK) : null;
    this.capture = capture === 1 ? new SndPcmSubstream(this, SNDRV_PCM_STREAM_CAPTURE) : null;
  }

  /** The substreams that exist. */
  substreams(): SndPcmSubstream[] {
    return [this.playback, this.capture].filter((s): s is SndPcmSubstream => s !== null);
  }

  /** The substream of a direction, or null. */
  substream(stream: SndPcmStream): SndPcmSubstream | null {
    return stream === SNDRV_PCM_STREAM_PLAYBACK ? this.playback : this.capture;
  }
}

/** `snd_pcm_new`: PCM device number `device` of `card`. */
export function sndPcmNew(card: SndCard, id: string, device: number, options: SndPcmNewOptions = {}): SndPcm {
  if (!(card instanceof SndCard)) throw new TypeError(`card must be an SndCard from sndCardNew, got ${describeValue(card)}`);
  checkInt(device, 'device', 0, 31);
  if (card.pcms.some((p) => p.device === device)) throw new RangeError(`device: card ${card.id} already has PCM device ${device}`);
  const pcm = new SndPcm(card, id, device, options);
  card.pcms.push(pcm);
  return pcm;
}

/** `snd_pcm_set_ops`: the driver's operations for one direction. */
export function sndPcmSetOps(pcm: SndPcm, stream: SndPcmStream, ops: SndPcmOps): void {
  if (typeof ops !== 'object' || ops === null || typeof ops.trigger !== 'function' || typeof ops.pointer !== 'function') {
    throw new TypeError('ops must be an SndPcmOps with at least trigger and pointer');
  }
  const substream = pcm.substream(stream);
  if (substream !== null) substream.ops = ops;
}
