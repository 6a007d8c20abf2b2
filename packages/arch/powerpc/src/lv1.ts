import { alignUp, type DmaFaultKind, hex, isAligned, isPowerOfTwo, pow2, type TranslationRun } from '@kdma/hw';
import type { Machine } from '@kdma/dma-mapping/ops';
import { CBE_IOPTE_PP_R, CBE_IOPTE_PP_W } from './cell-iommu.js';
import type { DmaWindow } from './io-page-table.js';

/*
 * The PS3's lv1 hypervisor, as far as DMA goes (asm/lv1call.h). Linux on the PS3 runs as a guest:
 * it cannot write IOPTEs itself, it asks lv1 — for a system-bus (SB) device a DMA region of the
 * device's own IO address space mapped onto partition memory, for IOC0 devices IO segments of IO
 * address space 0 whose IOPTEs it sets one by one. kdma's `Lv1` records every call with its
 * arguments and status, and owns the translations the devices' bus masters walk.
 */

/** lv1 status codes (`enum lv1_result`). */
export const LV1_SUCCESS = 0;
export const LV1_RESOURCE_SHORTAGE = -2;
export const LV1_NO_ENTRY = -6;
export const LV1_ILLEGAL_PARAMETER_VALUE = -17;
export const LV1_ALIGNMENT_ERROR = -23;

/** Where lv1 places an SB device's DMA regions in that device's IO address space. */
export const PS3_SB_IO_BASE = 0x8000_0000;
/** Where lv1 places IO segments in IO address space 0 (IOC0). */
export const PS3_IOC0_IO_BASE = 0x1000_0000;
/** IO segments are whole 256 MiB segments of the Cell IOMMU. */
const SEGMENT = 2 ** 28;

/** One hypervisor call, as recorded. */
export interface Lv1Call {
  readonly name: string;
  readonly args: readonly number[];
  readonly status: number;
  /** What the call returned besides its status (a bus address). */
  readonly out?: number;
}

/** A mapped piece of an SB device's DMA region: `[bus, bus + size)` onto `[lpar, lpar + size)`. */
class SbMapping implements DmaWindow {
  constructor(
    readonly start: number,
    readonly size: number,
    readonly lpar: number,
    readonly flags: number,
  ) {}

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    if ((this.flags & (write ? CBE_IOPTE_PP_W : CBE_IOPTE_PP_R)) === 0) return 'permission';
    out.paddr = this.lpar + (busAddr - this.start);
    out.length = Math.min(length, this.start + this.size - busAddr);
    return null;
  }
}

/** An SB device's DMA region (`lv1_allocate_device_dma_region`). */
interface SbRegion {
  readonly bus: number;
  readonly size: number;
  readonly pageShift: number;
  readonly mappings: SbMapping[];
}

/** An SB device's IO address space. */
class SbIoSpace {
  /** The windows its bus master sees (shared with its translation). */
  readonly windows: DmaWindow[] = [];
  readonly regions: SbRegion[] = [];
  next = PS3_SB_IO_BASE;
}

/** One IOPTE lv1 set in IO address space 0. */
interface Ioc0Iopte {
  readonly lpar: number;
  readonly ioid: number;
  readonly flags: number;
}

/** An IO segment of IO address space 0 (`lv1_allocate_io_segment`). */
export class Ioc0Segment implements DmaWindow {
  /** IOPTEs by IO page index within the segment. */
  readonly ioptes = new Map<number, Ioc0Iopte>();

  constructor(
    readonly start: number,
    readonly size: number,
    readonly pageShift: number,
  ) {}

  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    const pageSize = pow2(this.pageShift);
    const index = Math.floor((busAddr - this.start) / pageSize);
    const iopte = this.ioptes.get(index);
    if (iopte === undefined) return 'translation';
    if ((iopte.flags & (write ? CBE_IOPTE_PP_W : CBE_IOPTE_PP_R)) === 0) return 'permission';
    const within = busAddr - this.start - index * pageSize;
    out.paddr = iopte.lpar + within;
    out.length = Math.min(length, pageSize - within);
    return null;
  }
}

