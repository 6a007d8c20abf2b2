/**
 * videobuf2-dma-sg (drivers/media/common/videobuf2/videobuf2-dma-sg.c), MMAP buffers in
 * scattered pages: single pages from the page allocator, an sg table over them, one streaming
 * mapping for the buffer's life (`dma_map_sgtable` at alloc with `DMA_ATTR_SKIP_CPU_SYNC`, as
 * vb2 does: the syncs come at prepare), `dma_sync_sgtable_for_device` when the buffer is queued
 * and `dma_sync_sgtable_for_cpu` when the driver completes it, `vm_map_pages` (a
 * `vm_insert_page` per page) for user space, and `vm_map_ram` for a kernel address on demand.
 * The driver hands the device the mapped table's DMA segments (`sgt.nents` of them: fewer than
 * the pages where an IOMMU or contiguous pages merged them).
 *
 * One difference from the kernel: the table's segments are capped at the device's
 * `max_segment_size` (`sg_alloc_table_from_pages_segment`), so that dma-debug has nothing to say
 * about segments longer than the device claims to support.
 */
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  dmaGetMaxSegSize,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  type Device,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { GFP_KERNEL, PAGE_KERNEL, vmMapPages, __GFP_NOWARN, __GFP_ZERO, type Vma } from '@kdma/mm';
import { sgAllocTableFromPagesSegment, type SgTable } from '@kdma/scatterlist';
import type { V4l2Bug } from './bugs.js';
import { vb2PlaneCookie, type Vb2AllocContext, type Vb2Buffer, type Vb2MemOps } from './videobuf2-core.js';

/** `struct vb2_dma_sg_buf` for an MMAP buffer. */
export class Vb2DmaSgBuf {
  readonly dev: Device;
  readonly size: number;
  readonly dmaDir: DmaDataDirection;
  /** `buf->pages`: one page frame per page of the buffer. */
  readonly pages: readonly number[];
  /** `buf->sg_table`, mapped for the device. */
  readonly sgt: SgTable;
  /** `buf->vaddr`: the `vm_map_ram` mapping, made on first use. */
  vaddr: number | null = null;
  readonly bugs: ReadonlySet<V4l2Bug>;
  freed = false;

  constructor(dev: Device, size: number, dmaDir: DmaDataDirection, pages: readonly number[], sgt: SgTable, bugs: ReadonlySet<V4l2Bug>) {
    this.dev = dev;
    this.size = size;
    this.dmaDir = dmaDir;
    this.pages = pages;
    this.sgt = sgt;
    this.bugs = bugs;
  }
}

function asSgBuf(priv: object): Vb2DmaSgBuf {
  if (!(priv instanceof Vb2DmaSgBuf)) throw new TypeError('buf_priv is not a dma-sg buffer');
  return priv;
}

function freePages(dev: Device, pages: readonly number[]): void {
  for (const pfn of pages) dev.machine.mm.freePages(pfn, 0);
}

/** `vb2_dma_sg_memops`. */
export const vb2DmaSgMemops: Vb2MemOps = Object.freeze({
  name: 'vb2_dma_sg_memops',

  /** `vb2_dma_sg_alloc`: pages one at a time, the table, the mapping; null if any step fails. */
  alloc(ctx: Vb2AllocContext): Vb2DmaSgBuf | null {
    const { dev, size } = ctx;
    const mm = dev.machine.mm;
    const count = size / mm.pageSize;
    const pages: number[] = [];
    for (let i = 0; i < count; i++) {
      const pfn = mm.allocPages(0, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | ctx.gfpFlags);
      if (pfn === null) {
        freePages(dev, pages);
        return null;
      }
      pages.push(pfn);
    }
    const sgt = sgAllocTableFromPagesSegment(pages, 0, size, dmaGetMaxSegSize(dev), mm.pageSize);
    if (typeof sgt === 'number') {
      freePages(dev, pages);
      return null;
    }
    // "No need to sync to the device, this will happen later when the prepare() memop is called."
    if (dmaMapSgtable(dev, sgt, ctx.dmaDir, DMA_ATTR_SKIP_CPU_SYNC) !== 0) {
      freePages(dev, pages);
      return null;
    }
    return new Vb2DmaSgBuf(dev, size, ctx.dmaDir, pages, sgt, ctx.bugs);
  },

  /** `vb2_dma_sg_put`. */
  put(priv: object): void {
    const buf = asSgBuf(priv);
    if (buf.freed) return;
    buf.freed = true;
    const { dev } = buf;
    if (!buf.bugs.has('no-unmap')) dmaUnmapSgtable(dev, buf.sgt, buf.dmaDir, DMA_ATTR_SKIP_CPU_SYNC);
    if (buf.vaddr !== null) dev.machine.mm.vunmap(buf.vaddr);
    buf.vaddr = null;
    freePages(dev, buf.pages);
  },

  /** `vb2_dma_sg_prepare`: the device owns the buffer from here. */
  prepare(priv: object): void {
    const buf = asSgBuf(priv);
    if (buf.bugs.has('no-sync-for-device')) return;
    dmaSyncSgtableForDevice(buf.dev, buf.sgt, buf.dmaDir);
  },

  /** `vb2_dma_sg_finish`: the CPU (and user space) owns it again. */
  finish(priv: object): void {
    const buf = asSgBuf(priv);
    if (buf.bugs.has('no-sync-for-cpu')) return;
    dmaSyncSgtableForCpu(buf.dev, buf.sgt, buf.dmaDir);
  },

  /** `vb2_dma_sg_vaddr`: `vm_map_ram` of the pages, once; null when vmalloc space ran out. */
  vaddr(priv: object): number | null {
    const buf = asSgBuf(priv);
    if (buf.vaddr === null) buf.vaddr = buf.dev.machine.mm.vmap(buf.pages, PAGE_KERNEL);
    return buf.vaddr;
  },

  /** `vb2_dma_sg_cookie`: the sg table. */
  cookie(priv: object): SgTable {
    return asSgBuf(priv).sgt;
  },

  /** `vb2_dma_sg_mmap`: `vm_map_pages` (vb2 reset vm_pgoff to 0). */
  mmap(priv: object, vma: Vma): number {
    return vmMapPages(vma, asSgBuf(priv).pages);
  },
});

/** `vb2_dma_sg_plane_desc`: the mapped sg table whose DMA segments the device is given. */
export function vb2DmaSgPlaneDesc(vb: Vb2Buffer, plane: number): SgTable {
  const sgt = vb2PlaneCookie(vb, plane);
  if (typeof sgt !== 'object' || sgt === null || !Array.isArray((sgt as SgTable).sgl)) {
    throw new TypeError(`plane ${plane} of buffer ${vb.index} is not a dma-sg plane`);
  }
  return sgt as SgTable;
}
