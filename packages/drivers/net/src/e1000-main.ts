import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaBitMask,
  dmaFreeCoherent,
  dmaMapSingle,
  dmaMappingError,
  dmaSetMaskAndCoherent,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
  type Device,
} from '@kdma/dma-mapping';
import { EBUSY, EINVAL, ENOMEM, GFP_ATOMIC, GFP_KERNEL } from '@kdma/mm';
import { lower32Bits, upper32Bits } from '@kdma/hw';
import { checkFunction, checkInt, describeValue } from './args.js';
import { checkNetBugs, type NetBug } from './bugs.js';
import {
  E1000_DESC_SIZE,
  E1000_ICR,
  E1000_IMC,
  E1000_IMS,
  E1000_RCTL,
  E1000_RCTL_EN,
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
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
  E1000_TXD_CMD_IFCS,
  E1000_TXD_CMD_RS,
  E1000_TXD_STAT_DD,
  IMS_ENABLE_MASK,
  RX_DESC_ERRORS,
  RX_DESC_LENGTH,
  RX_DESC_STATUS,
  setDescAddr,
  TX_DESC_CMD,
  TX_DESC_LENGTH,
  TX_DESC_STATUS,
  type E1000Mmio,
} from './e1000-hw-regs.js';
import { PagePool, type PagePoolStats } from './page-pool.js';
import { SkBuff } from './skbuff.js';

/*
 * The driver, shaped after drivers/net/ethernet/intel/e1000/e1000_main.c: descriptor rings in
 * coherent memory, receive buffers mapped FROM_DEVICE one by one, small frames copied out
 * ("copybreak") so their buffer can be recycled, large ones unmapped and handed up whole (or, with
 * `pagePool`, synced for the CPU and handed up in a buffer that stays mapped and comes back to the
 * pool), transmit buffers mapped TO_DEVICE until the NIC reports them done. The tail registers
 * follow igb's convention (the tail is one past the last descriptor given to the NIC); the
 * register stores are relaxed (`writel_relaxed`, as ARM network drivers write their doorbells),
 * so the `wmb()` before each doorbell is what orders the descriptor stores before it.
 */

/** `NETDEV_TX_OK`: the frame was taken (sent or dropped). */
export const NETDEV_TX_OK = 0;
/** `NETDEV_TX_BUSY`: no room; the stack keeps the frame and retries. */
export const NETDEV_TX_BUSY = 16;

/** Received frames go here (`netif_receive_skb`); the stack owns the skb and must free it. */
export type NetifReceive = (skb: SkBuff) => void;

export interface E1000Options {
  /** RX descriptors (default 256; a multiple of 8, as RDLEN must be 128-byte aligned). */
  readonly rxRingSize?: number;
  /** TX descriptors (default 256). */
  readonly txRingSize?: number;
  /** Frames up to this length are copied into a fresh skb (e1000's `copybreak`, default 256). */
  readonly copybreak?: number;
  /** The DMA addressing the NIC supports (`dma_set_mask_and_coherent`; default 32). */
  readonly dmaBits?: number;
  /**
   * Receive buffers from a page pool that keeps them mapped (default false: e1000's way, a
   * frame above copybreak is unmapped and handed up, and a new buffer is mapped in its place).
   * With the pool a frame above copybreak is synced for the CPU and handed up in its mapped
   * buffer, which comes back to the pool when the stack frees the skb and is synced for the
   * device there — igb's and page_pool's way: no map or unmap per frame.
   */
  readonly pagePool?: boolean;
  /** Steps left out on purpose (see `NetBug`). */
  readonly bugs?: readonly NetBug[];
  /** The stack's receive path. Default: frames are dropped (freed) on arrival. */
  readonly onReceive?: NetifReceive;
}

/** `struct net_device_stats` and the driver's own counters. */
export interface E1000Stats {
  rxPackets: number;
  rxBytes: number;
  rxErrors: number;
  /** Frames delivered through the copybreak path. */
  rxCopybreak: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  /** `alloc_rx_buff_failed`: buffers that could not be allocated or mapped. */
  rxBufferFailed: number;
  /** TX mappings that failed. */
  txDmaMappingErrors: number;
}

