import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaDirectionName,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import { PAGE_OFFSET, type Mm } from '@kdma/mm';
import type { Scatterlist } from '@kdma/scatterlist';
import type { Device } from '../device.js';
import { DMA_MAPPING_ERROR, type DmaMapOps } from '../dma-map-ops.js';
import { dmaToPhys } from '../dma-direct.js';
import type { Machine } from '../machine.js';
import type { SwiotlbBackend } from '../swiotlb-backend.js';
import { swiotlbDmaOps } from '../swiotlb-dma-ops.js';
import { ActiveCachelines } from './cacheline-tracking.js';
import {
  DmaDebugEntryPool,
  PREALLOC_DMA_DEBUG_ENTRIES,
  MAP_ERR_CHECK_NOT_APPLICABLE,
  MAP_ERR_CHECKED,
  MAP_ERR_NOT_CHECKED,
  type DmaDebugEntry,
  type DmaDebugRecord,
  type DmaDebugRef,
  type DmaDebugType,
  type MapErrType,
} from './dma-debug-entry.js';
import { hex016, ptr } from './dma-debug-format.js';
import type { DmaDebug, DmaDebugError, DmaDebugErrorKind } from './dma-debug-hooks.js';
import { DmaDebugHash } from './hash-bucket.js';
import { DmaOwnership, OwnershipSanitizer, type DmaOwner } from './ownership-sanitizer.js';
import { addrMod } from '@kdma/hw';

const SG: DmaDebugType = 'scather-gather';

/**
 * Where the device really accesses a bounced streaming mapping: dma-direct (and the swiotlb ops)
 * hand out the slot's bus address, so a one-piece mapping whose address does not translate back
 * to its buffer but into the swiotlb pool bounces through the slot there. An IOMMU's address is
 * an IOVA, not a bus address, and is left alone.
 */
function bounceSlotOf(record: DmaOwnership, swiotlb: SwiotlbBackend): number {
  const { dev, ranges } = record;
  if (ranges.length !== 2 || (dev.dmaOps !== null && dev.dmaOps !== swiotlbDmaOps)) return -1;
  const phys = dmaToPhys(dev, record.devAddr);
  return phys !== ranges[0] && swiotlb.isBuffer(dev, phys) ? phys : -1;
}

/**
 * The best-fit lookup's perfect match for an unmap of a single mapping: same device, address,
 * size and direction, a single mapping (no sg count).
 */
function isSingleMapping(entry: DmaDebugEntry, dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): boolean {
  return entry.devAddr === dmaAddr && entry.dev === dev && entry.size === size && entry.direction === dir && entry.type === 'single' && entry.sgCallEnts === 0;
}

/** The lookup reference, refilled for every call (the kernel's on-stack `struct dma_debug_entry ref`). */
type ScratchRef = { -readonly [K in keyof DmaDebugRef]: DmaDebugRef[K] };

/**
 * kernel/dma/debug.c (`CONFIG_DMA_API_DEBUG`): every mapping and allocation is recorded in a hash
 * keyed by device address, and every unmap, free and sync is checked against the record, so a
 * driver's misuse is reported where it happens instead of as corrupted data later. It works over
 * any `DmaMapOps` (the consumer API calls the hooks around the ops, as kernel/dma/mapping.c does)
 * and adds the ownership sanitizer, which checks the CPU's and the device's accesses themselves.
 *
 * Reports: the kernel counts every error but prints only the first (`num_errors=1`) unless
 * `all_errors` is set. Here every report is kept, in order, in `errors()` and printed to dmesg as
 * `DMA-API: <device>: <message>` at warning level (the kernel's `WARN()` adds the driver name and
 * a backtrace of the mapping; there is no driver here and no stack is captured).
 *
 * As in the kernel, the stack and kernel-text checks run in the map_page and map_sg hooks (so
 * `dma_map_single` reaches them through map_page), and the sg length check compares the entry's
 * CPU `length`. Deviations, each for a reason given at the check: sg segment checks are always on
 * (the kernel needs `CONFIG_DMA_API_DEBUG_SG`); "syncs DMA memory outside allocated range" can
 * fire (today's kernel looks syncs up by containment, which makes it dead code); coherent
 * allocations are recorded whatever their CPU address (the kernel skips cookies it cannot
 * translate, so their leaks went unseen) and compared by CPU address on free.
 */
