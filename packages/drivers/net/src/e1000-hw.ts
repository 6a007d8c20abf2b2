import type { Device } from '@kdma/dma-mapping';
import { checkInteger, describe, DmaFault } from '@kdma/hw';
import {
  descAddr,
  E1000_DESC_SIZE,
  E1000_ICR,
  E1000_ICR_RXO,
  E1000_ICR_RXT0,
  E1000_ICR_TXDW,
  E1000_IMC,
  E1000_IMS,
  E1000_RCTL,
  E1000_RCTL_EN,
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXD_ERR_RXE,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_TCTL,
  E1000_TCTL_EN,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_RS,
  E1000_TXD_STAT_DD,
  RX_DESC_ERRORS,
  RX_DESC_LENGTH,
  RX_DESC_STATUS,
  TX_DESC_CMD,
  TX_DESC_LENGTH,
  TX_DESC_STATUS,
  type E1000Mmio,
} from './e1000-hw-regs.js';

/*
 * The simulated NIC: the device side of an e1000-class MAC. Everything it knows about the driver's
 * memory it learns by DMA: it fetches descriptors from the rings in memory (so a descriptor the CPU
 * wrote but has not yet pushed out of its write buffer is read stale), writes received frames into
 * the buffers those descriptors name and writes the descriptors back with DD, reads the frames it
 * sends, and raises its interrupt — all on the machine's clock.
 *
 * Frames from the wire wait in an on-chip packet buffer (a byte FIFO, like the e1000's PBA) until
 * the receive DMA runs (`rxDelayNs` after a frame arrives or the driver bumps RDT) and there are
 * descriptors; a frame that does not fit is dropped and counted. Sent frames go to `onTransmit`.
 * Interrupts are moderated: at most one per `itrNs`.
 */

/** Receives each frame the NIC sent; the bytes are valid only during the call. */
export type E1000TransmitSink = (frame: Uint8Array) => void;

export interface E1000HwOptions {
  /** On-chip receive packet buffer (default 64 KiB). */
  readonly fifoBytes?: number;
  /** Delay from a frame's arrival (or an RDT write) to the receive DMA (default 2 µs). */
  readonly rxDelayNs?: number;
  /** Delay from a TDT write to the transmit DMA (default 1 µs). */
  readonly txDelayNs?: number;
  /** Interrupt throttling interval (default 10 µs: ITR of 100 000 interrupts/s). */
  readonly itrNs?: number;
  /** Where sent frames go (the wire). */
  readonly onTransmit?: E1000TransmitSink;
  /** The CPU interrupts are routed to (default 0). */
  readonly irqCpu?: number;
}

/** What the NIC counted. */
export interface E1000HwStats {
  /** Frames received from the wire and written to memory. */
  rxFrames: number;
  /** Frames dropped for want of FIFO room (the `RXO`/missed-packet count). */
  rxMissed: number;
  /** Frames too long for a receive buffer, dropped. */
  rxTooLong: number;
  /** Receive DMA accesses that faulted (the frame is reported with RXE). */
  rxDmaFaults: number;
  /** Frames sent. */
  txFrames: number;
  /** Transmit DMA accesses that faulted (the frame is lost). */
  txDmaFaults: number;
  /** Interrupts raised. */
  interrupts: number;
}

/** The buffer size the driver programs (RCTL.BSIZE); fixed at 2048 here, e1000's default. */
export const E1000_RX_BUFFER_SIZE = 2048;

/** Receive descriptors the NIC fetches (and writes back) per burst: its on-chip descriptor cache. */
const RX_DESC_CACHE = 64;

/** Largest frame the transmit engine gathers. */
const MAX_TX_FRAME = 16384;

export class E1000Hw implements E1000Mmio {
  readonly dev: Device;
  readonly stats: E1000HwStats = { rxFrames: 0, rxMissed: 0, rxTooLong: 0, rxDmaFaults: 0, txFrames: 0, txDmaFaults: 0, interrupts: 0 };
  /** Every DMA fault the NIC met, in order. */
  readonly faults: DmaFault[] = [];
  private readonly rxDelayNs: number;
  private readonly txDelayNs: number;
  private readonly itrNs: number;
  private readonly irqCpu: number;
  private onTransmit: E1000TransmitSink | null;
  private irqHandler: (() => void) | null = null;

  private readonly regs = new Map<number, number>();
  private icr = 0;
  private ims = 0;

  // The receive FIFO: frame bytes in a ring, frame lengths in a queue.
  private readonly fifo: Uint8Array;
  private fifoHead = 0;
  private fifoUsed = 0;
  private readonly fifoLengths: number[] = [];
  private fifoFirst = 0;