/** `struct e1000_tx_buffer`. */
interface TxBuffer {
  readonly skb: SkBuff;
  readonly dma: number;
  readonly length: number;
}

/** `struct e1000_rx_ring` / `e1000_tx_ring`: the descriptors and the driver's indices. */
interface Ring {
  readonly count: number;
  readonly size: number;
  /** Kernel address of the descriptors (coherent memory). */
  readonly desc: number;
  /** Their bus address. */
  readonly dma: number;
  nextToUse: number;
  nextToClean: number;
}

/** The RX buffer length (RCTL.BSIZE = 2048, e1000's `E1000_RXBUFFER_2048`). */
export const E1000_RXBUFFER_2048 = 2048;
/** `E1000_RX_BUFFER_WRITE`: refill after this many descriptors are cleaned. */
const E1000_RX_BUFFER_WRITE = 16;
/** The NAPI budget per poll. */
const NAPI_POLL_WEIGHT = 64;

/** `E1000_DESC_UNUSED`: descriptors the driver may fill, one always kept empty. */
function descUnused(ring: Ring): number {
  return (ring.nextToClean > ring.nextToUse ? 0 : ring.count) + ring.nextToClean - ring.nextToUse - 1;
}

/** `struct e1000_adapter`: one NIC bound to the driver. */
export class E1000Adapter {
  readonly dev: Device;
  readonly hw: E1000Mmio;
  readonly bugs: ReadonlySet<NetBug>;
  readonly stats: E1000Stats = {
    rxPackets: 0,
    rxBytes: 0,
    rxErrors: 0,
    rxCopybreak: 0,
    txPackets: 0,
    txBytes: 0,
    txDropped: 0,
    rxBufferFailed: 0,
    txDmaMappingErrors: 0,
  };
  readonly rxRingSize: number;
  readonly txRingSize: number;
  readonly copybreak: number;
  readonly rxBufferLen = E1000_RXBUFFER_2048;
  /** Receive buffers come from a page pool (`options.pagePool`). */
  readonly usesPagePool: boolean;
  private readonly onReceive: NetifReceive | null;
  private pool: PagePool | null = null;
  private poolStats: PagePoolStats | null = null;
  private rxRing: Ring | null = null;
  private txRing: Ring | null = null;
  /**
   * `struct e1000_rx_buffer` per descriptor, as two columns: the buffer's kernel address (0: none,
   * handed up — no kernel address is 0) and its bus address.
   */
  private rxData = new Float64Array(0);
  private rxDma = new Float64Array(0);
  private txBuffers: (TxBuffer | null)[] = [];
  /** True while the queue is stopped for want of TX descriptors (`netif_stop_queue`). */
  queueStopped = false;

  // Scratch: one descriptor, and a frame being copied (copybreak).
  private readonly desc = new Uint8Array(E1000_DESC_SIZE);
  private readonly descView = new DataView(this.desc.buffer);
  private readonly zero = new Uint8Array(1);
  private readonly copy: Uint8Array;
  /** The driver's copy of the RX ring, where descriptors are built before they are stored. */
  private rxStage = new Uint8Array(0);
  private rxStageView = new DataView(this.rxStage.buffer);

  constructor(dev: Device, hw: E1000Mmio, options: E1000Options) {
    this.dev = dev;
    this.hw = hw;
    this.bugs = checkNetBugs(options.bugs);
    this.rxRingSize = options.rxRingSize ?? 256;
    this.txRingSize = options.txRingSize ?? 256;
    this.copybreak = options.copybreak ?? 256;
    checkInt(this.rxRingSize, 'options.rxRingSize', 8, 4096);
    checkInt(this.txRingSize, 'options.txRingSize', 8, 4096);
    if (this.rxRingSize % 8 !== 0 || this.txRingSize % 8 !== 0) throw new RangeError('options.rxRingSize and options.txRingSize must be multiples of 8');
    checkInt(this.copybreak, 'options.copybreak', 0, this.rxBufferLen);
    if (options.onReceive !== undefined) checkFunction(options.onReceive, 'options.onReceive');
    this.onReceive = options.onReceive ?? null;
    if (options.pagePool !== undefined && typeof options.pagePool !== 'boolean') {
      throw new TypeError(`options.pagePool must be a boolean, got ${describeValue(options.pagePool)}`);
    }
    this.usesPagePool = options.pagePool === true;
    this.copy = new Uint8Array(this.copybreak);
  }