export class DmaApiDebug implements DmaDebug {
  private readonly mm: Mm;
  private readonly pageSize: number;
  /** `machine.directOps`: what a device without ops of its own uses (`get_dma_ops`). */
  private readonly directOps: DmaMapOps;
  private readonly hash = new DmaDebugHash();
  private readonly entries = new DmaDebugEntryPool();
  /** Ownership records whose mapping is gone, for reuse (the entries' free list has its own). */
  private readonly freeOwnership: DmaOwnership[] = [];
  private readonly cachelines: ActiveCachelines;
  private readonly sanitizer: OwnershipSanitizer;
  private readonly reports: DmaDebugError[] = [];
  /** Only one lookup is in flight at a time, and nothing keeps the reference: one object serves all. */
  private readonly scratch: ScratchRef;
  /**
   * `_text.._etext` and `__start_rodata..__end_rodata` as physical addresses, read once (the
   * image never moves, and lies in the linear map): the map-time check compares small numbers.
   */
  private readonly textStart: number;
  private readonly textEnd: number;
  private readonly rodataStart: number;
  private readonly rodataEnd: number;

  constructor(private readonly machine: Machine) {
    this.mm = machine.mm;
    this.pageSize = machine.pageSize;
    this.directOps = machine.directOps;
    const { text, rodata } = this.mm.kernelImage;
    this.textStart = text.start - PAGE_OFFSET;
    this.textEnd = text.end - PAGE_OFFSET;
    this.rodataStart = rodata.start - PAGE_OFFSET;
    this.rodataEnd = rodata.end - PAGE_OFFSET;
    this.scratch = { dev: null as unknown as Device, devAddr: 0, size: 0, type: 'single', direction: DMA_BIDIRECTIONAL, sgCallEnts: 0, paddr: null, cpuAddr: null };
    this.cachelines = new ActiveCachelines(machine.hw.cacheLineSize, (message) => machine.hw.dmesg.printk('warn', `DMA-API: ${message}`));
    this.sanitizer = new OwnershipSanitizer(
      this.pageSize,
      (dev, kind, message) => this.err(dev, kind, message),
      // Read when needed: the machine sets up swiotlb after dma-debug.
      (record) => (machine.swiotlb === null ? -1 : bounceSlotOf(record, machine.swiotlb)),
    );
    // Subscribed once, for the machine's life: the listener returns at once while nothing is mapped.
    machine.hw.observe(this.sanitizer.onAccess);
  }

  /** Every report so far, oldest first (a snapshot). */
  errors(): readonly DmaDebugError[] {
    return this.reports.slice();
  }

  /** Live mappings and allocations (the kernel's `nr_total_entries - num_free_entries`). */
  get activeEntries(): number {
    return this.hash.size;
  }

  /**
   * Runs `fn` with the ownership sanitizer off: the DMA core wraps its own accesses to mapped
   * buffers (swiotlb's bounce copies) in it, since those are the protocol, not a violation.
   */
  suppress<T>(fn: () => T): T {
    this.sanitizer.enter();
    try {
      return fn();
    } finally {
      this.sanitizer.exit();
    }
  }

  /** `suppress` without a closure, for the hot paths: pair every call with `exitSuppress` in a `finally`. */
  enterSuppress(): void {
    this.sanitizer.enter();
  }

  /** Ends the innermost `enterSuppress`. */
  exitSuppress(): void {
    this.sanitizer.exit();
  }

  /** `err_printk`. */
  private err(dev: Device, kind: DmaDebugErrorKind, message: string): void {
    this.reports.push(Object.freeze({ device: dev.name, kind, message }));
    this.machine.hw.dmesg.printk('warn', `DMA-API: ${dev.name}: ${message}`);
  }

  // ---- Recording

  /** `add_dma_entry`: the hash, then the active-cacheline check. */
  private addEntry(entry: DmaDebugEntry): void {
    this.hash.add(entry);
    if (this.cachelines.insert(entry) === 'overlap') this.reportCachelineOverlap(entry.dev);
  }

  private reportCachelineOverlap(dev: Device): void {
    this.err(dev, 'cacheline-overlap', "cacheline tracking EEXIST, overlapping mappings aren't supported");
  }

