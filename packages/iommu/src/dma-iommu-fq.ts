import type { Machine } from '@kdma/dma-mapping';
import type { IovaDomain } from './iova.js';
import { iommuFlushIotlbAll, type IommuDomain } from './iommu.js';

/** `IOVA_DEFAULT_FQ_SIZE`: entries per CPU queue. */
export const IOVA_DEFAULT_FQ_SIZE = 256;
/** `IOVA_DEFAULT_FQ_TIMEOUT`: ms before the timer drains the queues. */
export const IOVA_DEFAULT_FQ_TIMEOUT = 10;

const NS_PER_MS = 1_000_000;

/** One CPU's ring of IOVAs waiting for an IOTLB invalidation (`struct iova_fq`). */
class FqRing {
  readonly pfns: Float64Array;
  readonly pages: Float64Array;
  /** `fq_flush_start_cnt` when the entry was queued. */
  readonly counters: Float64Array;
  head = 0;
  tail = 0;

  constructor(readonly size: number) {
    this.pfns = new Float64Array(size);
    this.pages = new Float64Array(size);
    this.counters = new Float64Array(size);
  }

  /** `fq_full`: one slot stays empty, as in the kernel's ring. */
  get full(): boolean {
    return (this.tail + 1) % this.size === this.head;
  }

  get length(): number {
    return (this.tail - this.head + this.size) % this.size;
  }
}

/**
 * The flush queue of a lazy DMA domain (drivers/iommu/dma-iommu.c, `IOMMU_DOMAIN_DMA_FQ`): an
 * unmap removes the PTEs at once but leaves the IOTLB alone; the IOVA waits in this CPU's ring
 * until one `flush_iotlb_all` covers a whole batch of unmaps — when a ring fills up, when the
 * 10 ms timer (machine clock) fires, or when someone drains it. Until then the device can still
 * reach the old pages through a stale IOTLB entry: the price of lazy mode, measurable as
 * `pendingFlushes` in `machine.iommu.stats()`.
 */
export class IommuDmaFlushQueue {
  private readonly rings: FqRing[];
  /** `fq_flush_start_cnt` / `fq_flush_finish_cnt`. */
  private startCnt = 0;
  private finishCnt = 0;
  /** `fq_timer_on`: the armed timer's id, or 0. */
  private timer = 0;

  constructor(
    private readonly machine: Machine,
    private readonly domain: IommuDomain,
    private readonly iovad: IovaDomain,
    size = IOVA_DEFAULT_FQ_SIZE,
    private readonly timeoutMs = IOVA_DEFAULT_FQ_TIMEOUT,
  ) {
    this.rings = machine.hw.cpus.map(() => new FqRing(size));
  }

  /** IOVAs queued and not yet freed, over every CPU. */
  get queued(): number {
    return this.rings.reduce((sum, ring) => sum + ring.length, 0);
  }

  /** `queue_iova`: frees what earlier flushes covered, flushes if the ring is full, queues `pfn`. */
  queueIova(pfn: number, pages: number): void {
    const ring = this.rings[this.machine.hw.currentCpu.id] as FqRing;
    this.ringFree(ring);
    if (ring.full) {
      this.flushIotlb();
      this.ringFree(ring);
    }
    const idx = ring.tail;
    ring.pfns[idx] = pfn;
    ring.pages[idx] = pages;
    ring.counters[idx] = this.startCnt;
    ring.tail = (idx + 1) % ring.size;
    this.domain.pendingFlushes++;
    if (this.timer === 0) this.timer = this.machine.clock.setTimer(this.timeoutMs * NS_PER_MS, () => this.timeout());
  }

  /** `fq_flush_timeout`, also the explicit drain: invalidate the IOTLB, free every queued IOVA. */
  drain(): void {
    if (this.timer !== 0) this.machine.clock.cancelTimer(this.timer);
    this.timeout();
  }

  /** Drops everything without a flush (the domain is being freed). */
  destroy(): void {
    if (this.timer !== 0) this.machine.clock.cancelTimer(this.timer);
    this.timer = 0;
    this.flushIotlb();
    for (const ring of this.rings) this.ringFree(ring);
  }

  private timeout(): void {
    this.timer = 0;
    this.flushIotlb();
    for (const ring of this.rings) this.ringFree(ring);
  }

  /** `fq_flush_iotlb`. */
  private flushIotlb(): void {
    this.startCnt++;
    iommuFlushIotlbAll(this.domain);
    this.finishCnt++;
  }

  /** `fq_ring_free_locked`: frees the entries a completed flush covered, oldest first. */
  private ringFree(ring: FqRing): void {
    while (ring.head !== ring.tail) {
      const idx = ring.head;
      if ((ring.counters[idx] as number) >= this.finishCnt) break;
      this.iovad.freeIovaFast(ring.pfns[idx] as number, ring.pages[idx] as number);
      ring.head = (idx + 1) % ring.size;
    }
  }
}