  private get machine() {
    return this.dev.machine;
  }

  /** `wmb()` before a doorbell, unless the `'no-wmb'` bug leaves it out. */
  private wmb(): void {
    if (!this.bugs.has('no-wmb')) this.machine.cpu.wmb();
  }

  /** `writel`: ARM's, with its `__iowmb()` — used for configuration, not on the fast path. */
  private writel(reg: number, value: number): void {
    this.machine.cpu.wmb();
    this.hw.writeReg(reg, value);
  }

  /** Whether a mapping failed, as `dma_mapping_error` says (never asked with the bug). */
  private mappingFailed(dma: number): boolean {
    return !this.bugs.has('no-dma-mapping-error-check') && dmaMappingError(this.dev, dma) !== 0;
  }

  // ---- open / close

  /** `e1000_setup_{rx,tx}_resources`: a ring of descriptors in coherent memory. */
  private setupRing(count: number): Ring | null {
    const size = Math.ceil((count * E1000_DESC_SIZE) / 4096) * 4096;
    const buf = dmaAllocCoherent(this.dev, size, GFP_KERNEL);
    if (buf === null) return null;
    return { count, size, desc: buf.cpuAddr, dma: buf.dmaHandle, nextToUse: 0, nextToClean: 0 };
  }

  private freeRing(ring: Ring): void {
    dmaFreeCoherent(this.dev, ring.size, ring.desc, ring.dma);
  }

  /**
   * `e1000_open`: the rings, the NIC's view of them, receive buffers for every free descriptor,
   * then the interrupt. 0 or a negative errno (-ENOMEM).
   */
  open(): number {
    if (this.rxRing !== null) return -EBUSY;
    const tx = this.setupRing(this.txRingSize);
    if (tx === null) return -ENOMEM;
    const rx = this.setupRing(this.rxRingSize);
    if (rx === null) {
      this.freeRing(tx);
      return -ENOMEM;
    }
    this.txRing = tx;
    this.rxRing = rx;
    this.txBuffers = new Array<TxBuffer | null>(tx.count).fill(null);
    this.rxData = new Float64Array(rx.count);
    this.rxDma = new Float64Array(rx.count);
    if (this.usesPagePool) {
      this.pool = new PagePool(this.dev, this.rxBufferLen, rx.count, this.bugs);
      this.poolStats = this.pool.stats;
    }
    this.rxStage = new Uint8Array(rx.count * E1000_DESC_SIZE);
    this.rxStageView = new DataView(this.rxStage.buffer);
    this.hw.requestIrq(() => this.intr());
    // e1000_configure_tx / e1000_configure_rx
    this.writel(E1000_TDBAL, lower32Bits(tx.dma));
    this.writel(E1000_TDBAH, upper32Bits(tx.dma));
    this.writel(E1000_TDLEN, tx.count * E1000_DESC_SIZE);
    this.writel(E1000_TDH, 0);
    this.writel(E1000_TDT, 0);
    this.writel(E1000_TCTL, E1000_TCTL_EN);
    this.writel(E1000_RDBAL, lower32Bits(rx.dma));
    this.writel(E1000_RDBAH, upper32Bits(rx.dma));
    this.writel(E1000_RDLEN, rx.count * E1000_DESC_SIZE);
    this.writel(E1000_RDH, 0);
    this.writel(E1000_RDT, 0);
    this.writel(E1000_RCTL, E1000_RCTL_EN);
    this.allocRxBuffers(descUnused(rx));
    this.writel(E1000_IMS, IMS_ENABLE_MASK);
    return 0;
  }