  private rxTimer: number | null = null;
  private txTimer: number | null = null;
  private irqTimer: number | null = null;
  private lastIrqAt = Number.NEGATIVE_INFINITY;

  private readonly desc = new Uint8Array(E1000_DESC_SIZE);
  private readonly descView = new DataView(this.desc.buffer);
  /** The on-chip receive descriptor cache: one burst of fetched descriptors, written back whole. */
  private readonly descCache = new Uint8Array(RX_DESC_CACHE * E1000_DESC_SIZE);
  private readonly descCacheView = new DataView(this.descCache.buffer);
  private readonly txFrame = new Uint8Array(MAX_TX_FRAME);
  private readonly ddByte = Uint8Array.of(E1000_TXD_STAT_DD);

  constructor(dev: Device, options: E1000HwOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const fifoBytes = options.fifoBytes ?? 64 * 1024;
    checkInteger(fifoBytes, 'options.fifoBytes', 2048, 2 ** 24);
    this.rxDelayNs = options.rxDelayNs ?? 2000;
    this.txDelayNs = options.txDelayNs ?? 1000;
    this.itrNs = options.itrNs ?? 10_000;
    this.irqCpu = options.irqCpu ?? 0;
    checkInteger(this.rxDelayNs, 'options.rxDelayNs');
    checkInteger(this.txDelayNs, 'options.txDelayNs');
    checkInteger(this.itrNs, 'options.itrNs');
    checkInteger(this.irqCpu, 'options.irqCpu', 0, dev.machine.hw.cpus.length - 1);
    this.dev = dev;
    this.fifo = new Uint8Array(fifoBytes);
    this.onTransmit = options.onTransmit ?? null;
  }

  /** `request_irq`: the driver's interrupt handler. */
  requestIrq(handler: () => void): void {
    this.irqHandler = handler;
  }

  /** Sets where sent frames go. */
  setTransmitSink(sink: E1000TransmitSink | null): void {
    this.onTransmit = sink;
  }

  // ---- MMIO

  /** A 32-bit register load; ICR clears on read. */
  readReg(reg: number): number {
    if (reg === E1000_ICR) {
      const icr = this.icr;
      this.icr = 0;
      return icr;
    }
    if (reg === E1000_IMS) return this.ims;
    return this.regs.get(reg) ?? 0;
  }

  /** A 32-bit register store. RDT and TDT are the doorbells. */
  writeReg(reg: number, value: number): void {
    checkInteger(value, 'value', 0, 2 ** 32 - 1);
    switch (reg) {
      case E1000_IMS:
        this.ims |= value;
        this.maybeInterrupt();
        return;
      case E1000_IMC:
        this.ims &= ~value;
        return;
      case E1000_ICR:
        this.icr &= ~value;
        return;
      default:
        this.regs.set(reg, value);
    }
    if (reg === E1000_RDT && this.fifoLengths.length > this.fifoFirst) this.scheduleRx();
    if (reg === E1000_TDT) this.scheduleTx();
  }

  // ---- the wire

  /**
   * A frame arrives from the wire. False when it was dropped (the receiver is off, or the packet
   * buffer is full); the frame is copied, so the caller may reuse `frame`.
   */
  receive(frame: Uint8Array): boolean {
    if (!(frame instanceof Uint8Array) || frame.length === 0) throw new TypeError('frame must be a non-empty Uint8Array');
    if ((this.reg(E1000_RCTL) & E1000_RCTL_EN) === 0 || frame.length > this.fifo.length - this.fifoUsed) {
      this.stats.rxMissed++;
      this.raise(E1000_ICR_RXO);
      return false;
    }
    const size = this.fifo.length;
    const tail = (this.fifoHead + this.fifoUsed) % size;
    if (frame.length <= size - tail) {
      this.fifo.set(frame, tail);
    } else {
      const first = size - tail;
      this.fifo.set(frame.subarray(0, first), tail);
      this.fifo.set(frame.subarray(first), 0);
    }
    this.fifoUsed += frame.length;
    this.fifoLengths.push(frame.length);
    this.scheduleRx();
    return true;
  }

  /** Frames waiting in the packet buffer. */
  get rxPending(): number {
    return this.fifoLengths.length - this.fifoFirst;
  }

  private reg(reg: number): number {
    return this.regs.get(reg) ?? 0;
  }

  private scheduleRx(): void {
    if (this.rxTimer !== null) return;
    this.rxTimer = this.dev.machine.clock.setTimer(this.rxDelayNs, this.rxTimerFired);
  }

