/**
 * The slot allocator of kernel/dma/swiotlb.c (v6.10+): `swiotlb_search_pool_area`, the search over
 * areas and pools (`swiotlb_find_slots`, with the transient pool of a dynamic swiotlb), and
 * `swiotlb_release_slots`. The `list` counters make both directions O(slots touched): a free run
 * of n slots starts wherever `list >= n`, and allocating or freeing only rewrites the counters of
 * the run and of the free slots just before it in the same segment.
 */
import { IO_TLB_SEGSIZE, IO_TLB_SEGMENT_BYTES, IO_TLB_SIZE, INVALID_PHYS_ADDR, nrSlots } from './io-tlb.js';
import { swiotlbAllocPool, swiotlbFreePool, type IoTlbMem } from './io-tlb-mem.js';
import type { IoTlbPool } from './io-tlb-pool.js';
import type { SwiotlbDevice } from './types.js';
import { addrAnd, addrAndNot, addrMod } from '@kdma/hw';

/**
 * `swiotlb_align_offset(dev, align_mask, addr)`: the part of `addr`'s offset the bounce buffer
 * must keep — the `min_align_mask` bits within a slot, or within the allocation alignment when
 * that is coarser (whole padding slots then precede the data, v6.10).
 */
export function swiotlbAlignOffset(dev: SwiotlbDevice, allocAlignMask: number, addr: number): number {
  const minAlign = dev.minAlignMask;
  if (minAlign === 0) return 0;
  const within = allocAlignMask > IO_TLB_SIZE - 1 ? allocAlignMask : IO_TLB_SIZE - 1;
  return addrAnd(addrMod(addr, within + 1), minAlign);
}

/** `get_max_slots(boundary_mask)`: slots per boundary window (shift first, so ~0 does not overflow). */
export function getMaxSlots(boundaryMask: number): number {
  return Math.floor(boundaryMask / IO_TLB_SIZE) + 1;
}

/** `iommu_is_span_boundary(index, nr, shift, boundary_size)`: would slots [index, +nr) cross a window? */
function isSpanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  return ((shift + index) % boundarySize) + nr > boundarySize;
}

/**
 * `swiotlb_search_pool_area`: the first slot of `alloc_size` bytes' worth of free slots in one
 * area, starting at the area's round-robin index, or -1. On success the slots are taken.
 *
 * Rules, in the kernel's order: a mapping of a page or more with no alignment asked is page
 * aligned (the historic rule reinstated in v6.9); the slot address must be aligned to
 * `alloc_align_mask` (at least a slot); the `min_align_mask` bits above it must equal
 * `orig_addr`'s; the run must not cross the device's segment boundary; and `list` must say the
 * run is free. Misaligned candidates advance by one slot, the rest by the stride.
 */
export function swiotlbSearchPoolArea(
  dev: SwiotlbDevice,
  pool: IoTlbPool,
  areaIndex: number,
  origAddr: number,
  allocSize: number,
  allocAlignMask: number,
  pageSize: number,
): number {
  const boundaryMask = dev.segmentBoundaryMask;
  const tblDmaAddr = addrAnd(Math.max(0, pool.start - dev.dmaOffset), boundaryMask);
  const maxSlots = getMaxSlots(boundaryMask);
  let iotlbAlignMask = dev.minAlignMask;
  const nslots = nrSlots(allocSize);
  const offset = swiotlbAlignOffset(dev, 0, origAddr);
  if (nslots === 0) throw new RangeError('allocSize must be at least 1 byte (BUG_ON(!nslots))');

  if (allocAlignMask === 0 && iotlbAlignMask === 0 && allocSize >= pageSize) allocAlignMask = pageSize - 1;
  if (allocAlignMask < IO_TLB_SIZE - 1) allocAlignMask = IO_TLB_SIZE - 1;
  iotlbAlignMask = addrAndNot(iotlbAlignMask, allocAlignMask);
  const stride = getMaxSlots(Math.max(allocAlignMask, iotlbAlignMask));
  const alignModulus = allocAlignMask + 1;

  const areaNslabs = pool.areaNslabs;
  const used = pool.areaUsed[areaIndex] as number;
  if (nslots > areaNslabs - used) return -1;

  const list = pool.list;
  const slotBase = areaIndex * areaNslabs;
  const shift = nrSlots(tblDmaAddr);
  const matchBits = iotlbAlignMask !== 0 && origAddr !== 0;
  const origBits = matchBits ? addrAnd(origAddr, iotlbAlignMask) : 0;
  // The slot address is aligned iff (tblDmaAddr mod M + (slot mod M/2K) * 2K) mod M is 0: small
  // integers only. No candidate can cross a boundary window when the whole pool fits in one.
  const slotsPerAlign = alignModulus / IO_TLB_SIZE;
  const startMod = addrMod(tblDmaAddr, alignModulus);
  const boundaryMatters = (shift % maxSlots) + pool.nslabs > maxSlots;
  let index = pool.areaIndex[areaIndex] as number;
  let slotIndex = -1;
  for (let checked = 0; checked < areaNslabs; ) {
    const candidate = slotBase + index;
    if (
      (startMod + (candidate % slotsPerAlign) * IO_TLB_SIZE) % alignModulus !== 0 ||
      (matchBits && addrAnd(tblDmaAddr + candidate * IO_TLB_SIZE, iotlbAlignMask) !== origBits)
    ) {
      index = index + 1 >= areaNslabs ? 0 : index + 1;
      checked++;
      continue;
    }
    if ((!boundaryMatters || !isSpanBoundary(candidate, nslots, shift, maxSlots)) && (list[candidate] as number) >= nslots) {
      slotIndex = candidate;
      break;
    }
    index = index + stride >= areaNslabs ? 0 : index + stride;
    checked += stride;
  }
  if (slotIndex < 0) return -1;

  // Found: take the run; the free slots just before it in the same segment now end at it.
  const allocSizes = pool.allocSize;
  for (let i = slotIndex; i < slotIndex + nslots; i++) {
    list[i] = 0;
    allocSizes[i] = allocSize - (offset + (i - slotIndex) * IO_TLB_SIZE);
  }
  let count = 0;
  const segmentStart = slotIndex - (slotIndex % IO_TLB_SEGSIZE);
  for (let i = slotIndex - 1; i >= segmentStart && list[i] !== 0; i--) list[i] = ++count;
  pool.areaIndex[areaIndex] = index + nslots >= areaNslabs ? 0 : index + nslots;
  pool.areaUsed[areaIndex] = used + nslots;
  return slotIndex;
}