  /** `e1000_close`: quiesce the NIC, give back every buffer and mapping, free the rings. */
  close(): number {
    const rx = this.rxRing;
    const tx = this.txRing;
    if (rx === null || tx === null) return -EINVAL;
    this.writel(E1000_IMC, 0xffffffff);
    this.writel(E1000_RCTL, 0);
    this.writel(E1000_TCTL, 0);
    // e1000_clean_tx_ring
    for (let i = 0; i < tx.count; i++) {
      const buffer = this.txBuffers[i];
      if (buffer === null || buffer === undefined) continue;
      this.unmapAndFreeTx(buffer);
      this.txBuffers[i] = null;
    }
    // e1000_clean_rx_ring (page pool: the buffers go back to a destroyed pool, which frees them)
    const pool = this.pool;
    pool?.destroy();
    for (let i = 0; i < rx.count; i++) {
      const data = this.rxData[i] as number;
      if (data === 0) continue;
      if (pool !== null) {
        pool.put(data, this.rxDma[i] as number);
      } else {
        dmaUnmapSingle(this.dev, this.rxDma[i] as number, this.rxBufferLen, DMA_FROM_DEVICE);
        this.machine.mm.kfree(data);
      }
      this.rxData[i] = 0;
    }
    this.pool = null;
    this.freeRing(rx);
    this.freeRing(tx);
    this.rxRing = null;
    this.txRing = null;
    return 0;
  }

  // ---- receive

  /**
   * `e1000_alloc_rx_buffers`: a mapped buffer for each of `cleanedCount` descriptors from
   * `next_to_use` (recycled copybreak buffers are reused as they are), then `wmb()` and the
   * doorbell. The descriptors are built in the driver's copy of the ring and stored into the
   * ring with one copy per contiguous stretch (two where the ring wraps), status cleared.
   */
  private allocRxBuffers(cleanedCount: number): void {
    const ring = this.rxRing;
    if (ring === null) return;
    const { mm } = this.machine;
    const pool = this.pool;
    const view = this.rxStageView;
    let start = ring.nextToUse;
    let i = start;
    for (let n = cleanedCount; n > 0; n--) {
      if (this.rxData[i] === 0 && pool !== null) {
        const data = pool.alloc();
        if (data === 0) {
          this.stats.rxBufferFailed++;
          break;
        }
        this.rxData[i] = data;
        this.rxDma[i] = pool.allocDma;
      } else if (this.rxData[i] === 0) {
        const data = mm.kmalloc(this.rxBufferLen, GFP_ATOMIC);
        if (data === null) {
          this.stats.rxBufferFailed++;
          break;
        }
        const dma = dmaMapSingle(this.dev, data, this.rxBufferLen, DMA_FROM_DEVICE);
        if (this.mappingFailed(dma)) {
          mm.kfree(data);
          this.stats.rxBufferFailed++;
          break;
        }
        this.rxData[i] = data;
        this.rxDma[i] = dma;
      }
      // buffer_addr; the written-back half (length, status, errors) stays zero in the copy.
      setDescAddr(view, this.rxDma[i] as number, i * E1000_DESC_SIZE);
      if (++i === ring.count) {
        this.storeRxDescs(ring, start, i);
        start = i = 0;
      }
    }
    this.storeRxDescs(ring, start, i);
    if (ring.nextToUse !== i) {
      ring.nextToUse = i;
      // Force the descriptor stores to complete before the NIC may fetch them.
      this.wmb();
      this.hw.writeReg(E1000_RDT, i);
    }
  }

  /** Stores descriptors [from, to) of the driver's copy into the RX ring. */
  private storeRxDescs(ring: Ring, from: number, to: number): void {
    if (to <= from) return;
    const at = from * E1000_DESC_SIZE;
    this.machine.cpu.write(ring.desc + at, this.rxStage, at, (to - from) * E1000_DESC_SIZE);
  }

