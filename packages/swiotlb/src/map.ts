/**
 * Mapping through the bounce pool (kernel/dma/swiotlb.c as of v6.10): `swiotlb_tbl_map_single`,
 * `swiotlb_tbl_unmap_single`, the syncs, and the questions dma-direct asks (`is_swiotlb_buffer`,
 * `is_swiotlb_active`, `is_swiotlb_force_bounce`, `swiotlb_max_mapping_size`).
 *
 * Bouncing follows today's kernel: map copies the original into the slot whatever the direction
 * (ddbd89deb7d3 "swiotlb: fix info leak with DMA_FROM_DEVICE", CVE-2022-0854, as kept by
 * 901c7280ca0d), so a device that writes only part of a buffer leaves the rest as it was instead
 * of some earlier mapping's bytes; unmap copies back for FROM_DEVICE/BIDIRECTIONAL, sync for the
 * device copies in for TO_DEVICE/BIDIRECTIONAL, sync for the CPU copies back for
 * FROM_DEVICE/BIDIRECTIONAL, and `DMA_ATTR_SKIP_CPU_SYNC` skips the unmap copy. An io_tlb_mem
 * made with `leakyBounce` maps as before the fix: it copies only for TO_DEVICE/BIDIRECTIONAL
 * without SKIP_CPU_SYNC, which is how the leak can be shown.
 */
