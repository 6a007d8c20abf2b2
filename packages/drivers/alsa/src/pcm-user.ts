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
    return this.onCpu(() => {
      const err = this.substream.syncPtr({ hwsync: true });
      return err < 0 ? err : this.substream.avail();
    });
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
    return this.onCpu(() => {
      const machine = this.substream.machine;
      if (!this.substream.pcm.bugs.has('no-wmb')) {
        if (this.substream.stream === SNDRV_PCM_STREAM_PLAYBACK) machine.cpu.wmb();
        else machine.cpu.mb();
      }
      let appl = runtime.applPtr + frames;
      if (appl >= runtime.boundary) appl -= runtime.boundary;
      const err = this.substream.syncPtr({ applPtr: appl });
      return err < 0 ? err : frames;
    });
  }

  /**
   * `snd_pcm_mmap_writei` of as many whole frames of `bytes` as there is room for: the frames
   * written (0 when the ring is full), or a negative errno.
   */
  writeFrames(bytes: Uint8Array): number {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    const runtime = this.runtime;
    if (bytes.length % runtime.frameBytes !== 0) throw new RangeError(`bytes must be whole frames of ${runtime.frameBytes} bytes, got ${bytes.length}`);
    const avail = this.availUpdate();
    if (avail < 0) return avail;
    let todo = Math.min(bytes.length / runtime.frameBytes, avail);
    let done = 0;
    while (todo > 0) {
      const area = this.mmapBegin(todo);
      const from = runtime.framesToBytes(done);
      const chunk = bytes.subarray(from, from + runtime.framesToBytes(area.frames));
      this.onCpu(() => this.process.write(area.uva, chunk));
      const err = this.mmapCommit(area.offset, area.frames);
      if (err < 0) return err;
      done += area.frames;
      todo -= area.frames;
    }
    return done;
  }

  /** `snd_pcm_mmap_readi` into `target` (whole frames): the frames read, or a negative errno. */
  readFrames(target: Uint8Array): number {
    if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    const runtime = this.runtime;
    if (target.length % runtime.frameBytes !== 0) throw new RangeError(`target must be whole frames of ${runtime.frameBytes} bytes, got ${target.length}`);
    const avail = this.availUpdate();
    if (avail < 0) return avail;
    let todo = Math.min(target.length / runtime.frameBytes, avail);
    let done = 0;
    while (todo > 0) {
      const area = this.mmapBegin(todo);
      const from = runtime.framesToBytes(done);
      const chunk = target.subarray(from, from + runtime.framesToBytes(area.frames));
      this.onCpu(() => this.process.readInto(area.uva, chunk));
      const err = this.mmapCommit(area.offset, area.frames);
      if (err < 0) return err;
      done += area.frames;
      todo -= area.frames;
    }
    return done;
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