  /** `hash_bucket_del` + `dma_entry_free`. */
  private removeEntry(entry: DmaDebugEntry): void {
    this.hash.remove(entry);
    this.releaseEntry(entry);
  }

  /** `dma_entry_free` of an entry already out of the hash: the cacheline, the sanitizer, the pools. */
  private releaseEntry(entry: DmaDebugEntry): void {
    this.cachelines.remove(entry);
    const ownership = entry.ownership;
    if (ownership !== null) {
      this.sanitizer.untrack(ownership);
      ownership.refs--;
      // An sg list's shared record, once its last entry is gone (a single mapping's record is the
      // entry itself, and goes back with it).
      if (ownership.refs === 0 && ownership !== (entry as object) && this.freeOwnership.length < PREALLOC_DMA_DEBUG_ENTRIES) {
        this.freeOwnership.push(ownership);
      }
    }
    // Every entry comes from the pool (`newEntry`, `entries.alloc`).
    this.entries.release(entry as DmaDebugRecord);
  }

  /** `releaseEntry` of a single or page mapping, which is its own ownership record. */
  private releaseSingle(entry: DmaDebugRecord): void {
    if (entry.cacheline !== null) this.cachelines.remove(entry);
    this.sanitizer.untrack(entry);
    this.entries.release(entry);
  }

  /** An ownership record for a new streaming mapping, recycled when one is free. */
  private newOwnership(dev: Device, type: DmaDebugType, devAddr: number, size: number, dir: DmaDataDirection, owner: DmaOwner, ranges: number[]): DmaOwnership {
    const record = this.freeOwnership.pop();
    if (record === undefined) return new DmaOwnership(dev, type, devAddr, size, dir, ranges, owner);
    record.reuse(dev, type, devAddr, size, dir, owner);
    record.ranges = ranges;
    return record;
  }

  /** `dma_entry_alloc` for a new record. */
  private newEntry(
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    direction: DmaDataDirection,
    sgCallEnts: number,
    paddr: number | null,
    cpuAddr: number | null,
    sgMappedEnts: number,
    mapErrType: MapErrType,
    attrs: number,
    ownership: DmaOwnership | null,
  ): DmaDebugEntry {
    if (ownership !== null) ownership.refs++;
    return this.entries.alloc(dev, type, devAddr, size, direction, sgCallEnts, paddr, cpuAddr, sgMappedEnts, mapErrType, attrs, ownership);
  }

  /** `dma_mapping_error()` as debug.c calls it: the all-ones value, or an old ops' own test. */
  private isMappingError(dev: Device, addr: number): boolean {
    return addr === DMA_MAPPING_ERROR || this.opsMappingError(dev, addr);
  }

  /** An old ops' own `mapping_error` test (none in today's kernels, nor in dma-direct's table). */
  private opsMappingError(dev: Device, addr: number): boolean {
    const ops = dev.dmaOps ?? this.directOps;
    return ops.mappingError !== undefined && ops.mappingError(dev, addr) === true;
  }

  private ref(
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    direction: DmaDataDirection,
    sgCallEnts = 0,
    paddr: number | null = null,
    cpuAddr: number | null = null,
  ): DmaDebugRef {
    const ref = this.scratch;
    ref.dev = dev;
    ref.type = type;
    ref.devAddr = devAddr;
    ref.size = size;
    ref.direction = direction;
    ref.sgCallEnts = sgCallEnts;
    ref.paddr = paddr;
    ref.cpuAddr = cpuAddr;
    return ref;
  }

  // ---- Map-time area checks

  /**
   * `check_for_stack`: a stack buffer shares cache lines with live locals, and with a vmapped
   * stack it is not even physically contiguous. Stacks here are linear-mapped, so the kernel's
   * direct-mapped message applies. Only the start address is tested, as in the kernel.
   */
  private checkForStack(dev: Device, paddr: number): void {
    if (this.mm.isStackAddress(PAGE_OFFSET + paddr)) this.reportStack(dev, PAGE_OFFSET + paddr);
  }

  private reportStack(dev: Device, kva: number): void {
    this.err(dev, 'map-stack', `device driver maps memory from stack [addr=${ptr(kva)}]`);
  }

