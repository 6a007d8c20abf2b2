import type { Process } from '@kdma/mm';
import { checkInt, describeValue } from './args.js';
import { EINVAL } from './errno.js';
import { SndPcmSubstream } from './pcm-native.js';
import { SNDRV_PCM_STREAM_PLAYBACK } from './pcm-runtime.js';

/*
 * The user-space side of an mmap stream, as alsa-lib's hw plugin drives it (pcm_hw.c, pcm_mmap.c):
 * map the ring, ask where the hardware is (`snd_pcm_avail_update`), write or read frames in place
 * (`snd_pcm_mmap_begin`), and publish the new application pointer (`snd_pcm_mmap_commit`, which
 * reaches the kernel as SYNC_PTR).
 *
 * The barrier. Samples go into the ring with plain user stores; on ARM the ring is write-combined
 * (`DEV_WC`) or bufferable (`DEV`, `pgprot_dmacoherent`), so those stores wait in the CPU's write
 * buffer. What makes them reach memory before the device reads them is a write barrier between
 * the last sample store and the publication of `appl_ptr` — the release ordering any ring
 * producer needs (a DMB is not enough for a bus master outside the inner-shareable domain; `wmb()`
 * is a DSB on ARMv7). Real write buffers also drain on their own within microseconds; the model's
 * drains only at a barrier or when full, so the barrier the protocol needs is made explicit here,
 * on the process's CPU, before SYNC_PTR. The `'no-wmb'` bug leaves it out. The process should run
 * on a CPU other than the one taking the period interrupt (`cpu: 1`): the handler's `writel`
 * carries a barrier of its own that would drain a buffer it shares.
 */

/** SYNC_PTR's request for `snd_pcm_avail_update` (never written: one object serves every call). */
const HWSYNC_REQUEST = Object.freeze({ hwsync: true });
const NO_BYTES = new Uint8Array(0);

/** Options of the user side. */
export interface SndPcmUserOptions {
  /** The CPU the process runs on (its stores wait in that CPU's write buffer). Default 0. */
  readonly cpu?: number;
}

/** `snd_pcm_mmap_begin`'s answer: where in the ring, and how many frames are contiguous there. */
export interface SndPcmMmapArea {
  /** Frame offset in the ring. */
  readonly offset: number;
  /** Contiguous frames available from `offset`. */
  readonly frames: number;
  /** The user address of `offset`. */
  readonly uva: number;
}

/** A process using a substream through an mmap of its ring. */
export class SndPcmUser {
  readonly substream: SndPcmSubstream;
  readonly process: Process;
  readonly cpu: number;
  /** The user address of the ring. */
  readonly uva: number;
  /** Bytes mapped. */
  readonly length: number;

  // What the calls made on the process's CPU work on: set before `runOn`, so that the functions
  // it runs are made once here rather than as closures per call.
  private readonly applRequest = { applPtr: 0 };
  private commitFrames = 0;
  private ioUva = 0;
  private ioBytes: Uint8Array = NO_BYTES;
  private readonly availUpdateOnCpu = (): number => {
    const err = this.substream.syncPtr(HWSYNC_REQUEST);
    return err < 0 ? err : this.substream.avail();
  };
  private readonly commitOnCpu = (): number => {
    if (!this.substream.pcm.bugs.has('no-wmb')) {
      const cpu = this.substream.machine.cpu;
      if (this.substream.stream === SNDRV_PCM_STREAM_PLAYBACK) cpu.wmb();
      else cpu.mb();
    }
    const err = this.substream.syncPtr(this.applRequest);
    return err < 0 ? err : this.commitFrames;
  };
  private readonly writeOnCpu = (): void => this.process.write(this.ioUva, this.ioBytes);
  private readonly readOnCpu = (): void => this.process.readInto(this.ioUva, this.ioBytes);

  /** Maps the ring of an open substream whose hw_params are set (throws `MmapError` if refused). */
  constructor(substream: SndPcmSubstream, process: Process, options: SndPcmUserOptions = {}) {
    if (!(substream instanceof SndPcmSubstream)) throw new TypeError(`substream must be an SndPcmSubstream, got ${describeValue(substream)}`);
    const machine = substream.machine;
    const cpu = options.cpu ?? 0;
    checkInt(cpu, 'options.cpu', 0, machine.hw.cpus.length - 1);
    this.substream = substream;
    this.process = process;
    this.cpu = cpu;
    this.uva = machine.runOn(cpu, () => substream.mmap(process));
    this.length = substream.runtime?.dmaBytes ?? 0;
  }