  private scheduleTx(): void {
    if (this.txTimer !== null) return;
    this.txTimer = this.dev.machine.clock.setTimer(this.txDelayNs, this.txTimerFired);
  }

  // The timers' callbacks, made once.
  private readonly rxTimerFired = (): void => {
    this.rxTimer = null;
    this.receiveDma();
  };

  private readonly txTimerFired = (): void => {
    this.txTimer = null;
    this.transmitDma();
  };

  // ---- receive DMA

  /**
   * Moves frames from the packet buffer into the descriptors the driver gave, while there are
   * some. Descriptors are fetched in bursts (as many as there are frames waiting, up to the
   * on-chip descriptor cache and the ring's end) and written back in bursts once the burst's
   * frames are in memory, as the e1000's prefetch and write-back thresholds make it do: one DMA
   * read and one DMA write per burst, not per frame. The whole descriptor is written back, its
   * buffer address as it was fetched.
   */
  private receiveDma(): void {
    const count = this.reg(E1000_RDLEN) / E1000_DESC_SIZE;
    if ((this.reg(E1000_RCTL) & E1000_RCTL_EN) === 0 || count < 1) return;
    const base = this.reg(E1000_RDBAH) * 2 ** 32 + this.reg(E1000_RDBAL);
    let head = this.reg(E1000_RDH);
    const tail = this.reg(E1000_RDT) % count;
    const cache = this.descCache;
    const view = this.descCacheView;
    let wrote = 0;
    while (this.fifoLengths.length > this.fifoFirst && head !== tail) {
      // Descriptors the NIC owns up to the tail or the ring's end, no more than frames waiting.
      const owned = (tail > head ? tail : count) - head;
      const burst = Math.min(owned, this.fifoLengths.length - this.fifoFirst, RX_DESC_CACHE);
      const burstBus = base + head * E1000_DESC_SIZE;
      const bytes = burst * E1000_DESC_SIZE;
      // Fetch the descriptors the driver prepared: whatever memory holds now.
      if (!this.ringAccess(burstBus, cache, bytes, false, E1000_RCTL, E1000_RCTL_EN)) break;
      for (let k = 0; k < burst; k++) {
        const at = k * E1000_DESC_SIZE;
        const length = this.fifoLengths[this.fifoFirst] as number;
        const bufferBus = descAddr(view, at);
        let errors = 0;
        let written = length;
        if (length > E1000_RX_BUFFER_SIZE) {
          this.stats.rxTooLong++;
          errors = E1000_RXD_ERR_RXE;
          written = 0;
        } else {
          try {
            this.dmaFromFifo(bufferBus, length);
            this.stats.rxFrames++;
          } catch (error) {
            if (!(error instanceof DmaFault)) throw error;
            this.faults.push(error);
            this.stats.rxDmaFaults++;
            errors = E1000_RXD_ERR_RXE;
            written = 0;
          }
        }
        this.popFrame(length);
        view.setUint16(at + RX_DESC_LENGTH, written, true);
        view.setUint16(at + RX_DESC_LENGTH + 2, 0, true);
        cache[at + RX_DESC_STATUS] = E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP;
        cache[at + RX_DESC_ERRORS] = errors;
        view.setUint16(at + RX_DESC_ERRORS + 1, 0, true);
      }
      // Write-back, after the frames: the driver reads a frame once it sees its DD.
      if (!this.ringAccess(burstBus, cache, bytes, true, E1000_RCTL, E1000_RCTL_EN)) break;
      head = (head + burst) % count;
      wrote += burst;
    }
    this.regs.set(E1000_RDH, head);
    if (wrote > 0) this.raise(E1000_ICR_RXT0);
  }

  /** The frame at the FIFO's head, written at `bus` (two DMA writes when it wraps in the FIFO). */
  private dmaFromFifo(bus: number, length: number): void {
    const hw = this.dev.hw;
    const first = Math.min(length, this.fifo.length - this.fifoHead);
    hw.dmaWrite(bus, this.fifo, this.fifoHead, first);
    if (first < length) hw.dmaWrite(bus + first, this.fifo, 0, length - first);
  }

  private popFrame(length: number): void {
    this.fifoHead = (this.fifoHead + length) % this.fifo.length;
    this.fifoUsed -= length;
    this.fifoFirst++;
    if (this.fifoFirst > 1024 && this.fifoFirst * 2 > this.fifoLengths.length) {
      this.fifoLengths.splice(0, this.fifoFirst);
      this.fifoFirst = 0;
    }
  }