  /**
   * `check_for_illegal_area`: text and rodata may be read-only or shared with other mappings.
   * Compared by physical address (the linear map is `PAGE_OFFSET + paddr`), reported by `kva`.
   */
  private checkForIllegalArea(dev: Device, paddr: number, len: number): void {
    const end = paddr + len;
    if ((paddr < this.textEnd && end > this.textStart) || (paddr < this.rodataEnd && end > this.rodataStart)) {
      this.reportIllegalArea(dev, PAGE_OFFSET + paddr, len);
    }
  }

  private reportIllegalArea(dev: Device, kva: number, len: number): void {
    this.err(dev, 'map-kernel-text', `device driver maps memory from kernel text or rodata [addr=${ptr(kva)}] [len=${len}]`);
  }

  /**
   * `check_sg_segment`: the list was built longer or wider than the device's `dma_parms` allow
   * (the driver forgot to set them, or whoever built the list ignored them). Like the kernel it
   * compares the entry's CPU `length` with the maximum, and its DMA segment with the boundary;
   * always on here (the kernel needs CONFIG_DMA_API_DEBUG_SG).
   */
  private checkSgSegment(dev: Device, sg: Scatterlist): void {
    const maxSeg = dev.dmaParms.maxSegmentSize;
    if (sg.length > maxSeg) {
      this.err(dev, 'sg-segment-too-long', `mapping sg segment longer than device claims to support [len=${sg.length}] [max=${maxSeg}]`);
    }
    const boundary = dev.dmaParms.segmentBoundaryMask;
    const start = sg.dmaAddress;
    const end = start + sg.dmaLength - 1;
    // (start ^ end) & ~boundary, for a boundary mask of the form 2^n - 1.
    const span = boundary + 1;
    if (Math.floor(start / span) !== Math.floor(end / span)) {
      this.err(
        dev,
        'sg-segment-across-boundary',
        `mapping sg segment across boundary [start=${hex016(start)}] [end=${hex016(end)}] [boundary=${hex016(boundary)}]`,
      );
    }
  }

  /**
   * `debug_dma_map_single`: the address must come from the linear map. A vmalloc address fails
   * both tests, so it gets both reports, as in the kernel.
   */
  mapSingle(dev: Device, kva: number, size: number): void {
    // A valid linear-map address is never a vmalloc one (the linear map ends where vmalloc begins).
    if (!this.mm.virtAddrValid(kva)) this.reportMapSingleArea(dev, kva, size);
  }

  /** The reports of `mapSingle`, kept out of the hot function. */
  private reportMapSingleArea(dev: Device, kva: number, size: number): void {
    this.err(dev, 'map-invalid-area', `device driver maps memory from invalid area [addr=${ptr(kva)}] [len=${size}]`);
    if (this.mm.isVmallocAddress(kva)) {
      this.err(dev, 'map-vmalloc', `device driver maps memory from vmalloc area [addr=${ptr(kva)}] [len=${size}]`);
    }
  }

  // ---- Streaming mappings

