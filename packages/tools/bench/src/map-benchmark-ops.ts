/**
 * `struct map_benchmark_ops` of kernel/dma/map_benchmark.c (2025): what one benchmark thread
 * prepares, re-initialises before each map, maps and unmaps, per mode — `dma_map_single` of
 * `granule` pages from `alloc_pages_exact`, or `dma_map_sg` of `granule` single pages from
 * `__get_free_page` (here `dmaMapSgtable`, which checks and records the count the same way).
 */
import {
  DMA_FROM_DEVICE,
  dmaMappingError,
  dmaMapSingle,
  dmaMapSgtable,
  dmaUnmapSgtable,
  dmaUnmapSingle,
  type Device,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { sgAllocTable, sgSetPage, type SgTable } from '@kdma/scatterlist';
import { MapBenchmarkError } from './errors.js';
import type { BenchMode } from './options.js';

/** The 0x66 the kernel stains the buffer with: "66 means everything goes well! 66 is lucky." */
const STAIN = 0x66;

/** The kthread's -ENOMEM, with the kernel's last complaint (e.g. swiotlb's) to say why. */
function mapFailed(machine: Machine, message: string): MapBenchmarkError {
  const last = machine.hw.dmesg.entries().at(-1);
  return new MapBenchmarkError(last === undefined ? message : `${message} (dmesg: ${last.message})`, 'ENOMEM');
}

/** One thread's buffer and its map/unmap, timed by the caller. */
export interface MapBenchmarkOps {
  /** `initialize_data`: stain the cache unless the device only writes (FROM_DEVICE). */
  initializeData(): void;
  /** `do_map`: maps; throws MapBenchmarkError as the kthread returns -ENOMEM. */
  doMap(): void;
  /** `do_unmap`. */
  doUnmap(): void;
  /** The first DMA address of the current mapping. */
  readonly dmaAddress: number;
  /** DMA segments of the current mapping (1 in single mode; `sgt.nents` in SG mode). */
  readonly dmaSegments: number;
  /** The DMA address of segment `i` of the current mapping. */
  segmentAddress(i: number): number;
  /** `unprepare`: frees the buffer. */
  unprepare(): void;
}

/** `dma_single_map_benchmark_ops`. */
class SingleMapOps implements MapBenchmarkOps {
  private readonly size: number;
  private readonly pfn: number;
  private readonly kva: number;
  private addr = 0;

  constructor(
    private readonly machine: Machine,
    private readonly dev: Device,
    granule: number,
    private readonly dir: DmaDataDirection,
  ) {
    this.size = granule * machine.pageSize;
    const pfn = machine.mm.allocPagesExact(this.size);
    if (pfn === null) throw new MapBenchmarkError(`alloc_pages_exact(${this.size}) failed`, 'ENOMEM');
    this.pfn = pfn;
    this.kva = machine.mm.pageAddress(pfn);
  }

  initializeData(): void {
    if (this.dir !== DMA_FROM_DEVICE) this.machine.cpu.fill(this.kva, this.size, STAIN);
  }

  doMap(): void {
    const addr = dmaMapSingle(this.dev, this.kva, this.size, this.dir);
    if (dmaMappingError(this.dev, addr) !== 0) throw mapFailed(this.machine, `dma_map_single failed on ${this.dev.name}`);
    this.addr = addr;
  }

  doUnmap(): void {
    dmaUnmapSingle(this.dev, this.addr, this.size, this.dir);
  }

  get dmaAddress(): number {
    return this.addr;
  }

  get dmaSegments(): number {
    return 1;
  }

  segmentAddress(): number {
    return this.addr;
  }

  unprepare(): void {
    this.machine.mm.freePagesExact(this.pfn, this.size);
  }
}

/** `dma_sg_map_benchmark_ops`: `granule` entries of one page each. */
class SgMapOps implements MapBenchmarkOps {
  private readonly sgt: SgTable;
  private readonly kvas: number[] = [];

  constructor(
    private readonly machine: Machine,
    private readonly dev: Device,
    granule: number,
    private readonly dir: DmaDataDirection,
  ) {
    const pageSize = machine.pageSize;
    this.sgt = sgAllocTable(granule);
    for (const sg of this.sgt.sgl) {
      const pfn = machine.mm.allocPages(0);
      if (pfn === null) {
        this.unprepare();
        throw new MapBenchmarkError('__get_free_page failed', 'ENOMEM');
      }
      this.kvas.push(machine.mm.pageAddress(pfn));
      sgSetPage(sg, pfn, pageSize, 0);
    }
  }

  initializeData(): void {
    if (this.dir === DMA_FROM_DEVICE) return;
    const pageSize = this.machine.pageSize;
    for (const kva of this.kvas) this.machine.cpu.fill(kva, pageSize, STAIN);
  }

  doMap(): void {
    if (dmaMapSgtable(this.dev, this.sgt, this.dir) !== 0) throw mapFailed(this.machine, `dma_map_sg failed on ${this.dev.name}`);
  }

  doUnmap(): void {
    dmaUnmapSgtable(this.dev, this.sgt, this.dir);
  }

  get dmaAddress(): number {
    return this.sgt.sgl[0]?.dmaAddress ?? 0;
  }

  get dmaSegments(): number {
    return this.sgt.nents;
  }

  segmentAddress(i: number): number {
    return this.sgt.sgl[i]?.dmaAddress ?? 0;
  }

  unprepare(): void {
    for (const kva of this.kvas) this.machine.mm.freePages(this.machine.mm.virtToPfn(kva), 0);
    this.kvas.length = 0;
  }
}

/** `prepare` for `mode`: the thread's buffer, allocated on its own CPU as the kthread allocates it. */
export function prepareMapBenchmark(mode: BenchMode, machine: Machine, dev: Device, granule: number, dir: DmaDataDirection): MapBenchmarkOps {
  return mode === 'single' ? new SingleMapOps(machine, dev, granule, dir) : new SgMapOps(machine, dev, granule, dir);
}
