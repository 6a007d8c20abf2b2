/**
 * Kernel memory of one machine (`machine.mm`): the page allocator and its zones, CMA, the linear
 * map, vmalloc and the consistent area with the kernel page tables, kmalloc, the kernel image and
 * kernel stacks, and user processes. Everything belongs to this instance; construction is cheap
 * even for 64 GiB (metadata is typed arrays, free lists are built from whole max-order blocks).
 */
import { checkAddress, checkInteger, hex, isPowerOfTwo, pow2 } from '@kdma/hw';
import type { MemoryRegion, MemoryType } from '@kdma/hw';
import { Cma, placeCma } from './cma.js';
import { GFP_KERNEL, __GFP_ZERO } from './gfp.js';
import type { ZoneType } from './gfp.js';
import type { PhysicalCpuAccess } from './hardware.js';
import { inKernelRange, layoutKernelImage } from './kernel-image.js';
import type { KernelImage } from './kernel-image.js';
import { KernelCpu } from './kernel-cpu.js';
import { Kmalloc } from './kmalloc.js';
import type { SlabInfo } from './kmalloc.js';
import { CONSISTENT_BASE, LINEAR_MAP_END, NO_KERNEL_MAPPING_BASE, PAGE_OFFSET, VMALLOC_START } from './layout.js';
import { MemMap } from './memmap.js';
import { DEFAULT_MAX_ORDER, PAGE_CMA, PAGE_RESERVED, PageAllocator } from './page-alloc.js';
import type { BuddyInfo, PageState, ReservedPfnRange } from './page-alloc.js';
import { KernelPageTable } from './pgtable.js';
import type { Pgprot } from './pgprot.js';
import { MmStruct, Process } from './process.js';
import { DEFAULT_THREAD_SIZE, ThreadStacks } from './thread-stack.js';
import { VmapSpace } from './vmalloc.js';
import type { VmArea } from './vmalloc.js';
import { NORMAL_ONLY_ZONES, Zones } from './zones.js';
import type { ZoneSpec } from './zones.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** How to build kernel memory; every member has a default. */
export interface MmOptions {
  /** PAGE_SIZE: a power of two from 4 KiB to 64 KiB (default 4096). */
  readonly pageSize?: number;
  /** The arch's zones, ascending, the last ending at Infinity (default: one NORMAL zone). */
  readonly zones?: readonly ZoneSpec[];
  /** The largest buddy order (MAX_ORDER - 1; default 10). */
  readonly maxOrder?: number;
  /** Bytes of the CMA area, a whole number of pages (default 0: none). */
  readonly cmaBytes?: number;
  /** CMA lies below this physical address (default 4 GiB, or all memory when none is below it). */
  readonly cmaLimit?: number;
  /** Bytes of the vmalloc area (default 240 MiB, 32-bit ARM's). */
  readonly vmallocSize?: number;
  /** Bytes of the ARM consistent DMA area (default 0: none). */
  readonly consistentSize?: number;
  /** ARCH_KMALLOC_MINALIGN (default 8). */
  readonly kmallocMinAlign?: number;
  /** Bytes of the kernel image (default 8 MiB). */
  readonly kernelImageSize?: number;
  /** Physical address of the kernel image (default: the start of RAM). */
  readonly kernelImageBase?: number;
  /** THREAD_SIZE (default 16 KiB). */
  readonly threadSize?: number;
  /** RAM reserved at boot for platform use (reserved-memory nodes); never in the buddy lists. */
  readonly reserved?: readonly MemoryRegion[];
}

/** `machine.mm.stats()`: bytes, except freePages (pages); 0 where the area does not exist. */
export interface MmStats {
  readonly vmallocUsed: number;
  readonly vmallocTotal: number;
  readonly consistentUsed: number;
  readonly consistentTotal: number;
  /** Free pages in the buddy lists (free CMA pages are not counted). */
  readonly freePages: number;
  readonly cmaUsed: number;
  readonly cmaTotal: number;
  /** RAM pages (managed or reserved). */
  readonly totalPages: number;
}

function option(value: number | undefined, fallback: number, name: string, min: number, max: number): number {
  const v = value ?? fallback;
  checkInteger(v, name, min, max);
  return v;
}

function pageMultiple(value: number, pageSize: number, name: string): void {
  if (value % pageSize !== 0) throw new RangeError(`${name} must be a multiple of the page size ${pageSize}, got ${value}`);
}