  /**
   * `e1000_clean_rx_irq`: hands up every frame the NIC wrote back (DD), up to `budget`: small
   * ones copied out of a buffer that is synced for the CPU and then back for the device and
   * reused, large ones unmapped and handed up in their own buffer. Returns the work done.
   */
  private cleanRxIrq(budget: number): number {
    const ring = this.rxRing;
    if (ring === null) return 0;
    const { dev, machine } = this;
    const { cpu } = machine;
    let i = ring.nextToClean;
    let cleaned = 0;
    let workDone = 0;
    // Only descriptors given to the NIC: every one was stored with its status clear, so DD here
    // is the NIC's (igb's way: the status is cleared at refill, not by a store per frame here).
    while (workDone < budget && i !== ring.nextToUse) {
      const descKva = ring.desc + i * E1000_DESC_SIZE;
      cpu.readInto(descKva, this.desc);
      const status = this.desc[RX_DESC_STATUS] as number;
      if ((status & E1000_RXD_STAT_DD) === 0) break;
      // dma_rmb(): read the rest of the descriptor only after seeing DD.
      cpu.rmb();
      workDone++;
      const length = this.descView.getUint16(RX_DESC_LENGTH, true);
      const errors = this.desc[RX_DESC_ERRORS] as number;
      const data = this.rxData[i] as number;
      const dma = this.rxDma[i] as number;
      if (data === 0 || (status & E1000_RXD_STAT_EOP) === 0 || errors !== 0 || length === 0) {
        // A frame the driver cannot take: count it; the buffer stays for the next frame.
        this.stats.rxErrors++;
      } else if (length <= this.copybreak) {
        const skb = this.copybreakRx(data, dma, length);
        if (skb !== null) {
          this.stats.rxCopybreak++;
          this.deliver(skb);
        } else {
          this.stats.rxErrors++;
        }
      } else if (this.pool !== null) {
        // The buffer stays mapped: the CPU's from here, the pool's again once the skb is freed.
        if (!this.bugs.has('no-sync-for-cpu')) dmaSyncSingleForCpu(dev, dma, length, DMA_FROM_DEVICE);
        this.rxData[i] = 0;
        this.deliver(new SkBuff(machine, data, this.rxBufferLen, length, this.pool, dma));
      } else {
        if (!this.bugs.has('no-unmap')) dmaUnmapSingle(dev, dma, this.rxBufferLen, DMA_FROM_DEVICE);
        this.rxData[i] = 0;
        this.deliver(new SkBuff(machine, data, this.rxBufferLen, length));
      }
      i = (i + 1) % ring.count;
      ring.nextToClean = i;
      if (++cleaned >= E1000_RX_BUFFER_WRITE) {
        this.allocRxBuffers(cleaned);
        cleaned = 0;
      }
    }
    ring.nextToClean = i;
    const unused = descUnused(ring);
    if (unused > 0) this.allocRxBuffers(unused);
    return workDone;
  }

  /** `e1000_copybreak`: the frame into a fresh skb; the DMA buffer goes back to the NIC. */
  private copybreakRx(buffer: number, dma: number, length: number): SkBuff | null {
    const { dev, machine } = this;
    const data = machine.mm.kmalloc(length, GFP_ATOMIC);
    if (data === null) return null;
    if (!this.bugs.has('no-sync-for-cpu')) dmaSyncSingleForCpu(dev, dma, length, DMA_FROM_DEVICE);
    machine.cpu.readInto(buffer, this.copy, 0, length);
    machine.cpu.write(data, this.copy, 0, length);
    if (!this.bugs.has('no-sync-for-device')) dmaSyncSingleForDevice(dev, dma, length, DMA_FROM_DEVICE);
    return new SkBuff(machine, data, length, length);
  }

  private deliver(skb: SkBuff): void {
    this.stats.rxPackets++;
    this.stats.rxBytes += skb.len;
    if (this.onReceive === null) skb.free();
    else this.onReceive(skb);
  }

  // ---- transmit