  /** `debug_dma_map_page`: a single entry that must be checked with `dma_mapping_error`. */
  mapPage(dev: Device, pfn: number, offset: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void {
    if (dmaAddr === DMA_MAPPING_ERROR || this.opsMappingError(dev, dmaAddr)) return;
    // The map succeeded, so the page is RAM, which the linear map covers: the area checks work on
    // the physical address (`page_address` is `PAGE_OFFSET + paddr`).
    const paddr = pfn * this.pageSize + offset;
    const entry = this.entries.allocSingle(dev, dmaAddr, size, dir, paddr, attrs);
    this.checkForStack(dev, paddr);
    this.checkForIllegalArea(dev, paddr, size);
    this.addEntry(entry);
    this.sanitizer.track(entry);
  }

  /**
   * `debug_dma_mapping_error`: marks the first unchecked entry with this address checked (first
   * fit, since the same buffer may be mapped twice without an IOMMU).
   */
  mappingError(dev: Device, dmaAddr: number): void {
    // The common case without a walk: the bucket's first entry is the mapping just made.
    const first = this.hash.first(dmaAddr);
    if (first !== null && first.devAddr === dmaAddr && first.dev === dev && first.mapErrType === MAP_ERR_NOT_CHECKED) {
      first.mapErrType = MAP_ERR_CHECKED;
      return;
    }
    this.markChecked(first, dev, dmaAddr);
  }

  /** The rest of `mappingError`: the first unchecked entry of the bucket with this device and address. */
  private markChecked(first: DmaDebugEntry | null, dev: Device, dmaAddr: number): void {
    for (let entry = first; entry !== null; entry = entry.hashNext) {
      if (entry.devAddr !== dmaAddr || entry.dev !== dev) continue;
      if (entry.mapErrType === MAP_ERR_NOT_CHECKED) {
        entry.mapErrType = MAP_ERR_CHECKED;
        return;
      }
    }
  }

  /** `debug_dma_unmap_page`. */
  unmapPage(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void {
    // The common case without a walk or a reference: the bucket's first entry is this checked
    // single mapping, so it is the best-fit lookup's first perfect match, with nothing to report.
    const first = this.hash.first(dmaAddr);
    if (first !== null && isSingleMapping(first, dev, dmaAddr, size, dir) && first.mapErrType !== MAP_ERR_NOT_CHECKED) {
      this.hash.remove(first);
      // A single mapping's entry is its own ownership record (`setSingle`).
      this.releaseSingle(first as DmaDebugRecord);
      return;
    }
    this.unmapPageWalk(first, dev, dmaAddr, size, dir);
  }

  /** The rest of `unmapPage`: the same test down the bucket, else the full check. */
  private unmapPageWalk(first: DmaDebugEntry | null, dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void {
    for (let entry = first; entry !== null; entry = entry.hashNext) {
      if (!isSingleMapping(entry, dev, dmaAddr, size, dir)) continue;
      if (entry.mapErrType === MAP_ERR_NOT_CHECKED) break;
      this.hash.remove(entry);
      this.releaseSingle(entry as DmaDebugRecord);
      return;
    }
    this.checkUnmap(this.ref(dev, 'single', dmaAddr, size, dir));
  }

  /** `debug_dma_map_sg`: the area checks on every CPU entry, one record per mapped DMA segment. */
  mapSg(dev: Device, sgl: readonly Scatterlist[], nents: number, mappedEnts: number, dir: DmaDataDirection, attrs: number): void {
    this.recordSg(dev, sgl, nents, mappedEnts, dir, attrs, 'device');
  }

  /**
   * `dma_alloc_noncontiguous`'s `debug_dma_map_sg(dev, sgt->sgl, sgt->orig_nents, 1, dir, attrs)`:
   * recorded as an sg mapping of one segment, but owned by the CPU until the first
   * `dma_sync_sgtable_for_device` (the pages come zeroed from the CPU, like `dma_alloc_pages`).
   */
  allocNoncontiguous(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection, attrs: number): void {
    this.recordSg(dev, sgl, nents, 1, dir, attrs, 'cpu');
  }

  private recordSg(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    mappedEnts: number,
    dir: DmaDataDirection,
    attrs: number,
    owner: DmaOwner,
  ): void {
    const ranges: number[] = [];
    let mappedSize = 0;
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i] as Scatterlist;
      // `page_address` (it also rejects a pfn beyond the linear map), then the physical address.
      const paddr = this.mm.pageAddress(sg.pfn) - PAGE_OFFSET + sg.offset;
      this.checkForStack(dev, paddr);
      this.checkForIllegalArea(dev, paddr, sg.length);
      ranges.push(paddr, sg.length);
      if (i < mappedEnts) mappedSize += sg.dmaLength;
    }
    const first = sgl[0] as Scatterlist;
    const ownership = this.newOwnership(dev, SG, first.dmaAddress, mappedSize, dir, owner, ranges);
    for (let i = 0; i < mappedEnts; i++) {
      const sg = sgl[i] as Scatterlist;
      const paddr = sg.pfn * this.pageSize + sg.offset;
      const entry = this.newEntry(dev, SG, sg.dmaAddress, sg.dmaLength, dir, nents, paddr, null, mappedEnts, MAP_ERR_CHECK_NOT_APPLICABLE, attrs, ownership);
      this.checkSgSegment(dev, sg);
      this.addEntry(entry);
    }
    if (mappedEnts > 0) this.sanitizer.track(ownership);
  }

  /** `get_nr_mapped_entries`: what the map call returned, from the list's first entry. */
  private nrMappedEntries(ref: DmaDebugRef): number {
    return this.hash.findExact(ref)?.sgMappedEnts ?? 0;
  }

  private sgRef(dev: Device, sg: Scatterlist, nents: number, dir: DmaDataDirection): DmaDebugRef {
    return this.ref(dev, SG, sg.dmaAddress, sg.dmaLength, dir, nents, sg.pfn * this.pageSize + sg.offset);
  }

  /**
   * `debug_dma_unmap_sg`: checks the first `sg_mapped_ents` entries (all `nents` when the first is
   * not found, so each of them is reported).
   */
  unmapSg(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void {
    let mappedEnts = 0;
    for (let i = 0; i < nents; i++) {
      const ref = this.sgRef(dev, sgl[i] as Scatterlist, nents, dir);
      if (mappedEnts !== 0 && i >= mappedEnts) break;
      if (i === 0) mappedEnts = this.nrMappedEntries(ref);
      this.checkUnmap(ref);
    }
  }

  /**
   * `debug_dma_alloc_coherent`: always `DMA_BIDIRECTIONAL`, no mapping-error check. The physical
   * address (for the cacheline check) comes from the linear map or the vmalloc page tables;
   * a `DMA_ATTR_NO_KERNEL_MAPPING` cookie has none.
   */
  allocCoherent(dev: Device, size: number, dmaHandle: number, cpuAddr: number, attrs: number): void {
    const paddr = this.coherentPhys(cpuAddr);
    this.addEntry(this.newEntry(dev, 'coherent', dmaHandle, size, DMA_BIDIRECTIONAL, 0, paddr, cpuAddr, 0, MAP_ERR_CHECK_NOT_APPLICABLE, attrs, null));
  }

  /** `virt_to_phys` or `vmalloc_to_pfn` + `offset_in_page`, as debug.c records a coherent buffer. */
  private coherentPhys(cpuAddr: number): number | null {
    if (this.mm.virtAddrValid(cpuAddr)) return this.mm.virtToPhys(cpuAddr);
    const pfn = this.mm.vmallocToPfn(cpuAddr);
    return pfn === null ? null : pfn * this.pageSize + addrMod(cpuAddr, this.pageSize);
  }

  /** `debug_dma_free_coherent`. */
  freeCoherent(dev: Device, size: number, cpuAddr: number, dmaHandle: number): void {
    this.checkUnmap(this.ref(dev, 'coherent', dmaHandle, size, DMA_BIDIRECTIONAL, 0, null, cpuAddr));
  }

  /** `debug_dma_map_resource`: MMIO of another device; not watched by the sanitizer. */
  mapResource(dev: Device, physAddr: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void {
    this.addEntry(this.newEntry(dev, 'resource', dmaAddr, size, dir, 0, physAddr, null, 0, MAP_ERR_NOT_CHECKED, attrs, null));
  }

  /** `debug_dma_unmap_resource`. */
  unmapResource(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void {
    this.checkUnmap(this.ref(dev, 'resource', dmaAddr, size, dir));
  }

  /** `debug_dma_sync_single_for_cpu`: the CPU owns the buffer from here. */
  syncSingleForCpu(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void {
    this.checkSync(this.ref(dev, 'single', dmaAddr, size, dir), true);
  }

  /** `debug_dma_sync_single_for_device`: the device owns it again. */
  syncSingleForDevice(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): void {
    this.checkSync(this.ref(dev, 'single', dmaAddr, size, dir), false);
  }

  /** `debug_dma_sync_sg_for_cpu`. */
  syncSgForCpu(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void {
    this.syncSg(dev, sgl, nents, dir, true);
  }

  /** `debug_dma_sync_sg_for_device`. */
  syncSgForDevice(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection): void {
    this.syncSg(dev, sgl, nents, dir, false);
  }

  /**
   * The sg sync walk: the first `sg_mapped_ents` entries. As in the kernel, a list whose first
   * entry is not mapped at all is skipped without a report.
   */
  private syncSg(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: DmaDataDirection, toCpu: boolean): void {
    let mappedEnts = 0;
    for (let i = 0; i < nents; i++) {
      const ref = this.sgRef(dev, sgl[i] as Scatterlist, nents, dir);
      if (i === 0) mappedEnts = this.nrMappedEntries(ref);
      if (i >= mappedEnts) break;
      this.checkSync(ref, toCpu);
    }
  }

  /** `debug_dma_alloc_pages` (v5.10): a "noncoherent" entry, owned by the CPU until synced for the device. */
  allocPages(dev: Device, pfn: number, size: number, dir: DmaDataDirection, dmaAddr: number, attrs: number): void {
    const paddr = pfn * this.pageSize;
    const entry = this.entries.allocSingle(dev, dmaAddr, size, dir, paddr, attrs);
    // A single piece like a page mapping, but its own type, no mapping-error check, and the CPU's first.
    entry.type = 'noncoherent';
    entry.mapErrType = MAP_ERR_CHECK_NOT_APPLICABLE;
    entry.owner = 'cpu';
    this.addEntry(entry);
    this.sanitizer.track(entry);
  }

  /** `debug_dma_free_pages`. */
  freePages(dev: Device, pfn: number, size: number, dir: DmaDataDirection, dmaAddr: number): void {
    this.checkUnmap(this.ref(dev, 'noncoherent', dmaAddr, size, dir, 0, pfn * this.pageSize));
  }

  /**
   * `dma_debug_device_change(BUS_NOTIFY_UNBOUND_DRIVER)`: the count of what the device still has
   * mapped or allocated and the details of one (the last in hash order, as the kernel picks).
   * The entries stay recorded, as in the kernel; the sanitizer stops watching them.
   */
  deviceRemoved(dev: Device): void {
    let count = 0;
    let leaked: DmaDebugEntry | null = null;
    this.hash.forEach((entry) => {
      if (entry.dev !== dev) return;
      count++;
      leaked = entry;
    });
    this.sanitizer.untrackDevice(dev);
    const entry = leaked as DmaDebugEntry | null;
    if (count === 0 || entry === null) return;
    this.err(
      dev,
      'leak',
      `device driver has pending DMA allocations while released from device [count=${count}]\n` +
        `One of leaked entries details: [device address=${hex016(entry.devAddr)}] [size=${entry.size} bytes] ` +
        `[mapped with ${dmaDirectionName(entry.direction)}] [mapped as ${entry.type}]`,
    );
  }

  // ---- The checks

  /** `check_unmap`: every unmap and free against its record. */
  private checkUnmap(ref: DmaDebugRef): void {
    const entry = this.hash.findExact(ref);
    const { dev } = ref;
    if (entry === null) {
      if (this.isMappingError(dev, ref.devAddr)) {
        this.err(dev, 'free-invalid-address', 'device driver tries to free an invalid DMA memory address');
      } else {
        this.err(
          dev,
          'free-not-allocated',
          `device driver tries to free DMA memory it has not allocated [device address=${hex016(ref.devAddr)}] [size=${ref.size} bytes]`,
        );
      }
      return;
    }
    if (
      ref.size === entry.size &&
      ref.type === entry.type &&
      ref.direction === entry.direction &&
      entry.mapErrType !== MAP_ERR_NOT_CHECKED &&
      (ref.type !== 'coherent' || ref.cpuAddr === entry.cpuAddr) &&
      (ref.type !== 'noncoherent' || ref.paddr === entry.paddr) &&
      (ref.type !== SG || ref.sgCallEnts === entry.sgCallEnts)
    ) {
      // The common case: everything matches, nothing to format.
      this.removeEntry(entry);
      return;
    }
    const addr = hex016(ref.devAddr);
    if (ref.size !== entry.size) {
      this.err(
        dev,
        'free-size-mismatch',
        `device driver frees DMA memory with different size [device address=${addr}] [map size=${entry.size} bytes] [unmap size=${ref.size} bytes]`,
      );
    }
    if (ref.type !== entry.type) {
      this.err(
        dev,
        'free-wrong-function',
        `device driver frees DMA memory with wrong function [device address=${addr}] [size=${ref.size} bytes] [mapped as ${entry.type}] [unmapped as ${ref.type}]`,
      );
    } else if (entry.type === 'coherent' || entry.type === 'noncoherent') {
      // Coherent buffers are compared by the CPU address the driver holds (the kernel compares
      // the physical address behind it); noncoherent pages by their physical address.
      const alloc = entry.type === 'coherent' ? entry.cpuAddr : entry.paddr;
      const free = entry.type === 'coherent' ? ref.cpuAddr : ref.paddr;
      if (alloc !== free && alloc !== null && free !== null) {
        this.err(
          dev,
          'free-cpu-address-mismatch',
          `device driver frees DMA memory with different CPU address [device address=${addr}] [size=${ref.size} bytes] ` +
            `[cpu alloc address=${hex016(alloc)}] [cpu free address=${hex016(free)}]`,
        );
      }
    }
    if (ref.sgCallEnts !== 0 && ref.type === SG && ref.sgCallEnts !== entry.sgCallEnts) {
      this.err(
        dev,
        'free-sg-count-mismatch',
        `device driver frees DMA sg list with different entry count [map count=${entry.sgCallEnts}] [unmap count=${ref.sgCallEnts}]`,
      );
    }
    // "This may be no bug in reality - but most implementations of the DMA API don't handle this properly."
    if (ref.direction !== entry.direction) {
      this.err(
        dev,
        'free-direction-mismatch',
        `device driver frees DMA memory with different direction [device address=${addr}] [size=${ref.size} bytes] ` +
          `[mapped with ${dmaDirectionName(entry.direction)}] [unmapped with ${dmaDirectionName(ref.direction)}]`,
      );
    }
    if (entry.mapErrType === MAP_ERR_NOT_CHECKED) {
      // The kernel's text has no space before the first '['.
      this.err(
        dev,
        'map-error-not-checked',
        `device driver failed to check map error[device address=${addr}] [size=${ref.size} bytes] [mapped as ${entry.type}]`,
      );
    }
    this.removeEntry(entry);
  }

  /**
   * `check_sync`: the sync must lie inside a mapping of this device and go the mapping's way. It
   * also hands the buffer to the CPU or the device for the ownership sanitizer.
   */
  private checkSync(ref: DmaDebugRef, toCpu: boolean): void {
    const { dev } = ref;
    let entry = this.hash.findContain(ref);
    if (entry === null) {
      entry = this.hash.findStartInside(ref);
      if (entry === null) {
        this.err(
          dev,
          'sync-not-allocated',
          `device driver tries to sync DMA memory it has not allocated [device address=${hex016(ref.devAddr)}] [size=${ref.size} bytes]`,
        );
        return;
      }
      // Starts inside a mapping and runs past its end: 2.6.30's "offset+size" against the mapping.
      this.err(
        dev,
        'sync-out-of-range',
        `device driver syncs DMA memory outside allocated range [device address=${hex016(entry.devAddr)}] ` +
          `[allocation size=${entry.size} bytes] [sync offset+size=${ref.devAddr - entry.devAddr + ref.size}]`,
      );
    }
    if (entry.ownership !== null) this.sanitizer.setOwner(entry.ownership, toCpu ? 'cpu' : 'device');

    if (entry.direction === DMA_BIDIRECTIONAL) return;
    if (ref.direction === entry.direction && (ref.type !== SG || ref.sgCallEnts === entry.sgCallEnts)) return;
    const addr = hex016(ref.devAddr);
    const dirs = `[mapped with ${dmaDirectionName(entry.direction)}] [synced with ${dmaDirectionName(ref.direction)}]`;
    if (ref.direction !== entry.direction) {
      this.err(dev, 'sync-direction-mismatch', `device driver syncs DMA memory with different direction [device address=${addr}] [size=${entry.size} bytes] ${dirs}`);
    }
    if (toCpu && entry.direction !== DMA_FROM_DEVICE && ref.direction !== DMA_TO_DEVICE) {
      this.err(dev, 'sync-read-only-for-cpu', `device driver syncs device read-only DMA memory for cpu [device address=${addr}] [size=${entry.size} bytes] ${dirs}`);
    }
    if (!toCpu && entry.direction !== DMA_TO_DEVICE && ref.direction !== DMA_FROM_DEVICE) {
      this.err(dev, 'sync-write-only-for-device', `device driver syncs device write-only DMA memory to device [device address=${addr}] [size=${entry.size} bytes] ${dirs}`);
    }
    if (ref.sgCallEnts !== 0 && ref.type === SG && ref.sgCallEnts !== entry.sgCallEnts) {
      this.err(
        dev,
        'sync-sg-count-mismatch',
        `device driver syncs DMA sg list with different entry count [map count=${entry.sgCallEnts}] [sync count=${ref.sgCallEnts}]`,
      );
    }
  }
}