export class Mm {
  /** PAGE_SIZE. */
  readonly pageSize: number;
  /** The largest order allocPages can satisfy. */
  readonly maxOrder: number;
  /** The zone names of this machine, ascending. */
  readonly zoneNames: readonly ZoneType[];
  /** The kernel image's text, rodata and data ranges (linear kvas). */
  readonly kernelImage: KernelImage;
  /** The CPU as kernel code uses it (machine.cpu). */
  readonly cpu: KernelCpu;
  /** The kernel's page tables (vmalloc, consistent, and the implicit linear map). */
  readonly kernelPageTable: KernelPageTable;
  /** The buddy allocator (for reports and provider code). */
  readonly pageAllocator: PageAllocator;
  /** The CMA area, or null. */
  readonly cma: Cma | null;
  readonly vmallocSpace: VmapSpace;
  readonly consistentSpace: VmapSpace;
  private readonly hw: PhysicalCpuAccess;
  private readonly memmap: MemMap;
  private readonly zones: Zones;
  private readonly slab: Kmalloc;
  private readonly stacks: ThreadStacks;
  private nextPid = 1;
  private readonly reservedRanges: readonly ReservedPfnRange[];

  constructor(hw: PhysicalCpuAccess, options: MmOptions = {}) {
    if (typeof hw !== 'object' || hw === null) throw new TypeError('hw must be the machine hardware');
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.hw = hw;
    const pageSize = option(options.pageSize, 4096, 'options.pageSize', 4096, 65536);
    if (!isPowerOfTwo(pageSize)) throw new RangeError(`options.pageSize must be a power of two, got ${pageSize}`);
    this.pageSize = pageSize;
    this.maxOrder = option(options.maxOrder, DEFAULT_MAX_ORDER, 'options.maxOrder', 0, 30);
    this.memmap = new MemMap(hw.ram.regions, pageSize);
    this.zones = new Zones(options.zones ?? NORMAL_ONLY_ZONES, this.memmap);
    this.zoneNames = this.zones.names;

    // The kernel image: reserved at boot (memblock_reserve of _text.._end).
    const firstRam = this.memmap.region(0)[0] * pageSize;
    const imageSize = option(options.kernelImageSize, 8 * MiB, 'options.kernelImageSize', 0, 2 ** 48);
    pageMultiple(imageSize, pageSize, 'options.kernelImageSize');
    const imageBase = option(options.kernelImageBase, firstRam, 'options.kernelImageBase', 0, 2 ** 48);
    pageMultiple(imageBase, pageSize, 'options.kernelImageBase');
    const imageStart = imageBase / pageSize;
    const imageEnd = (imageBase + imageSize) / pageSize;
    if (imageSize > 0 && !this.memmap.isRamRange(imageStart, imageEnd)) {
      throw new RangeError(`options.kernelImageSize ${imageSize} at ${hex(imageBase)} does not fit in RAM`);
    }
    this.kernelImage = layoutKernelImage(imageBase, imageSize, pageSize);
    const reserved: ReservedPfnRange[] = [];
    if (imageSize > 0) reserved.push({ startPfn: imageStart, endPfn: imageEnd, state: PAGE_RESERVED });
    this.reservedRanges = (options.reserved ?? []).map((region, i) => {
      const name = `options.reserved[${i}]`;
      checkAddress(region?.base, `${name}.base`);
      checkAddress(region?.size, `${name}.size`);
      pageMultiple(region.base, pageSize, `${name}.base`);
      pageMultiple(region.size, pageSize, `${name}.size`);
      const startPfn = region.base / pageSize;
      const endPfn = startPfn + region.size / pageSize;
      if (region.size === 0 || !this.memmap.isRamRange(startPfn, endPfn)) {
        throw new RangeError(`${name} [${hex(region.base)}, +${hex(region.size)}) is not inside RAM`);
      }
      if (reserved.some((r) => startPfn < r.endPfn && r.startPfn < endPfn)) {
        throw new RangeError(`${name} [${hex(region.base)}, +${hex(region.size)}) overlaps another reserved range`);
      }
      const range = { startPfn, endPfn, state: PAGE_RESERVED } as const;
      reserved.push(range);
      return range;
    });

    // CMA: dma_contiguous_reserve() at the top of memory below the limit, max-order aligned.
    const cmaBytes = option(options.cmaBytes, 0, 'options.cmaBytes', 0, 2 ** 48);
    pageMultiple(cmaBytes, pageSize, 'options.cmaBytes');
    this.cma = null;
    if (cmaBytes > 0) {
      const lowRam = firstRam < 4 * GiB;
      const limit = options.cmaLimit ?? (lowRam ? 4 * GiB : Infinity);
      if (limit !== Infinity) checkAddress(limit, 'options.cmaLimit');
      const pages = cmaBytes / pageSize;
      const base = placeCma(this.memmap, pages, Math.floor(limit / pageSize), pow2(this.maxOrder), reserved.map((r) => [r.startPfn, r.endPfn]));
      if (base === null) {
        throw new RangeError(`options.cmaBytes ${cmaBytes} does not fit in RAM below options.cmaLimit ${limit === Infinity ? 'Infinity' : hex(limit)}`);
      }
      this.cma = new Cma(base, pages);
      reserved.push({ startPfn: base, endPfn: base + pages, state: PAGE_CMA });
    }
    this.pageAllocator = new PageAllocator(hw, this.memmap, this.zones, this.maxOrder, reserved);

    const vmallocSize = option(options.vmallocSize, 240 * MiB, 'options.vmallocSize', 0, CONSISTENT_BASE - VMALLOC_START);
    pageMultiple(vmallocSize, pageSize, 'options.vmallocSize');
    const consistentSize = option(options.consistentSize, 0, 'options.consistentSize', 0, NO_KERNEL_MAPPING_BASE - CONSISTENT_BASE);
    pageMultiple(consistentSize, pageSize, 'options.consistentSize');
    this.vmallocSpace = new VmapSpace('vmalloc', hw, this.pageAllocator, VMALLOC_START, vmallocSize, pageSize, 1);
    // ARM's consistent region (arm_vmregion) had no guard pages between its areas.
    this.consistentSpace = new VmapSpace('consistent', hw, this.pageAllocator, CONSISTENT_BASE, consistentSize, pageSize, 0);

    const minAlign = option(options.kmallocMinAlign, 8, 'options.kmallocMinAlign', 1, pageSize);
    this.slab = new Kmalloc(hw, this.pageAllocator, pageSize, minAlign);
    const threadSize = option(options.threadSize, DEFAULT_THREAD_SIZE, 'options.threadSize', 1024, 2 ** 30);
    this.stacks = new ThreadStacks(this.pageAllocator, pageSize, threadSize);

    this.kernelPageTable = new KernelPageTable(this.memmap, [this.kernelImage.text.start, this.kernelImage.rodata.end], [this.vmallocSpace, this.consistentSpace]);
    this.cpu = new KernelCpu(hw, this);
  }