/** The PS3 hypervisor of a machine. */
export class Lv1 {
  /** Every call made, in order. */
  readonly calls: Lv1Call[] = [];
  private readonly sb = new Map<string, SbIoSpace>();
  /** IO address space 0: its segments (the windows of every IOC0 device). */
  readonly ioc0Windows: Ioc0Segment[] = [];
  private ioc0Next = PS3_IOC0_IO_BASE;

  constructor(readonly machine: Machine) {}

  private record(name: string, args: readonly number[], status: number, out?: number): number {
    this.calls.push(Object.freeze(out === undefined ? { name, args: Object.freeze([...args]), status } : { name, args: Object.freeze([...args]), status, out }));
    return status;
  }

  /** The calls named `name`. */
  callsNamed(name: string): Lv1Call[] {
    return this.calls.filter((call) => call.name === name);
  }

  /** The windows of SB device `busId:devId` (its bus master's translation reads them). */
  sbWindows(busId: number, devId: number): DmaWindow[] {
    return this.space(busId, devId).windows;
  }

  private space(busId: number, devId: number): SbIoSpace {
    const key = `${busId}:${devId}`;
    let space = this.sb.get(key);
    if (space === undefined) {
      space = new SbIoSpace();
      this.sb.set(key, space);
    }
    return space;
  }

  /** `lv1_open_device(bus_id, dev_id, 0)`. */
  openDevice(busId: number, devId: number): number {
    return this.record('lv1_open_device', [busId, devId, 0], LV1_SUCCESS);
  }

  /** `lv1_gpu_open(0)`: the IOC0 devices (GPU, sound) share the GPU's context. */
  gpuOpen(): number {
    return this.record('lv1_gpu_open', [0], LV1_SUCCESS);
  }

  /**
   * `lv1_allocate_device_dma_region(bus_id, dev_id, io_size, io_page_size, flags, &dma_region)`: a
   * power-of-two region of the device's IO address space, aligned to its size.
   */
  allocateDeviceDmaRegion(busId: number, devId: number, ioSize: number, ioPageShift: number, flags: number): { status: number; dmaRegion: number } {
    const args = [busId, devId, ioSize, ioPageShift, flags];
    if (!Number.isSafeInteger(ioSize) || ioSize <= 0 || !isPowerOfTwo(ioSize)) {
      return { status: this.record('lv1_allocate_device_dma_region', args, LV1_ILLEGAL_PARAMETER_VALUE), dmaRegion: 0 };
    }
    const space = this.space(busId, devId);
    const bus = alignUp(space.next, ioSize);
    space.next = bus + ioSize;
    space.regions.push({ bus, size: ioSize, pageShift: ioPageShift, mappings: [] });
    return { status: this.record('lv1_allocate_device_dma_region', args, LV1_SUCCESS, bus), dmaRegion: bus };
  }

  /**
   * `lv1_map_device_dma_region(bus_id, dev_id, lpar_addr, dma_region, size, flags)`: maps
   * `size` bytes of the region from bus address `dmaAddr` onto partition memory at `lpar`, with
   * the IOPTE flags (`PP_R|PP_W|SO_RW|M` for every SB mapping).
   */
  mapDeviceDmaRegion(busId: number, devId: number, lpar: number, dmaAddr: number, size: number, flags: number): number {
    const args = [busId, devId, lpar, dmaAddr, size, flags];
    const space = this.space(busId, devId);
    const region = space.regions.find((r) => dmaAddr >= r.bus && dmaAddr + size <= r.bus + r.size);
    if (region === undefined) return this.record('lv1_map_device_dma_region', args, LV1_ILLEGAL_PARAMETER_VALUE);
    const pageSize = pow2(region.pageShift);
    if (!isAligned(dmaAddr, pageSize) || !isAligned(lpar, pageSize) || !isAligned(size, pageSize)) {
      return this.record('lv1_map_device_dma_region', args, LV1_ALIGNMENT_ERROR);
    }
    const mapping = new SbMapping(dmaAddr, size, lpar, flags);
    region.mappings.push(mapping);
    space.windows.push(mapping);
    return this.record('lv1_map_device_dma_region', args, LV1_SUCCESS);
  }

