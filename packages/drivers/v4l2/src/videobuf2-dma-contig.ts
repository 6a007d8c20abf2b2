/**
 * videobuf2-dma-contig (drivers/media/common/videobuf2/videobuf2-dma-contig.c), MMAP buffers in
 * coherent memory: one `dma_alloc_attrs` per plane with the queue's `dma_attrs`, so a driver
 * that never touches the pixels asks for `DMA_ATTR_NO_KERNEL_MAPPING` and saves the kernel
 * mapping (vmalloc space on ARM); `dma_mmap_attrs` exports the buffer to user space with the
 * attributes the arch chooses; the device gets the buffer's DMA address. Coherent memory needs no
 * cache maintenance, so there are no prepare/finish syncs.
 */
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  dmaAllocAttrs,
  dmaFreeAttrs,
  dmaMmapAttrs,
  type Device,
} from '@kdma/dma-mapping';
import { GFP_KERNEL, VM_DONTDUMP, VM_DONTEXPAND, type Vma } from '@kdma/mm';
import type { V4l2Bug } from './bugs.js';
import { vb2PlaneCookie, type Vb2AllocContext, type Vb2Buffer, type Vb2MemOps } from './videobuf2-core.js';

/** `struct vb2_dc_buf` for a coherent MMAP buffer. */
export class Vb2DcBuf {
  readonly dev: Device;
  readonly size: number;
  /** `buf->cookie`: what `dma_alloc_attrs` returned as the CPU address (a cookie without a kernel mapping). */
  readonly cookie: number;
  /** `buf->dma_addr`: what the device is programmed with. */
  readonly dmaAddr: number;
  /** `buf->attrs`: the queue's `dma_attrs`, needed again by mmap and free. */
  readonly attrs: number;
  /** `buf->vaddr`: the kernel mapping, or null with `DMA_ATTR_NO_KERNEL_MAPPING`. */
  readonly vaddr: number | null;
  readonly bugs: ReadonlySet<V4l2Bug>;
  freed = false;

  constructor(dev: Device, size: number, cookie: number, dmaAddr: number, attrs: number, bugs: ReadonlySet<V4l2Bug>) {
    this.dev = dev;
    this.size = size;
    this.cookie = cookie;
    this.dmaAddr = dmaAddr;
    this.attrs = attrs;
    this.vaddr = (attrs & DMA_ATTR_NO_KERNEL_MAPPING) !== 0 ? null : cookie;
    this.bugs = bugs;
  }
}

function asDcBuf(priv: object): Vb2DcBuf {
  if (!(priv instanceof Vb2DcBuf)) throw new TypeError('buf_priv is not a dma-contig buffer');
  return priv;
}

/** `vb2_dma_contig_memops`. */
export const vb2DmaContigMemops: Vb2MemOps = Object.freeze({
  name: 'vb2_dma_contig_memops',

  /** `vb2_dc_alloc` → `vb2_dc_alloc_coherent`. */
  alloc(ctx: Vb2AllocContext): Vb2DcBuf | null {
    const buffer = dmaAllocAttrs(ctx.dev, ctx.size, ctx.dmaAttrs, GFP_KERNEL | ctx.gfpFlags);
    if (buffer === null) return null;
    return new Vb2DcBuf(ctx.dev, ctx.size, buffer.cpuAddr, buffer.dmaHandle, ctx.dmaAttrs, ctx.bugs);
  },

  /** `vb2_dc_put`. */
  put(priv: object): void {
    const buf = asDcBuf(priv);
    if (buf.freed) return;
    buf.freed = true;
    if (buf.bugs.has('no-free')) return;
    dmaFreeAttrs(buf.dev, buf.size, buf.cookie, buf.dmaAddr, buf.attrs);
  },

  /** `vb2_dc_vaddr`: the kernel mapping if there is one (dma_buf_vmap of an export is not modelled). */
  vaddr(priv: object): number | null {
    return asDcBuf(priv).vaddr;
  },

  /** `vb2_dc_cookie`: the DMA address (`&buf->dma_addr`). */
  cookie(priv: object): number {
    return asDcBuf(priv).dmaAddr;
  },

  /** `vb2_dc_mmap`: `dma_mmap_attrs` of the whole buffer (vb2 reset vm_pgoff to 0). */
  mmap(priv: object, vma: Vma): number {
    const buf = asDcBuf(priv);
    const ret = dmaMmapAttrs(buf.dev, vma, buf.cookie, buf.dmaAddr, buf.size, buf.attrs);
    if (ret !== 0) return ret;
    vma.flags |= VM_DONTEXPAND | VM_DONTDUMP;
    return 0;
  },
});

/** `vb2_dma_contig_plane_dma_addr`: the DMA address to program the device with. */
export function vb2DmaContigPlaneDmaAddr(vb: Vb2Buffer, plane: number): number {
  const addr = vb2PlaneCookie(vb, plane);
  if (typeof addr !== 'number') throw new TypeError(`plane ${plane} of buffer ${vb.index} is not a dma-contig plane`);
  return addr;
}