  // --- the page allocator -------------------------------------------------------------------

  /** alloc_pages(): the first pfn of 2^order free pages, or null (pfn 0 is a valid page). */
  allocPages(order: number, gfp: number = GFP_KERNEL): number | null {
    return this.pageAllocator.allocPages(order, gfp);
  }

  /** __free_pages(); a double free or a wrong order throws (the kernel's Bad page state). */
  freePages(pfn: number, order: number): void {
    this.pageAllocator.freePages(pfn, order);
  }

  /** split_page(). */
  splitPage(pfn: number, order: number): void {
    this.pageAllocator.splitPage(pfn, order);
  }

  /** alloc_pages_exact() → pfn or null. */
  allocPagesExact(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.pageAllocator.allocPagesExact(size, gfp);
  }

  /** free_pages_exact(). */
  freePagesExact(pfn: number, size: number): void {
    this.pageAllocator.freePagesExact(pfn, size);
  }

  /** The zone name of a RAM pfn (page_zone), or null when there is no RAM there. */
  zoneOf(pfn: number): ZoneType | null {
    checkInteger(pfn, 'pfn');
    const span = this.zones.spanOfPfn(pfn);
    return span < 0 ? null : (this.zones.names[this.zones.spanZone[span] as number] as ZoneType);
  }

  /** What the page at pfn is part of (free, allocated, reserved, cma) or null without RAM. */
  pageState(pfn: number): PageState | null {
    checkInteger(pfn, 'pfn');
    return this.pageAllocator.pageState(pfn);
  }

  /**
   * True when `[pfn, pfn + count)` lies inside one range the platform reserved at boot
   * (`options.reserved`: the device tree's reserved-memory, memblock_reserve) — memory the
   * kernel never hands out, that a driver may claim (`dma_declare_coherent_memory`).
   */
  isReservedRange(pfn: number, count: number): boolean {
    return this.reservedRanges.some((range) => pfn >= range.startPfn && pfn + count <= range.endPfn);
  }

