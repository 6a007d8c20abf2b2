import type { Device } from '@kdma/dma-mapping';
import { checkInteger, describe, DmaFault } from '@kdma/hw';

/*
 * The simulated hardware: one stream of an audio DMA controller, in the manner of an HD-audio
 * stream descriptor. The driver programs the ring as a list of bus segments (contiguous buffers
 * are one segment; scattered ones one per DMA-contiguous run), the ring length, the period, and the
 * rate; once RUN is set the engine moves one period per period time by DMA — reading it from the
 * ring (playback, `dmaReadInto`) or writing one there (capture, `dmaWrite`) — advances its
 * position register (LPIB) and raises the buffer-completion interrupt. Time is the machine's clock.
 */

/** Control: bit 0 RUN, bit 1 IE (interrupt enable), bit 2 SRST (reset position and status). */
export const PCM_REG_CTL = 0x00;
/** Status, write 1 to clear: bit 0 BCIS (a period completed), bit 1 DESE (a DMA access faulted). */
export const PCM_REG_STS = 0x04;
/** Link position in buffer: the byte offset of the next period (read-only). */
export const PCM_REG_LPIB = 0x08;
/** Cyclic buffer length in bytes. */
export const PCM_REG_CBL = 0x0c;
/** Period length in bytes. */
export const PCM_REG_PERIOD = 0x10;
/** Frames per second. */
export const PCM_REG_RATE = 0x14;
/** Bytes per frame. */
export const PCM_REG_FRAME_BYTES = 0x18;
/** Segment table: index to program, bus address (low, high 32 bits), length (writing it commits). */
export const PCM_REG_SEG_INDEX = 0x20;
export const PCM_REG_SEG_ADDR_LO = 0x24;
export const PCM_REG_SEG_ADDR_HI = 0x28;
export const PCM_REG_SEG_LEN = 0x2c;
/** Number of valid segments. */
export const PCM_REG_SEG_COUNT = 0x30;

export const PCM_CTL_RUN = 0x1;
export const PCM_CTL_IE = 0x2;
export const PCM_CTL_SRST = 0x4;
export const PCM_STS_BCIS = 0x1;
export const PCM_STS_DESE = 0x2;

/** Receives each period the playback engine read, with its offset in the stream. */
export type PcmPlaybackSink = (period: Uint8Array, streamOffset: number) => void;
/** Fills `target` with the samples at `streamOffset` of the captured stream. */
export type PcmCaptureSource = (target: Uint8Array, streamOffset: number) => void;

export interface PcmDmaEngineOptions {
  readonly direction: 'playback' | 'capture';
  /** Playback: where the samples go (the DAC). Default: discarded. */
  readonly sink?: PcmPlaybackSink;
  /** Capture: where the samples come from (the ADC). Default: `createCapturePattern(1)`. */
  readonly source?: PcmCaptureSource;
  /** The CPU the interrupt is routed to (default 0). */
  readonly irqCpu?: number;
}

/**
 * A deterministic test signal: a 65 521-byte pseudo-random table repeated (a prime length, so it
 * never lines up with periods or buffers). The same `seed` gives the same stream.
 */
export function createCapturePattern(seed: number): PcmCaptureSource {
  checkInteger(seed, 'seed', 0, 2 ** 32 - 1);
  const length = 65521;
  const table = new Uint8Array(length);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32 on a 32-bit value (not an address)
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    table[i] = x & 0xff;
  }
  return (target, streamOffset) => {
    let pos = 0;
    let src = streamOffset % length;
    while (pos < target.length) {
      const n = Math.min(target.length - pos, length - src);
      target.set(table.subarray(src, src + n), pos);
      pos += n;
      src = 0;
    }
  };
}

export class PcmDmaEngine {
  readonly dev: Device;
  readonly direction: 'playback' | 'capture';
  /** DMA faults the engine met (each stops the stream with DESE). */
  readonly faults: DmaFault[] = [];
  /** Periods moved since power-on. */
  periodsDone = 0;
  private readonly sink: PcmPlaybackSink | null;
  private readonly source: PcmCaptureSource | null;
  private readonly irqCpu: number;
  private irqHandler: (() => void) | null = null;

  private ctl = 0;
  private sts = 0;
  private lpib = 0;
  private cbl = 0;
  private period = 0;
  private rate = 0;
  private frameBytes = 0;
  private segIndex = 0;
  private segAddrLo = 0;
  private segAddrHi = 0;
  private segCount = 0;
  /** Programmed segments: bus address, length, and byte offset in the ring of each. */
  private segAddr: number[] = [];
  private segLen: number[] = [];
  private segStart: number[] = [];
  private timer: number | null = null;
  private startedAt = 0;
  private ticks = 0;
  /** Bytes moved since the last RUN: the stream offset of the next period. */
  private streamOffset = 0;
  private scratch = new Uint8Array(0);

  constructor(dev: Device, options: PcmDmaEngineOptions) {
    if (options.direction !== 'playback' && options.direction !== 'capture') {
      throw new RangeError(`options.direction must be 'playback' or 'capture', got ${describe(options.direction)}`);
    }
    this.dev = dev;
    this.direction = options.direction;
    this.sink = options.sink ?? null;
    this.source = options.direction === 'capture' ? (options.source ?? createCapturePattern(1)) : null;
    this.irqCpu = options.irqCpu ?? 0;
    checkInteger(this.irqCpu, 'options.irqCpu', 0, dev.machine.hw.cpus.length - 1);
  }

  /** `request_irq`: the driver's interrupt handler. */
  requestIrq(handler: () => void): void {
    this.irqHandler = handler;
  }