  // ---- transmit DMA

  /** Sends every frame between TDH and TDT, writing DD back where the driver asked (RS). */
  private transmitDma(): void {
    const count = this.reg(E1000_TDLEN) / E1000_DESC_SIZE;
    if ((this.reg(E1000_TCTL) & E1000_TCTL_EN) === 0 || count < 1) return;
    const base = this.reg(E1000_TDBAH) * 2 ** 32 + this.reg(E1000_TDBAL);
    const hw = this.dev.hw;
    let head = this.reg(E1000_TDH);
    const tail = this.reg(E1000_TDT) % count;
    let frameLength = 0;
    let faulted = false;
    let done = 0;
    while (head !== tail) {
      const descBus = base + head * E1000_DESC_SIZE;
      if (!this.fetchDesc(descBus, E1000_TCTL, E1000_TCTL_EN)) break;
      const bufferBus = descAddr(this.descView);
      const length = this.descView.getUint16(TX_DESC_LENGTH, true);
      const cmd = this.desc[TX_DESC_CMD] as number;
      if (!faulted && length > 0) {
        try {
          const n = Math.min(length, MAX_TX_FRAME - frameLength);
          hw.dmaReadInto(bufferBus, this.txFrame, frameLength, n);
          frameLength += n;
        } catch (error) {
          if (!(error instanceof DmaFault)) throw error;
          this.faults.push(error);
          this.stats.txDmaFaults++;
          faulted = true;
        }
      }
      if ((cmd & E1000_TXD_CMD_EOP) !== 0) {
        if (!faulted) {
          this.stats.txFrames++;
          this.onTransmit?.(this.txFrame.subarray(0, frameLength));
        }
        frameLength = 0;
        faulted = false;
      }
      if ((cmd & E1000_TXD_CMD_RS) !== 0 && !this.writeDesc(descBus + TX_DESC_STATUS, this.ddByte, E1000_TCTL, E1000_TCTL_EN)) break;
      head = (head + 1) % count;
      done++;
    }
    this.regs.set(E1000_TDH, head);
    if (done > 0) this.raise(E1000_ICR_TXDW);
  }

  /**
   * Descriptor accesses. A fault there (the ring itself is unreachable) stops that engine, as a
   * master abort on a real NIC would, and is recorded. False when it faulted.
   */
  private fetchDesc(bus: number, ctlReg: number, enable: number): boolean {
    return this.ringAccess(bus, this.desc, E1000_DESC_SIZE, false, ctlReg, enable);
  }

  private writeDesc(bus: number, bytes: Uint8Array, ctlReg: number, enable: number): boolean {
    return this.ringAccess(bus, bytes, bytes.length, true, ctlReg, enable);
  }

  /** A DMA read (or write) of `bytes[0, length)` at `bus` in a ring; false when it faulted. */
  private ringAccess(bus: number, bytes: Uint8Array, length: number, write: boolean, ctlReg: number, enable: number): boolean {
    try {
      if (write) this.dev.hw.dmaWrite(bus, bytes, 0, length);
      else this.dev.hw.dmaReadInto(bus, bytes, 0, length);
      return true;
    } catch (error) {
      return this.ringFault(error, ctlReg, enable);
    }
  }

  private ringFault(error: unknown, ctlReg: number, enable: number): false {
    if (!(error instanceof DmaFault)) throw error;
    this.faults.push(error);
    this.regs.set(ctlReg, this.reg(ctlReg) & ~enable);
    return false;
  }

  // ---- interrupts

  private raise(cause: number): void {
    this.icr |= cause;
    this.maybeInterrupt();
  }

  /** Asserts the interrupt now, or when the throttle interval since the last one ends. */
  private maybeInterrupt(): void {
    if ((this.icr & this.ims) === 0 || this.irqTimer !== null || this.irqHandler === null) return;
    const clock = this.dev.machine.clock;
    const delay = Math.max(0, this.lastIrqAt + this.itrNs - clock.now());
    this.irqTimer = clock.setTimer(Math.ceil(delay), this.irqTimerFired);
  }

  private readonly irqTimerFired = (): void => {
    this.irqTimer = null;
    if ((this.icr & this.ims) === 0 || this.irqHandler === null) return;
    const machine = this.dev.machine;
    this.lastIrqAt = machine.clock.now();
    this.stats.interrupts++;
    machine.runOn(this.irqCpu, this.irqHandler);
    // Causes raised while the handler ran (or left unread) assert again after the interval.
    this.maybeInterrupt();
  };
}