  /** page_count() != 0: allocated by the buddy allocator, reserved, or allocated from CMA. */
  isPageInUse(pfn: number): boolean {
    if (!Number.isSafeInteger(pfn) || pfn < 0) return false;
    const state = this.pageAllocator.pageState(pfn);
    if (state === 'cma') return (this.cma as Cma).isAllocated(pfn);
    return state === 'allocated' || state === 'reserved';
  }

  /** /proc/buddyinfo. */
  buddyinfo(): BuddyInfo[] {
    return this.pageAllocator.buddyinfo();
  }

  // --- CMA ------------------------------------------------------------------------------------

  /** cma_alloc() on the default area: `count` pages aligned to 2^alignOrder pages → pfn or null. */
  cmaAlloc(count: number, alignOrder = 0): number | null {
    if (this.cma === null) {
      checkInteger(count, 'count');
      checkInteger(alignOrder, 'alignOrder', 0, 40);
      return null;
    }
    return this.cma.alloc(count, alignOrder);
  }

  /** cma_release(): false when the pages are not CMA's. */
  cmaRelease(pfn: number, count: number): boolean {
    if (this.cma === null) {
      checkInteger(pfn, 'pfn');
      checkInteger(count, 'count', 1);
      return false;
    }
    return this.cma.release(pfn, count);
  }

  // --- the linear map ---------------------------------------------------------------------------

  /** page_address(): the linear-map kva of a pfn. */
  pageAddress(pfn: number): number {
    checkInteger(pfn, 'pfn', 0, (LINEAR_MAP_END - PAGE_OFFSET) / this.pageSize - 1);
    return PAGE_OFFSET + pfn * this.pageSize;
  }

  /** virt_to_phys() / __pa(): only for linear-map addresses (throws for vmalloc and others). */
  virtToPhys(kva: number): number {
    checkAddress(kva, 'kva');
    if (kva < PAGE_OFFSET || kva >= LINEAR_MAP_END) {
      throw new RangeError(`kva ${hex(kva)} is not a linear-map address: virt_to_phys() only translates lowmem (use vmallocToPfn for vmalloc)`);
    }
    return kva - PAGE_OFFSET;
  }

  /** phys_to_virt() / __va(). */
  physToVirt(paddr: number): number {
    checkInteger(paddr, 'paddr', 0, LINEAR_MAP_END - PAGE_OFFSET - 1);
    return PAGE_OFFSET + paddr;
  }

  /** virt_addr_valid(): a linear-map address with RAM behind it. */
  virtAddrValid(kva: number): boolean {
    if (!Number.isSafeInteger(kva) || kva < PAGE_OFFSET || kva >= LINEAR_MAP_END) return false;
    // pfn_valid() of an integer already: its region lookup alone (every dma_map_single runs this).
    return this.memmap.regionOf(Math.floor((kva - PAGE_OFFSET) / this.pageSize)) >= 0;
  }

  /** pfn_valid(): a RAM page. */
  pfnValid(pfn: number): boolean {
    return this.memmap.pfnValid(pfn);
  }

  /** virt_to_pfn() for linear-map addresses. */
  virtToPfn(kva: number): number {
    return Math.floor(this.virtToPhys(kva) / this.pageSize);
  }

  // --- vmalloc, vmap and the consistent area ------------------------------------------------------

  /** vmalloc(): `size` bytes of scattered pages mapped contiguously, or null. */
  vmalloc(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.vmallocSpace.vmalloc(size, gfp);
  }

  /** vzalloc(). */
  vzalloc(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.vmallocSpace.vmalloc(size, gfp | __GFP_ZERO);
  }

  /** vfree(); null is ignored. */
  vfree(kva: number | null): void {
    this.vmallocSpace.vfree(kva);
  }

  /** vmap(pages, count, VM_MAP, prot): maps `pfns` contiguously → kva or null when full. */
  vmap(pfns: readonly number[], pgprot: Pgprot): number | null {
    return this.vmallocSpace.vmap(pfns, pgprot);
  }

  /** vunmap(). */
  vunmap(kva: number): void {
    this.vmallocSpace.vunmap(kva);
  }

  /** is_vmalloc_addr(). */
  isVmallocAddress(kva: number): boolean {
    return this.vmallocSpace.contains(kva);
  }

  /** vmalloc_to_pfn() (also for the consistent area); null when nothing is mapped there. */
  vmallocToPfn(kva: number): number | null {
    return this.consistentSpace.contains(kva) ? this.consistentSpace.toPfn(kva) : this.vmallocSpace.toPfn(kva);
  }

