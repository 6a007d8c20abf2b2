import type { Machine } from '@kdma/dma-mapping';
import { pattern } from '@kdma/testkit';
import { createCapturePattern, createPcmDmaCard, SndPcmUser, type AlsaBug, type PcmDmaCard, type SndDmaType } from '../index.js';

/*
 * Test helpers: a process streaming through the simulated card, as an application woken once per
 * period would (the clock advances a period at a time; the process tops the ring up or drains it).
 */

export interface StreamOptions {
  readonly type: SndDmaType;
  readonly bugs?: readonly AlsaBug[];
  /** Bytes to move in all (a multiple of `periodBytes`). */
  readonly totalBytes: number;
  readonly periodBytes?: number;
  readonly periods?: number;
  readonly rate?: number;
  /** The CPU the process runs on (default 1: not the one taking the interrupt). */
  readonly cpu?: number;
  readonly seed?: number;
  readonly preallocBytes?: number;
  /** Put the device behind the machine's IOMMU. */
  readonly iommu?: boolean;
}

export interface StreamResult {
  readonly card: PcmDmaCard;
  readonly user: SndPcmUser;
  /** What the process wrote (playback) or what the device recorded (capture). */
  readonly expected: Uint8Array;
  /** What the device played (playback) or what the process read (capture). */
  readonly actual: Uint8Array;
  /** The clock time the stream took, in ns. */
  readonly elapsedNs: number;
  /** The process's mapping type of the ring. */
  readonly pgprot: string;
}

function setup(machine: Machine, options: StreamOptions, playback: boolean, sink?: (p: Uint8Array, off: number) => void) {
  const dev = machine.createDevice({ name: playback ? 'snd-play' : 'snd-cap', ...(options.iommu === true ? { iommu: true } : {}) });
  const seed = options.seed ?? 3;
  const card = createPcmDmaCard(dev, {
    type: options.type,
    playback,
    capture: !playback,
    ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
    ...(sink === undefined ? {} : { sink }),
    source: createCapturePattern(seed),
    ...(options.preallocBytes === undefined ? {} : { preallocBytes: options.preallocBytes }),
  });
  const substream = playback ? card.playback : card.capture;
  if (substream === null) throw new Error('no substream');
  const periodBytes = options.periodBytes ?? 4096;
  const periods = options.periods ?? 4;
  const rate = options.rate ?? 48000;
  expect0(substream.open(), 'open');
  expect0(substream.hwParams({ rate, channels: 2, format: 'S16_LE', periodBytes, periods }), 'hwParams');
  expect0(substream.prepare(), 'prepare');
  const user = new SndPcmUser(substream, machine.createProcess(), { cpu: options.cpu ?? 1 });
  const periodNs = Math.ceil((periodBytes / 4) * 1e9 / rate);
  return { card, substream, user, periodNs, seed };
}

function expect0(err: number, what: string): void {
  if (err !== 0) throw new Error(`${what} failed: ${err}`);
}

/** Plays `totalBytes` of a pattern through the ring and returns what the device played. */
export function runPlayback(machine: Machine, options: StreamOptions): StreamResult {
  const total = options.totalBytes;
  const played = new Uint8Array(total);
  let playedBytes = 0;
  const { card, substream, user, periodNs, seed } = setup(machine, options, true, (period, offset) => {
    if (offset + period.length <= total) played.set(period, offset);
    playedBytes = Math.max(playedBytes, offset + period.length);
  });
  const data = pattern(total, seed);
  const t0 = machine.clock.now();
  let written = 0;
  const top = () => {
    const n = user.writeFrames(data.subarray(written));
    if (n < 0) throw new Error(`writeFrames: ${n} (state ${substream.state})`);
    written += n * 4;
  };
  top();
  expect0(user.start(), 'start');
  for (let guard = 0; written < total; guard++) {
    if (guard > (4 * total) / 1024) throw new Error(`playback stalled at ${written} (state ${substream.state})`);
    machine.clock.advance(periodNs);
    top();
  }
  expect0(user.drain(), 'drain');
  for (let guard = 0; substream.state === 'DRAINING'; guard++) {
    if (guard > 64) throw new Error('drain did not finish');
    machine.clock.advance(periodNs);
  }
  return {
    card,
    user,
    expected: data,
    actual: played.subarray(0, Math.min(total, playedBytes)),
    elapsedNs: machine.clock.now() - t0,
    pgprot: user.process.pgprotAt(user.uva),
  };
}

/** Records `totalBytes` through the ring and returns what the process read. */
export function runCapture(machine: Machine, options: StreamOptions): StreamResult {
  const total = options.totalBytes;
  const { card, substream, user, periodNs, seed } = setup(machine, options, false);
  const expected = new Uint8Array(total);
  createCapturePattern(seed)(expected, 0);
  const got = new Uint8Array(total);
  const t0 = machine.clock.now();
  let read = 0;
  expect0(user.start(), 'start');
  for (let guard = 0; read < total; guard++) {
    if (guard > (4 * total) / 1024) throw new Error(`capture stalled at ${read} (state ${substream.state})`);
    machine.clock.advance(periodNs);
    const n = user.readFrames(got.subarray(read));
    if (n < 0) throw new Error(`readFrames: ${n} (state ${substream.state})`);
    read += n * 4;
  }
  expect0(user.drop(), 'drop');
  return { card, user, expected, actual: got, elapsedNs: machine.clock.now() - t0, pgprot: user.process.pgprotAt(user.uva) };
}

/** Unmaps, closes and frees everything, then unbinds the device. */
export function teardown(machine: Machine, result: StreamResult): void {
  result.user.unmap();
  result.card.free();
  machine.removeDevice(result.card.card.dev);
}