/**
 * `swiotlb_find_slots`: search every pool of the device's io_tlb_mem, area by area starting with
 * the current CPU's (`swiotlb_search_area`, v6.10); a swiotlb that can grow then queues a new pool
 * and maps this one request into a transient pool of its own. Returns the slot index and leaves
 * the pool in `mem.foundPool`, or -1.
 */
export function swiotlbFindSlots(dev: SwiotlbDevice, mem: IoTlbMem, origAddr: number, allocSize: number, allocAlignMask: number): number {
  const pageSize = mem.pageSize;
  const cpu = mem.hw.currentCpu.id;
  const pools = mem.pools;
  const nareas = Math.max(1, mem.config.defaultNareas);
  if (allocSize <= IO_TLB_SEGMENT_BYTES) {
    for (let i = 0; i < nareas; i++) {
      for (let p = 0; p < pools.length; p++) {
        const pool = pools[p] as IoTlbPool;
        const areaIndex = (cpu + i) % pool.nareas;
        const index = swiotlbSearchPoolArea(dev, pool, areaIndex, origAddr, allocSize, allocAlignMask, pageSize);
        if (index >= 0) return found(dev, mem, pool, index, allocSize);
      }
    }
  }
  if (!mem.canGrow || allocSize > IO_TLB_SEGMENT_BYTES) return -1;

  mem.scheduleDynAlloc();
  const nslabs = nrSlots(allocSize);
  const physLimit = minNotZero(dev.dmaMask, dev.busDmaLimit);
  const pool = swiotlbAllocPool(mem, nslabs, nslabs, 1, physLimit);
  if (pool === null) return -1;
  const index = swiotlbSearchPoolArea(dev, pool, 0, origAddr, allocSize, allocAlignMask, pageSize);
  if (index < 0) {
    // The alignment asked did not fit in a pool of exactly the slots needed.
    swiotlbFreePool(mem, pool);
    return -1;
  }
  pool.transient = true;
  mem.transientNslabs += pool.nslabs;
  dev.ioTlbPools.push(pool);
  return found(dev, mem, pool, index, allocSize);
}

function found(dev: SwiotlbDevice, mem: IoTlbMem, pool: IoTlbPool, index: number, allocSize: number): number {
  mem.incUsed(nrSlots(allocSize));
  dev.usesIoTlb = true;
  mem.foundPool = pool;
  return index;
}

/**
 * `swiotlb_del_transient`: a transient pool dies with its one mapping; true if `pool` was one.
 */
export function swiotlbDelTransient(dev: SwiotlbDevice, mem: IoTlbMem, pool: IoTlbPool): boolean {
  if (!pool.transient) return false;
  mem.decUsed(pool.nslabs);
  mem.transientNslabs -= pool.nslabs;
  const i = dev.ioTlbPools.indexOf(pool);
  if (i >= 0) dev.ioTlbPools.splice(i, 1);
  swiotlbFreePool(mem, pool);
  return true;
}

/**
 * `swiotlb_release_slots`: give the mapping's slots back, padding slots included, merging the run
 * with the free slots after it and renumbering the free slots before it in the same segment.
 */
export function swiotlbReleaseSlots(dev: SwiotlbDevice, mem: IoTlbMem, tlbAddr: number, pool: IoTlbPool): void {
  const offset = swiotlbAlignOffset(dev, 0, tlbAddr);
  let index = Math.floor((tlbAddr - offset - pool.start) / IO_TLB_SIZE);
  index -= pool.padSlots[index] as number;
  const nslots = nrSlots((pool.allocSize[index] as number) + offset);
  const aindex = Math.floor(index / pool.areaNslabs);
  const list = pool.list;
  let count = index + nslots < Math.ceil((index + 1) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE ? (list[index + nslots] ?? 0) : 0;
  for (let i = index + nslots - 1; i >= index; i--) list[i] = ++count;
  pool.origAddr.fill(INVALID_PHYS_ADDR, index, index + nslots);
  pool.allocSize.fill(0, index, index + nslots);
  pool.padSlots.fill(0, index, index + nslots);
  const segmentStart = index - (index % IO_TLB_SEGSIZE);
  for (let i = index - 1; i >= segmentStart && list[i] !== 0; i--) list[i] = ++count;
  pool.areaUsed[aindex] = (pool.areaUsed[aindex] as number) - nslots;
  mem.decUsed(nslots);
}

/** `min_not_zero`. */
function minNotZero(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}