  /** The vmalloc/vmap area holding `kva` (guard page included), if any: find_vm_area(). */
  findVmArea(kva: number): VmArea | undefined {
    return this.vmallocSpace.find(kva) ?? this.consistentSpace.find(kva);
  }

  /** Maps `pfns` into ARM's consistent DMA area with `pgprot` → kva, or null when it is full (or absent). */
  consistentMap(pfns: readonly number[], pgprot: Pgprot, align?: number): number | null {
    return this.consistentSpace.vmap(pfns, pgprot, align);
  }

  /** Unmaps a consistentMap() area. */
  consistentUnmap(kva: number): void {
    this.consistentSpace.vunmap(kva);
  }

  /** Is `kva` in the consistent area? */
  isConsistentAddress(kva: number): boolean {
    return this.consistentSpace.contains(kva);
  }

  // --- kmalloc ------------------------------------------------------------------------------------

  /** kmalloc(): minAlign-aligned, linear-mapped bytes → kva or null. */
  kmalloc(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.slab.kmalloc(size, gfp);
  }

  /** kzalloc(). */
  kzalloc(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.slab.kmalloc(size, gfp | __GFP_ZERO);
  }

  /** kfree(); null is ignored, a non-kmalloc address throws. */
  kfree(kva: number | null): void {
    this.slab.kfree(kva);
  }

  /** ksize(). */
  ksize(kva: number): number {
    return this.slab.ksize(kva);
  }

  /**
   * `kmem_cache_shrink()` of every kmalloc cache: the empty slabs SLUB keeps cached (while a
   * cache's partial list is shorter than `min_partial`) go back to the page allocator, so that
   * freeing everything and shrinking restores the free page count. Returns the pages freed.
   */
  kmemCacheShrink(): number {
    return this.slab.shrink();
  }

  /** ARCH_KMALLOC_MINALIGN of this machine. */
  get kmallocMinAlign(): number {
    return this.slab.minAlign;
  }

  /** /proc/slabinfo of the kmalloc caches. */
  slabinfo(): SlabInfo[] {
    return this.slab.slabinfo();
  }

  // --- kernel image and stacks ----------------------------------------------------------------

  /** A kernel stack (THREAD_SIZE by default) → its lowest kva (linear), or null. */
  stackAlloc(size?: number): number | null {
    return this.stacks.alloc(size);
  }

  /** Frees a stack from stackAlloc(). */
  stackFree(kva: number): void {
    this.stacks.free(kva);
  }

  /** Is `kva` on a live kernel stack? (dma-debug's check_for_stack) */
  isStackAddress(kva: number): boolean {
    return this.stacks.isStackAddress(kva);
  }

  /** THREAD_SIZE. */
  get threadSize(): number {
    return this.stacks.threadSize;
  }

  /** In _text.._etext? */
  isKernelText(kva: number): boolean {
    return inKernelRange(this.kernelImage.text, kva);
  }

  /** In __start_rodata..__end_rodata? */
  isKernelRodata(kva: number): boolean {
    return inKernelRange(this.kernelImage.rodata, kva);
  }

  // --- page tables --------------------------------------------------------------------------------

  /** The physical address the CPU reaches at `kva`; CpuFault when it is not mapped. */
  kvaToPhys(kva: number): number {
    checkAddress(kva, 'kva');
    return this.kernelPageTable.kvaToPhys(kva);
  }

  /** The memory type of the kernel mapping at `kva`; CpuFault when it is not mapped. */
  memoryTypeAt(kva: number): MemoryType {
    checkAddress(kva, 'kva');
    return this.kernelPageTable.memoryTypeAt(kva);
  }

  // --- processes ----------------------------------------------------------------------------------

  /** A new user process with an empty address space. */
  createProcess(): Process {
    const pid = this.nextPid++;
    return new Process(this.hw, pid, new MmStruct(this.pageSize, (pfn) => this.isPageInUse(pfn)));
  }

  // --- statistics ---------------------------------------------------------------------------------

  /** The numbers DESIGN.md names (bytes; pages for freePages and totalPages). */
  stats(): MmStats {
    const cma = this.cma;
    return {
      vmallocUsed: this.vmallocSpace.used,
      vmallocTotal: this.vmallocSpace.total,
      consistentUsed: this.consistentSpace.used,
      consistentTotal: this.consistentSpace.total,
      freePages: this.pageAllocator.freePageCount,
      cmaUsed: cma === null ? 0 : cma.usedPages * this.pageSize,
      cmaTotal: cma === null ? 0 : cma.count * this.pageSize,
      totalPages: this.memmap.totalPages,
    };
  }
}