  /** An MMIO load of a 32-bit register. */
  readReg(reg: number): number {
    switch (reg) {
      case PCM_REG_CTL:
        return this.ctl;
      case PCM_REG_STS:
        return this.sts;
      case PCM_REG_LPIB:
        return this.lpib;
      case PCM_REG_CBL:
        return this.cbl;
      case PCM_REG_PERIOD:
        return this.period;
      case PCM_REG_RATE:
        return this.rate;
      case PCM_REG_FRAME_BYTES:
        return this.frameBytes;
      case PCM_REG_SEG_COUNT:
        return this.segCount;
      default:
        return 0;
    }
  }

  /** An MMIO store of a 32-bit register. */
  writeReg(reg: number, value: number): void {
    checkInteger(value, 'value', 0, 2 ** 32 - 1);
    switch (reg) {
      case PCM_REG_CTL:
        this.writeCtl(value);
        break;
      case PCM_REG_STS:
        this.sts = this.sts & ~value;
        break;
      case PCM_REG_CBL:
        this.cbl = value;
        break;
      case PCM_REG_PERIOD:
        this.period = value;
        break;
      case PCM_REG_RATE:
        this.rate = value;
        break;
      case PCM_REG_FRAME_BYTES:
        this.frameBytes = value;
        break;
      case PCM_REG_SEG_INDEX:
        this.segIndex = value;
        break;
      case PCM_REG_SEG_ADDR_LO:
        this.segAddrLo = value;
        break;
      case PCM_REG_SEG_ADDR_HI:
        this.segAddrHi = value;
        break;
      case PCM_REG_SEG_LEN:
        this.segAddr[this.segIndex] = this.segAddrHi * 2 ** 32 + this.segAddrLo;
        this.segLen[this.segIndex] = value;
        break;
      case PCM_REG_SEG_COUNT:
        this.segCount = value;
        break;
      default:
        break;
    }
  }

  private writeCtl(value: number): void {
    const wasRunning = (this.ctl & PCM_CTL_RUN) !== 0;
    this.ctl = value & (PCM_CTL_RUN | PCM_CTL_IE);
    if ((value & PCM_CTL_SRST) !== 0) {
      this.lpib = 0;
      this.sts = 0;
    }
    const running = (this.ctl & PCM_CTL_RUN) !== 0;
    if (running && !wasRunning) this.start();
    else if (!running && wasRunning) this.stop();
  }

  private start(): void {
    // Latch the segment table: each segment's offset in the ring.
    this.segStart = [];
    let offset = 0;
    for (let i = 0; i < this.segCount; i++) {
      this.segStart.push(offset);
      offset += this.segLen[i] ?? 0;
    }
    if (this.period === 0 || this.rate === 0 || this.frameBytes === 0 || this.cbl === 0 || offset < this.cbl || this.cbl % this.period !== 0) {
      this.sts |= PCM_STS_DESE;
      this.ctl &= ~PCM_CTL_RUN;
      return;
    }
    if (this.scratch.length !== this.period) this.scratch = new Uint8Array(this.period);
    this.startedAt = this.dev.machine.clock.now();
    this.ticks = 0;
    this.streamOffset = 0;
    this.schedule();
  }

  private stop(): void {
    if (this.timer !== null) this.dev.machine.clock.cancelTimer(this.timer);
    this.timer = null;
  }

  /** The next period completes (period frames / rate) after the previous one, on exact times. */
  private schedule(): void {
    const clock = this.dev.machine.clock;
    const periodFrames = this.period / this.frameBytes;
    const due = this.startedAt + Math.round(((this.ticks + 1) * periodFrames * 1e9) / this.rate);
    this.timer = clock.setTimer(Math.max(0, due - clock.now()), this.tick);
  }

  /** The period timer's callback (made once). */
  private readonly tick = (): void => {
    this.timer = null;
    this.ticks++;
    try {
      this.movePeriod(this.lpib);
    } catch (error) {
      if (!(error instanceof DmaFault)) throw error;
      this.faults.push(error);
      this.sts |= PCM_STS_DESE;
      this.ctl &= ~PCM_CTL_RUN;
      this.raiseIrq();
      return;
    }
    this.periodsDone++;
    this.streamOffset += this.period;
    this.lpib = (this.lpib + this.period) % this.cbl;
    this.sts |= PCM_STS_BCIS;
    this.raiseIrq();
    if ((this.ctl & PCM_CTL_RUN) !== 0 && this.timer === null) this.schedule();
  };

  private raiseIrq(): void {
    const handler = this.irqHandler;
    if ((this.ctl & PCM_CTL_IE) === 0 || handler === null) return;
    this.dev.machine.runOn(this.irqCpu, handler);
  }

  /** One period at ring offset `at`, split where the segments split. */
  private movePeriod(at: number): void {
    const hw = this.dev.hw;
    const buf = this.scratch;
    this.source?.(buf, this.streamOffset);
    let done = 0;
    let seg = this.segmentAt(at);
    while (done < buf.length) {
      const segStart = this.segStart[seg] as number;
      const pos = at + done;
      const n = Math.min(buf.length - done, segStart + (this.segLen[seg] as number) - pos);
      const bus = (this.segAddr[seg] as number) + (pos - segStart);
      if (this.direction === 'playback') hw.dmaReadInto(bus, buf, done, n);
      else hw.dmaWrite(bus, buf, done, n);
      done += n;
      seg++;
    }
    if (this.direction === 'playback') this.sink?.(buf, this.streamOffset);
  }

  private segmentAt(offset: number): number {
    let lo = 0;
    let hi = this.segCount - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((this.segStart[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