  /**
   * `e1000_xmit_frame`: maps the frame TO_DEVICE, fills a descriptor (EOP, IFCS, RS), `wmb()`,
   * then the doorbell. The driver owns the skb once this returns `NETDEV_TX_OK`.
   */
  startXmit(skb: SkBuff): number {
    if (!(skb instanceof SkBuff)) throw new TypeError(`skb must be an SkBuff, got ${describeValue(skb)}`);
    const ring = this.txRing;
    if (ring === null) {
      skb.free();
      this.stats.txDropped++;
      return NETDEV_TX_OK;
    }
    if (descUnused(ring) < 1) {
      this.queueStopped = true;
      return NETDEV_TX_BUSY;
    }
    const dma = dmaMapSingle(this.dev, skb.data, skb.len, DMA_TO_DEVICE);
    if (this.mappingFailed(dma)) {
      this.stats.txDmaMappingErrors++;
      this.stats.txDropped++;
      skb.free();
      return NETDEV_TX_OK;
    }
    const i = ring.nextToUse;
    this.txBuffers[i] = { skb, dma, length: skb.len };
    const view = this.descView;
    this.desc.fill(0);
    setDescAddr(view, dma);
    view.setUint16(TX_DESC_LENGTH, skb.len, true);
    this.desc[TX_DESC_CMD] = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS;
    this.machine.cpu.write(ring.desc + i * E1000_DESC_SIZE, this.desc);
    ring.nextToUse = (i + 1) % ring.count;
    // Force the descriptor stores to complete before the NIC may fetch them.
    this.wmb();
    this.hw.writeReg(E1000_TDT, ring.nextToUse);
    return NETDEV_TX_OK;
  }

  private unmapAndFreeTx(buffer: TxBuffer): void {
    if (!this.bugs.has('no-unmap')) dmaUnmapSingle(this.dev, buffer.dma, buffer.length, DMA_TO_DEVICE);
    buffer.skb.free();
  }

  /** `e1000_clean_tx_irq`: unmaps and frees what the NIC reported done (DD). True when all is clean. */
  private cleanTxIrq(): boolean {
    const ring = this.txRing;
    if (ring === null) return true;
    const cpu = this.machine.cpu;
    let i = ring.nextToClean;
    while (i !== ring.nextToUse) {
      const descKva = ring.desc + i * E1000_DESC_SIZE;
      cpu.readInto(descKva, this.desc);
      if (((this.desc[TX_DESC_STATUS] as number) & E1000_TXD_STAT_DD) === 0) break;
      cpu.rmb();
      const buffer = this.txBuffers[i] ?? null;
      if (buffer !== null) {
        this.stats.txPackets++;
        this.stats.txBytes += buffer.length;
        this.unmapAndFreeTx(buffer);
        this.txBuffers[i] = null;
      }
      cpu.write(descKva + TX_DESC_STATUS, this.zero);
      i = (i + 1) % ring.count;
    }
    ring.nextToClean = i;
    if (this.queueStopped && descUnused(ring) > 0) this.queueStopped = false;
    return i === ring.nextToUse;
  }

  /** The receive page pool's counters (of the last one, once closed); null without a pool. */
  get pagePoolStats(): Readonly<PagePoolStats> | null {
    return this.poolStats;
  }

  /** Descriptors free in the TX ring. */
  get txFree(): number {
    return this.txRing === null ? 0 : descUnused(this.txRing);
  }

  // ---- interrupt

  /**
   * `e1000_intr` and the NAPI poll it schedules (run at once here): read the causes, clean the
   * TX ring, then receive in budgets until a poll finds less than a budget of work.
   */
  intr(): void {
    const icr = this.hw.readReg(E1000_ICR);
    if (icr === 0 || this.rxRing === null) return;
    this.cleanTxIrq();
    while (this.cleanRxIrq(NAPI_POLL_WEIGHT) >= NAPI_POLL_WEIGHT);
  }
}

/**
 * `e1000_probe` for the NIC behind `hw`: the DMA mask, then an adapter ready to `open()`. Throws
 * when the mask cannot be set (the kernel's probe fails with -EIO).
 */
export function e1000Probe(dev: Device, hw: E1000Mmio, options: E1000Options = {}): E1000Adapter {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const bits = options.dmaBits ?? 32;
  checkInt(bits, 'options.dmaBits', 24, 64);
  if (dmaSetMaskAndCoherent(dev, dmaBitMask(bits)) !== 0) throw new Error(`e1000Probe: no suitable DMA available (${bits}-bit mask refused)`);
  return new E1000Adapter(dev, hw, options);
}