import {
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  checkValidDmaDirection,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { addrMod, alignUp, checkAddress, checkInteger, checkSize, describe, getOrder, hex, pow2 } from '@kdma/hw';
import { swiotlbBounce } from './bounce.js';
import { IO_TLB_SEGMENT_BYTES, IO_TLB_SIZE, SWIOTLB_MAP_ERROR, isLowMask, nrSlots } from './io-tlb.js';
import type { IoTlbMem } from './io-tlb-mem.js';
import type { IoTlbPool } from './io-tlb-pool.js';
import { swiotlbAlignOffset, swiotlbDelTransient, swiotlbFindSlots, swiotlbReleaseSlots } from './slots.js';
import type { SwiotlbDevice } from './types.js';

function checkDev(dev: unknown): asserts dev is SwiotlbDevice {
  if (typeof dev !== 'object' || dev === null || !Array.isArray((dev as SwiotlbDevice).ioTlbPools)) {
    throw new TypeError(`dev must be a SwiotlbDevice, got ${describe(dev)}`);
  }
}

function checkAttrs(attrs: unknown): asserts attrs is number {
  checkInteger(attrs, 'attrs', 0, 2 ** 31 - 1);
}

/** `swiotlb_find_pool`: the pool of the device's io_tlb_mem (or its transient ones) holding `paddr`. */
export function swiotlbFindPool(dev: SwiotlbDevice, paddr: number): IoTlbPool | null {
  const mem = dev.ioTlbMem;
  if (mem === null) return null;
  const pools = mem.pools;
  for (let i = 0; i < pools.length; i++) {
    const pool = pools[i] as IoTlbPool;
    if (paddr >= pool.start && paddr < pool.end) return pool;
  }
  const transient = dev.ioTlbPools;
  for (let i = 0; i < transient.length; i++) {
    const pool = transient[i] as IoTlbPool;
    if (paddr >= pool.start && paddr < pool.end) return pool;
  }
  return null;
}

/**
 * `is_swiotlb_buffer`: does `paddr` lie in a bounce buffer of this device? A growing swiotlb
 * first asks whether the device ever bounced (`dma_uses_io_tlb`), so devices that never did pay
 * nothing; a fixed one compares with the default pool's range.
 */
export function isSwiotlbBuffer(dev: SwiotlbDevice, paddr: number): boolean {
  const mem = dev.ioTlbMem;
  if (mem === null) return false;
  if (mem.canGrow) return dev.usesIoTlb && swiotlbFindPool(dev, paddr) !== null;
  const pool = mem.defpool;
  return pool !== null && paddr >= pool.start && paddr < pool.end;
}

/** `is_swiotlb_active`: the device has a pool with slots. */
export function isSwiotlbActive(dev: SwiotlbDevice): boolean {
  const mem = dev.ioTlbMem;
  return mem !== null && mem.nslabs > 0;
}

/** `is_swiotlb_force_bounce`: `swiotlb=force`, or a restricted pool. */
export function isSwiotlbForceBounce(dev: SwiotlbDevice): boolean {
  const mem = dev.ioTlbMem;
  return mem !== null && mem.forceBounce;
}

/** `is_swiotlb_for_alloc`: coherent allocations come from the pool (restricted pools). */
export function isSwiotlbForAlloc(dev: SwiotlbDevice): boolean {
  const mem = dev.ioTlbMem;
  return mem !== null && mem.forAlloc;
}

/**
 * `swiotlb_max_mapping_size`: one segment (256 KiB), less the slots a `min_align_mask` may skip
 * (NVMe's 0xfff: 258048 bytes).
 */
export function swiotlbMaxMappingSize(minAlignMask: number): number {
  checkInteger(minAlignMask, 'minAlignMask');
  return IO_TLB_SEGMENT_BYTES - (minAlignMask === 0 ? 0 : alignUp(minAlignMask, IO_TLB_SIZE));
}

/**
 * `swiotlb_tbl_map_single`: find slots for `mappingSize` bytes at `origAddr` (the low
 * `min_align_mask` bits kept, the slot aligned to `allocAlignMask`), record what they stand for,
 * and copy the original in. Returns the bounce buffer's physical address, or
 * `SWIOTLB_MAP_ERROR` (-1) with "swiotlb buffer is full" in the log unless `DMA_ATTR_NO_WARN`.
 */
export function swiotlbTblMapSingle(
  dev: SwiotlbDevice,
  origAddr: number,
  mappingSize: number,
  allocAlignMask: number,
  dir: DmaDataDirection,
  attrs: number,
): number {
  checkDev(dev);
  checkAddress(origAddr, 'origAddr');
  checkSize(mappingSize, 'mappingSize');
  if (allocAlignMask !== 0 && !isLowMask(allocAlignMask)) throw new RangeError(`allocAlignMask must be 2^k - 1, got ${describe(allocAlignMask)}`);
  checkValidDmaDirection(dir);
  checkAttrs(attrs);
  const mem = dev.ioTlbMem;
  if (mem === null || mem.nslabs === 0) {
    const message = "Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer";
    if (mem === null) return SWIOTLB_MAP_ERROR;
    mem.warnRatelimited('swiotlb_tbl_map_single', dev.name, message);
    mem.failures++;
    return SWIOTLB_MAP_ERROR;
  }
  if (allocAlignMask > mem.pageSize - 1) {
    mem.warnOnce(dev.name, 'swiotlb-alloc-align', 'Alloc alignment may prevent fulfilling requests with max mapping_size');
  }
  const offset = swiotlbAlignOffset(dev, allocAlignMask, origAddr);
  const size = alignUp(mappingSize + offset, allocAlignMask + 1);
  let index = swiotlbFindSlots(dev, mem, origAddr, size, allocAlignMask);
  if (index === -1) {
    mem.failures++;
    if ((attrs & DMA_ATTR_NO_WARN) === 0) {
      mem.warnRatelimited(
        'swiotlb_tbl_map_single',
        dev.name,
        `swiotlb buffer is full (sz: ${size} bytes), total ${mem.nslabs} (slots), used ${mem.totalUsed} (slots)`,
      );
    }
    return SWIOTLB_MAP_ERROR;
  }
  const pool = mem.foundPool as IoTlbPool;
  // Whole slots of offset become padding in front (v6.10); the rest is the in-slot offset.
  const padSlots = Math.floor(offset / IO_TLB_SIZE);
  index += padSlots;
  pool.padSlots[index] = padSlots;
  const slots = nrSlots(size) - padSlots;
  const origAddrs = pool.origAddr;
  for (let i = 0; i < slots; i++) origAddrs[index + i] = origAddr + i * IO_TLB_SIZE;
  const tlbAddr = pool.start + index * IO_TLB_SIZE + (offset - padSlots * IO_TLB_SIZE);
  if (!mem.leakyBounce) {
    swiotlbBounce(dev, mem, tlbAddr, mappingSize, DMA_TO_DEVICE, pool);
  } else if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL)) {
    swiotlbBounce(dev, mem, tlbAddr, mappingSize, DMA_TO_DEVICE, pool);
  }
  return tlbAddr;
}

function poolOf(dev: SwiotlbDevice, tlbAddr: number): IoTlbPool {
  checkDev(dev);
  checkAddress(tlbAddr, 'tlbAddr');
  const pool = swiotlbFindPool(dev, tlbAddr);
  if (pool === null) throw new RangeError(`tlbAddr ${hex(tlbAddr)} is not in a swiotlb pool of ${dev.name}`);
  return pool;
}