  /** `lv1_unmap_device_dma_region(bus_id, dev_id, dma_region, size)`. */
  unmapDeviceDmaRegion(busId: number, devId: number, dmaAddr: number, size: number): number {
    const args = [busId, devId, dmaAddr, size];
    const space = this.space(busId, devId);
    const i = space.windows.findIndex((w) => w.start === dmaAddr && w.size === size);
    if (i < 0) return this.record('lv1_unmap_device_dma_region', args, LV1_NO_ENTRY);
    const [mapping] = space.windows.splice(i, 1);
    for (const region of space.regions) {
      const j = region.mappings.indexOf(mapping as SbMapping);
      if (j >= 0) region.mappings.splice(j, 1);
    }
    return this.record('lv1_unmap_device_dma_region', args, LV1_SUCCESS);
  }

  /** `lv1_free_device_dma_region(bus_id, dev_id, dma_region)`. */
  freeDeviceDmaRegion(busId: number, devId: number, dmaRegion: number): number {
    const args = [busId, devId, dmaRegion];
    const space = this.space(busId, devId);
    const i = space.regions.findIndex((r) => r.bus === dmaRegion);
    if (i < 0 || (space.regions[i] as SbRegion).mappings.length > 0) return this.record('lv1_free_device_dma_region', args, LV1_NO_ENTRY);
    space.regions.splice(i, 1);
    return this.record('lv1_free_device_dma_region', args, LV1_SUCCESS);
  }

  /** `lv1_allocate_io_segment(ioas_id, seg_size, io_page_size, &ioif_addr)`: whole 256 MiB segments. */
  allocateIoSegment(ioasId: number, segSize: number, ioPageShift: number): { status: number; ioifAddr: number } {
    const args = [ioasId, segSize, ioPageShift];
    if (ioasId !== 0 || segSize <= 0) return { status: this.record('lv1_allocate_io_segment', args, LV1_ILLEGAL_PARAMETER_VALUE), ioifAddr: 0 };
    const bus = alignUp(this.ioc0Next, SEGMENT);
    const size = alignUp(segSize, SEGMENT);
    this.ioc0Next = bus + size;
    this.ioc0Windows.push(new Ioc0Segment(bus, size, ioPageShift));
    return { status: this.record('lv1_allocate_io_segment', args, LV1_SUCCESS, bus), ioifAddr: bus };
  }

  /** `lv1_release_io_segment(ioas_id, ioif_addr)`. */
  releaseIoSegment(ioasId: number, ioifAddr: number): number {
    const i = this.ioc0Windows.findIndex((s) => s.start === ioifAddr);
    if (i < 0) return this.record('lv1_release_io_segment', [ioasId, ioifAddr], LV1_NO_ENTRY);
    this.ioc0Windows.splice(i, 1);
    return this.record('lv1_release_io_segment', [ioasId, ioifAddr], LV1_SUCCESS);
  }

  /**
   * `lv1_put_iopte(ioas_id, ioif_addr, lpar_addr, io_id, flags)`: sets (or with flags 0 clears)
   * the IOPTE of one IO page of an allocated segment.
   */
  putIopte(ioasId: number, ioifAddr: number, lpar: number, ioId: number, flags: number): number {
    const args = [ioasId, ioifAddr, lpar, ioId, flags];
    const segment = this.ioc0Windows.find((s) => ioifAddr >= s.start && ioifAddr < s.start + s.size);
    if (ioasId !== 0 || segment === undefined) return this.record('lv1_put_iopte', args, LV1_ILLEGAL_PARAMETER_VALUE);
    const pageSize = pow2(segment.pageShift);
    if (!isAligned(ioifAddr, pageSize) || !isAligned(lpar, pageSize)) return this.record('lv1_put_iopte', args, LV1_ALIGNMENT_ERROR);
    const index = (ioifAddr - segment.start) / pageSize;
    if (flags === 0) segment.ioptes.delete(index);
    else segment.ioptes.set(index, { lpar, ioid: ioId, flags });
    return this.record('lv1_put_iopte', args, LV1_SUCCESS);
  }

  /** A readable status (`ps3_result`). */
  static result(status: number): string {
    return status === LV1_SUCCESS ? 'LV1_SUCCESS' : `lv1 status ${status}`;
  }

  /** Logs a DMA fault of a PS3 device. */
  reportFault(device: string, kind: DmaFaultKind, busAddr: number): void {
    this.machine.printk('err', null, `ps3: IOC exception: ${device} ${kind} fault at IO address ${hex(busAddr)}`);
  }
}