  private get runtime() {
    const runtime = this.substream.runtime;
    if (runtime === null) throw new Error('the substream is closed');
    return runtime;
  }

  private onCpu<T>(fn: () => T): T {
    return this.substream.machine.runOn(this.cpu, fn);
  }

  /** `snd_pcm_avail_update`: SYNC_PTR with HWSYNC; the frames available, or a negative errno. */
  availUpdate(): number {
    return this.onCpu(this.availUpdateOnCpu);
  }

  /** `snd_pcm_mmap_begin`: the contiguous area at `appl_ptr`, at most `frames` long. */
  mmapBegin(frames: number): SndPcmMmapArea {
    checkInt(frames, 'frames');
    const runtime = this.runtime;
    const offset = runtime.applPtr % runtime.bufferSize;
    const n = Math.min(frames, this.substream.avail(), runtime.bufferSize - offset);
    return { offset, frames: n, uva: this.uva + runtime.framesToBytes(offset) };
  }

  /**
   * `snd_pcm_mmap_commit`: the barrier that makes the frames visible (see above), then the new
   * `appl_ptr` through SYNC_PTR. The frames committed, or a negative errno.
   */
  mmapCommit(offset: number, frames: number): number {
    checkInt(offset, 'offset');
    checkInt(frames, 'frames');
    const runtime = this.runtime;
    if (offset !== runtime.applPtr % runtime.bufferSize) return -EINVAL;
    let appl = runtime.applPtr + frames;
    if (appl >= runtime.boundary) appl -= runtime.boundary;
    this.applRequest.applPtr = appl;
    this.commitFrames = frames;
    return this.onCpu(this.commitOnCpu);
  }

  /** Copies `bytes` to, or into them from, the ring at `uva` on the process's CPU. */
  private copyOnCpu(uva: number, bytes: Uint8Array, write: boolean): void {
    this.ioUva = uva;
    this.ioBytes = bytes;
    try {
      this.onCpu(write ? this.writeOnCpu : this.readOnCpu);
    } finally {
      this.ioBytes = NO_BYTES;
    }
  }

  /** `snd_pcm_mmap_{writei,readi}`: whole frames between `bytes` and the ring, as room allows. */
  private transfer(bytes: Uint8Array, write: boolean): number {
    const runtime = this.runtime;
    const avail = this.availUpdate();
    if (avail < 0) return avail;
    let todo = Math.min(bytes.length / runtime.frameBytes, avail);
    let done = 0;
    while (todo > 0) {
      // snd_pcm_mmap_begin, without the area object.
      const offset = runtime.applPtr % runtime.bufferSize;
      const frames = Math.min(todo, this.substream.avail(), runtime.bufferSize - offset);
      const from = runtime.framesToBytes(done);
      const length = runtime.framesToBytes(frames);
      this.copyOnCpu(this.uva + runtime.framesToBytes(offset), from === 0 && length === bytes.length ? bytes : bytes.subarray(from, from + length), write);
      const err = this.mmapCommit(offset, frames);
      if (err < 0) return err;
      done += frames;
      todo -= frames;
    }
    return done;
  }

  /**
   * `snd_pcm_mmap_writei` of as many whole frames of `bytes` as there is room for: the frames
   * written (0 when the ring is full), or a negative errno.
   */
  writeFrames(bytes: Uint8Array): number {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    const runtime = this.runtime;
    if (bytes.length % runtime.frameBytes !== 0) throw new RangeError(`bytes must be whole frames of ${runtime.frameBytes} bytes, got ${bytes.length}`);
    return this.transfer(bytes, true);
  }

  /** `snd_pcm_mmap_readi` into `target` (whole frames): the frames read, or a negative errno. */
  readFrames(target: Uint8Array): number {
    if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    const runtime = this.runtime;
    if (target.length % runtime.frameBytes !== 0) throw new RangeError(`target must be whole frames of ${runtime.frameBytes} bytes, got ${target.length}`);
    return this.transfer(target, false);
  }

  /** `snd_pcm_start`. */
  start(): number {
    return this.onCpu(() => this.substream.trigger('start'));
  }

  /** `snd_pcm_drain`. */
  drain(): number {
    return this.onCpu(() => this.substream.drain());
  }

  /** `snd_pcm_drop`. */
  drop(): number {
    return this.onCpu(() => this.substream.trigger('stop'));
  }

  /** munmap() of the ring. */
  unmap(): void {
    this.process.munmap(this.uva, this.length);
  }
}
