import {
  DMA_FROM_DEVICE,
  dmaMapSingle,
  dmaMappingError,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
  type Device,
} from '@kdma/dma-mapping';
import { GFP_ATOMIC } from '@kdma/mm';
import type { NetBug } from './bugs.js';

/*
 * `struct page_pool` created with PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV (net/core/page_pool.c),
 * what igb-class and newer drivers take their receive buffers from: a buffer is mapped FROM_DEVICE
 * once, when the pool first hands it out, and stays mapped while it cycles between the NIC and
 * the stack. The driver syncs a received frame for the CPU and hands it up in its buffer; when
 * the stack frees the skb (`skb_mark_for_recycle`) the buffer comes back to the pool, which syncs
 * it for the device (`page_pool_dma_sync_for_device`) and keeps it for the next refill. A buffer
 * the pool has no room for, and every buffer once the pool is destroyed, is unmapped and freed —
 * the unmap a driver without a pool makes for every frame. Buffers are kmalloc'd here, as the
 * e1000 driver's are, not pages.
 */

/** `struct page_pool_stats`, in short. */
export interface PagePoolStats {
  /** Allocations served from the cache of recycled buffers (`alloc_stats.fast`). */
  fast: number;
  /** Allocations that took a new buffer and mapped it (`alloc_stats.slow`). */
  slow: number;
  /** Buffers that came back and were cached (`recycle_stats.cached`). */
  recycled: number;
  /** Buffers unmapped and freed (no room, or the pool destroyed: `recycle_stats.released_refcnt`). */
  released: number;
}

export class PagePool {
  readonly dev: Device;
  /** Bytes per buffer (`pp.max_len`: what the device may write, and what is synced for it). */
  readonly bufferLen: number;
  /** Buffers the pool keeps for reuse (`pp.pool_size`). */
  readonly size: number;
  /** The bus address of the buffer the last `alloc` returned. */
  allocDma = 0;
  /** Buffers handed out and not yet back (`inflight`). */
  inflight = 0;
  readonly stats: PagePoolStats = { fast: 0, slow: 0, recycled: 0, released: 0 };
  private readonly bugs: ReadonlySet<NetBug>;
  /** The cache of recycled buffers: kernel and bus addresses, a stack. */
  private readonly cacheData: Float64Array;
  private readonly cacheDma: Float64Array;
  private cached = 0;
  private destroyed = false;

  constructor(dev: Device, bufferLen: number, size: number, bugs: ReadonlySet<NetBug>) {
    this.dev = dev;
    this.bufferLen = bufferLen;
    this.size = size;
    this.bugs = bugs;
    this.cacheData = new Float64Array(size);
    this.cacheDma = new Float64Array(size);
  }

  /**
   * `page_pool_dev_alloc_pages`: a recycled buffer (already synced for the device), else a new
   * one, mapped and checked (the pool checks `dma_mapping_error` itself). Its kernel address, or
   * 0 when memory or mapping failed; its bus address is then in `allocDma`.
   */
  alloc(): number {
    if (this.destroyed) return 0;
    if (this.cached > 0) {
      this.cached--;
      this.allocDma = this.cacheDma[this.cached] as number;
      this.inflight++;
      this.stats.fast++;
      return this.cacheData[this.cached] as number;
    }
    const mm = this.dev.machine.mm;
    const data = mm.kmalloc(this.bufferLen, GFP_ATOMIC);
    if (data === null) return 0;
    const dma = dmaMapSingle(this.dev, data, this.bufferLen, DMA_FROM_DEVICE);
    if (dmaMappingError(this.dev, dma) !== 0) {
      mm.kfree(data);
      return 0;
    }
    this.allocDma = dma;
    this.inflight++;
    this.stats.slow++;
    return data;
  }

  /**
   * `page_pool_put_full_page`: a buffer comes back (the stack freed its skb, or the driver gives
   * it up). Synced for the device and cached while there is room, else unmapped and freed.
   */
  put(data: number, dma: number): void {
    this.inflight--;
    if (!this.destroyed && this.cached < this.size) {
      if (!this.bugs.has('no-sync-for-device')) dmaSyncSingleForDevice(this.dev, dma, this.bufferLen, DMA_FROM_DEVICE);
      this.cacheData[this.cached] = data;
      this.cacheDma[this.cached] = dma;
      this.cached++;
      this.stats.recycled++;
      return;
    }
    this.release(data, dma);
  }

  /** `page_pool_destroy`: the cached buffers are freed now, those in flight when they come back. */
  destroy(): void {
    this.destroyed = true;
    while (this.cached > 0) {
      this.cached--;
      this.release(this.cacheData[this.cached] as number, this.cacheDma[this.cached] as number);
    }
  }

  /** `page_pool_return_page`: unmap and free. */
  private release(data: number, dma: number): void {
    if (!this.bugs.has('no-unmap')) dmaUnmapSingle(this.dev, dma, this.bufferLen, DMA_FROM_DEVICE);
    this.dev.machine.mm.kfree(data);
    this.stats.released++;
  }
}