/**
 * `swiotlb_tbl_unmap_single`: copy back (FROM_DEVICE/BIDIRECTIONAL, unless SKIP_CPU_SYNC), then
 * free the slots, or the whole transient pool. Unmapping slots that are free is refused with an
 * error in dmesg and changes nothing (the kernel would corrupt its free lists); dma-debug, when
 * on, reports the driver's double unmap as well.
 */
export function swiotlbTblUnmapSingle(dev: SwiotlbDevice, tlbAddr: number, mappingSize: number, dir: DmaDataDirection, attrs: number): void {
  const pool = poolOf(dev, tlbAddr);
  checkSize(mappingSize, 'mappingSize');
  checkValidDmaDirection(dir);
  checkAttrs(attrs);
  const mem = dev.ioTlbMem as IoTlbMem;
  const first = Math.floor((tlbAddr - swiotlbAlignOffset(dev, 0, tlbAddr) - pool.start) / IO_TLB_SIZE);
  if ((pool.list[first] as number) !== 0) {
    mem.hw.dmesg.printk('err', `${dev.name}: swiotlb: unmap of free slots at ${hex(tlbAddr)} (unmapped twice, or never mapped)`);
    return;
  }
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL)) {
    swiotlbBounce(dev, mem, tlbAddr, mappingSize, DMA_FROM_DEVICE, pool);
  }
  if (swiotlbDelTransient(dev, mem, pool)) return;
  swiotlbReleaseSlots(dev, mem, tlbAddr, pool);
}

/** `swiotlb_sync_single_for_device`: copy in for TO_DEVICE/BIDIRECTIONAL; FROM_DEVICE has nothing to do. */
export function swiotlbSyncSingleForDevice(dev: SwiotlbDevice, tlbAddr: number, size: number, dir: DmaDataDirection): void {
  const pool = poolOf(dev, tlbAddr);
  checkSize(size, 'size');
  checkValidDmaDirection(dir);
  if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) swiotlbBounce(dev, dev.ioTlbMem as IoTlbMem, tlbAddr, size, DMA_TO_DEVICE, pool);
}

/** `swiotlb_sync_single_for_cpu`: copy back for FROM_DEVICE/BIDIRECTIONAL; TO_DEVICE has nothing to do. */
export function swiotlbSyncSingleForCpu(dev: SwiotlbDevice, tlbAddr: number, size: number, dir: DmaDataDirection): void {
  const pool = poolOf(dev, tlbAddr);
  checkSize(size, 'size');
  checkValidDmaDirection(dir);
  if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) swiotlbBounce(dev, dev.ioTlbMem as IoTlbMem, tlbAddr, size, DMA_FROM_DEVICE, pool);
}

/**
 * `swiotlb_alloc` (restricted pools, v6.9 alignment): pages for a coherent allocation straight
 * from the pool, aligned to their order; the physical address, or null.
 */
export function swiotlbAlloc(dev: SwiotlbDevice, size: number): number | null {
  checkDev(dev);
  checkSize(size, 'size');
  const mem = dev.ioTlbMem;
  if (mem === null) return null;
  const pageSize = mem.pageSize;
  const align = pageSize * pow2(getOrder(size, pageSize)) - 1;
  const index = swiotlbFindSlots(dev, mem, 0, size, align);
  if (index === -1) return null;
  const pool = mem.foundPool as IoTlbPool;
  const tlbAddr = pool.start + index * IO_TLB_SIZE;
  if (addrMod(tlbAddr, pageSize) !== 0) {
    mem.warnOnce(dev.name, 'swiotlb-alloc-unaligned', `Cannot allocate pages from non page-aligned swiotlb addr ${hex(tlbAddr)}.`);
    swiotlbReleaseSlots(dev, mem, tlbAddr, pool);
    return null;
  }
  return tlbAddr;
}

/** `swiotlb_free`: false when `tlbAddr` is not the device's swiotlb memory. */
export function swiotlbFree(dev: SwiotlbDevice, tlbAddr: number): boolean {
  checkDev(dev);
  checkAddress(tlbAddr, 'tlbAddr');
  const pool = swiotlbFindPool(dev, tlbAddr);
  if (pool === null) return false;
  const mem = dev.ioTlbMem as IoTlbMem;
  if (swiotlbDelTransient(dev, mem, pool)) return true;
  swiotlbReleaseSlots(dev, mem, tlbAddr, pool);
  return true;
}
