import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaAllocNoncontiguous,
  dmaAllocWc,
  dmaFreeCoherent,
  dmaFreeNoncontiguous,
  dmaFreeWc,
  dmaGetMaxSegSize,
  dmaMapSgtable,
  dmaMmapCoherent,
  dmaMmapNoncontiguous,
  dmaMmapWc,
  dmaNeedSync,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  dmaVmapNoncontiguous,
  dmaVunmapNoncontiguous,
  type Device,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import { GFP_DMA, GFP_DMA32, GFP_KERNEL, PAGE_KERNEL, __GFP_NORETRY, __GFP_NOWARN, remapPfnRange, vmMapPages, type Vma } from '@kdma/mm';
import { sgAllocTableFromPagesSegment, type SgTable } from '@kdma/scatterlist';
import { checkInt, describeValue, pageAlign } from './args.js';
import { EINVAL, ENOENT } from './errno.js';

/*
 * sound/core/memalloc.c: the DMA buffers of ALSA, one allocator per SNDRV_DMA_TYPE_*. Types keep
 * the kernel's numbers (include/sound/memalloc.h, with CONFIG_SND_DMA_SGBUF for DEV_SG).
 */

/** `SNDRV_DMA_TYPE_CONTINUOUS`: plain cached pages, never handed to the DMA API. */
export const SNDRV_DMA_TYPE_CONTINUOUS = 1;
/** `SNDRV_DMA_TYPE_DEV`: `dma_alloc_coherent`. */
export const SNDRV_DMA_TYPE_DEV = 2;
/** `SNDRV_DMA_TYPE_DEV_SG`: coherent if it can be had, else scattered pages behind an sg table. */
export const SNDRV_DMA_TYPE_DEV_SG = 3;
/** `SNDRV_DMA_TYPE_DEV_WC`: `dma_alloc_wc`, mapped write-combined where the arch honours it. */
export const SNDRV_DMA_TYPE_DEV_WC = 5;
/** `SNDRV_DMA_TYPE_NONCONTIG`: `dma_alloc_noncontiguous`, cached, kept in step by explicit syncs. */
export const SNDRV_DMA_TYPE_NONCONTIG = 8;

/** The SNDRV_DMA_TYPE_* kinds this shim implements. */
export type SndDmaType = 1 | 2 | 3 | 5 | 8;

/** Every implemented kind, for loops in tests and tools. */
export const SNDRV_DMA_TYPES: readonly SndDmaType[] = Object.freeze([
  SNDRV_DMA_TYPE_CONTINUOUS,
  SNDRV_DMA_TYPE_DEV,
  SNDRV_DMA_TYPE_DEV_SG,
  SNDRV_DMA_TYPE_DEV_WC,
  SNDRV_DMA_TYPE_NONCONTIG,
] as const);

/** The kernel's name of a type, for messages. */
export function sndDmaTypeName(type: SndDmaType): string {
  switch (type) {
    case SNDRV_DMA_TYPE_CONTINUOUS:
      return 'SNDRV_DMA_TYPE_CONTINUOUS';
    case SNDRV_DMA_TYPE_DEV:
      return 'SNDRV_DMA_TYPE_DEV';
    case SNDRV_DMA_TYPE_DEV_SG:
      return 'SNDRV_DMA_TYPE_DEV_SG';
    case SNDRV_DMA_TYPE_DEV_WC:
      return 'SNDRV_DMA_TYPE_DEV_WC';
    case SNDRV_DMA_TYPE_NONCONTIG:
      return 'SNDRV_DMA_TYPE_NONCONTIG';
  }
}

/** `enum snd_dma_sync_mode`. */
export type SndDmaSyncMode = 'cpu' | 'device';
/** `SNDRV_DMA_SYNC_CPU`: before the CPU reads what the device wrote. */
export const SNDRV_DMA_SYNC_CPU: SndDmaSyncMode = 'cpu';
/** `SNDRV_DMA_SYNC_DEVICE`: before the device reads what the CPU wrote. */
export const SNDRV_DMA_SYNC_DEVICE: SndDmaSyncMode = 'device';

/** The scattered pages of a DEV_SG buffer that fell back from `dma_alloc_coherent`. */
export interface SndDmaSgFallback {
  readonly kind: 'sg-fallback';
  readonly sgt: SgTable;
  /** One pfn per page, in buffer order. */
  readonly pages: readonly number[];
  /** The `alloc_pages_exact` chunks, to give back. */
  readonly chunks: readonly { readonly pfn: number; readonly size: number }[];
}

/** A NONCONTIG buffer's table from `dma_alloc_noncontiguous`. */
export interface SndDmaNoncontig {
  readonly kind: 'noncontig';
  readonly sgt: SgTable;
}

/**
 * `struct snd_dma_buffer` with its `struct snd_dma_device` fields flattened in (`dmab->dev.type`
 * is `type` here, `dmab->dev.dev` is `dev`).
 */
export interface SndDmaBuffer {
  /** `dev.type`: DEV_SG becomes DEV when the contiguous attempt succeeds, as in the kernel. */
  type: SndDmaType;
  /** `dev.dev`. */
  readonly dev: Device;
  /** `dev.dir`: the direction given to the DMA API for the non-coherent kinds. */
  readonly dir: DmaDataDirection;
  /** `dev.need_sync`: `sndDmaBufferSync` does something. */
  needSync: boolean;
  /** The kernel virtual address of the buffer. */
  area: number;
  /** The bus address of the first byte (`snd_sgbuf_get_addr(dmab, 0)` for the scattered kinds). */
  addr: number;
  /** The size, page-aligned. */
  bytes: number;
  /** `private_data`. */
  privateData: SndDmaSgFallback | SndDmaNoncontig | null;
}

/** `DEFAULT_GFP`: no OOM killer, no warning — the allocation is allowed to fail. */
const DEFAULT_GFP = GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN;

function checkType(type: unknown): asserts type is SndDmaType {
  if (!SNDRV_DMA_TYPES.includes(type as SndDmaType)) {
    throw new RangeError(`type must be one of SNDRV_DMA_TYPE_CONTINUOUS, DEV, DEV_SG, DEV_WC, NONCONTIG (1, 2, 3, 5, 8), got ${describeValue(type)}`);
  }
}

function checkDir(dir: unknown): asserts dir is DmaDataDirection {
  if (dir !== DMA_BIDIRECTIONAL && dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) {
    throw new RangeError(`dir must be DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE, got ${describeValue(dir)}`);
  }
}

function checkBuffer(dmab: unknown): asserts dmab is SndDmaBuffer {
  if (typeof dmab !== 'object' || dmab === null || !('dev' in dmab) || !('area' in dmab)) {
    throw new TypeError(`dmab must be an SndDmaBuffer from sndDmaAllocPages, got ${describeValue(dmab)}`);
  }
}

/**
 * Whether explicit syncs are to be made. The kernel asks `dma_need_sync()` only; kdma also syncs
 * whenever dma-debug is on, following the rule the kernel states for the sync calls themselves
 * (`dma_dev_need_sync`: "always call DMA sync operations when debugging is enabled"), so that the
 * ownership sanitizer sees every hand-over even on a coherent device.
 */
function needSyncFor(dev: Device, addr: number): boolean {
  return dmaNeedSync(dev, addr) || dev.machine.dmaDebug !== null;
}

/**
 * `do_alloc_pages`: `alloc_pages_exact`, retried in a lower zone while the pages lie beyond the
 * device's coherent mask (today's kernel; it leaked the first try, kdma gives it back).
 */
function doAllocPages(dev: Device, size: number): number | null {
  const { mm, arch } = dev.machine;
  let gfp = DEFAULT_GFP;
  for (;;) {
    const pfn = mm.allocPagesExact(size, gfp);
    if (pfn === null) return null;
    if (pfn * mm.pageSize + size - 1 <= dev.coherentDmaMask) return pfn;
    mm.freePagesExact(pfn, size);
    if (arch.zones.some((z) => z.name === 'DMA32') && (gfp & GFP_DMA32) === 0) gfp |= GFP_DMA32;
    else if (arch.zones.some((z) => z.name === 'DMA') && (gfp & GFP_DMA) === 0) gfp = (gfp & ~GFP_DMA32) | GFP_DMA;
    else return null;
  }
}

/** `get_order`-style rounding for the fallback's halving chunks. */
function pagesPow2(bytes: number, pageSize: number): number {
  let chunk = pageSize;
  while (chunk < bytes) chunk *= 2;
  return chunk;
}

// ---- the per-type allocators (struct snd_malloc_ops)

function continuousAlloc(dmab: SndDmaBuffer, size: number): boolean {
  const pfn = doAllocPages(dmab.dev, size);
  if (pfn === null) return false;
  const { mm } = dmab.dev.machine;
  dmab.area = mm.pageAddress(pfn);
  dmab.addr = pfn * mm.pageSize;
  return true;
}

function devAlloc(dmab: SndDmaBuffer, size: number, wc: boolean): boolean {
  const buf = wc ? dmaAllocWc(dmab.dev, size, DEFAULT_GFP) : dmaAllocCoherent(dmab.dev, size, DEFAULT_GFP);
  if (buf === null) return false;
  dmab.area = buf.cpuAddr;
  dmab.addr = buf.dmaHandle;
  return true;
}

/**
 * `snd_dma_sg_fallback_alloc`: chunks of `alloc_pages_exact` (halving on failure), an sg table
 * of segments the device accepts,
 * `dma_map_sgtable(DMA_BIDIRECTIONAL)` and a cached `vmap`. The kernel builds this on x86 only,
 * where it needs no sync; kdma is portable, so the buffer syncs like NONCONTIG and starts owned
 * by the CPU (a `dma_sync_sgtable_for_cpu` right after the map).
 */
function sgFallbackAlloc(dmab: SndDmaBuffer, size: number): boolean {
  const { dev } = dmab;
  const { mm } = dev.machine;
  const pageSize = mm.pageSize;
  const chunks: { pfn: number; size: number }[] = [];
  const pages: number[] = [];
  const release = () => chunks.forEach((c) => mm.freePagesExact(c.pfn, c.size));
  let left = size;
  let chunk = size;
  while (left > 0) {
    chunk = Math.min(left, chunk);
    const pfn = doAllocPages(dev, chunk);
    if (pfn === null) {
      if (chunk <= pageSize) {
        release();
        return false;
      }
      chunk = pagesPow2(Math.floor(chunk / 2), pageSize);
      continue;
    }
    chunks.push({ pfn, size: chunk });
    for (let i = 0; i < chunk / pageSize; i++) pages.push(pfn + i);
    left -= chunk;
  }
  // Segments no longer than the device takes (the kernel uses sg_alloc_table_from_pages, whose
  // merged segments can exceed dma_get_max_seg_size and upset dma-debug).
  const sgt = sgAllocTableFromPagesSegment(pages, 0, size, Math.max(pageSize, dmaGetMaxSegSize(dev)), pageSize);
  if (typeof sgt === 'number' || dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL) !== 0) {
    release();
    return false;
  }
  const area = mm.vmap(pages, PAGE_KERNEL);
  if (area === null) {
    dmaUnmapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    release();
    return false;
  }
  dmab.privateData = { kind: 'sg-fallback', sgt, pages, chunks };
  dmab.area = area;
  dmab.addr = sgtGetAddr(sgt, 0);
  dmab.needSync = needSyncFor(dev, dmab.addr);
  dmaSyncSgtableForCpu(dev, sgt, DMA_BIDIRECTIONAL);
  return true;
}

/** `snd_dma_sg_alloc` (today's): the standard coherent allocation first, then the fallback. */
function sgAlloc(dmab: SndDmaBuffer, size: number): boolean {
  dmab.type = SNDRV_DMA_TYPE_DEV;
  if (devAlloc(dmab, size, false)) return true;
  dmab.type = SNDRV_DMA_TYPE_DEV_SG;
  return sgFallbackAlloc(dmab, size);
}

/** `snd_dma_noncontig_alloc`: `dma_alloc_noncontiguous` in the stream's direction, then a vmap. */
function noncontigAlloc(dmab: SndDmaBuffer, size: number): boolean {
  const { dev } = dmab;
  const sgt = dmaAllocNoncontiguous(dev, size, dmab.dir, DEFAULT_GFP);
  if (sgt === null) return false;
  const first = sgt.sgl[0];
  dmab.needSync = needSyncFor(dev, first === undefined ? 0 : first.dmaAddress);
  const area = dmaVmapNoncontiguous(dev, size, sgt);
  if (area === null) {
    dmaFreeNoncontiguous(dev, size, sgt, dmab.dir);
    return false;
  }
  dmab.privateData = { kind: 'noncontig', sgt };
  dmab.area = area;
  dmab.addr = sgtGetAddr(sgt, 0);
  return true;
}

/** The bus address at `offset` in a mapped table (`snd_dma_noncontig_get_addr`). */
function sgtGetAddr(sgt: SgTable, offset: number): number {
  let base = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i];
    if (sg === undefined) break;
    if (offset < base + sg.dmaLength) return sg.dmaAddress + (offset - base);
    base += sg.dmaLength;
  }
  throw new RangeError(`offset ${offset} is beyond the buffer's ${base} mapped bytes`);
}

/** `snd_dma_noncontig_get_chunk_size`: bytes from `offset` that are contiguous in DMA space. */
function sgtGetChunkSize(sgt: SgTable, offset: number, size: number): number {
  let base = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const sg = sgt.sgl[i];
    if (sg === undefined) break;
    if (offset < base + sg.dmaLength) {
      let end = base + sg.dmaLength;
      let busEnd = sg.dmaAddress + sg.dmaLength;
      for (let j = i + 1; j < sgt.nents && end < offset + size; j++) {
        const next = sgt.sgl[j];
        if (next === undefined || next.dmaAddress !== busEnd) break;
        end += next.dmaLength;
        busEnd += next.dmaLength;
      }
      return Math.min(size, end - offset);
    }
    base += sg.dmaLength;
  }
  return 0;
}

// ---- entry points

/**
 * `snd_dma_alloc_dir_pages`: a buffer of `size` bytes (page-aligned) of the given type, with the
 * DMA direction the non-coherent kinds map in. Null when memory runs out (the kernel's -ENOMEM).
 * For CONTINUOUS, `dev` only chooses the pages (its machine and coherent mask, as today's
 * `do_alloc_pages` does); nothing is handed to the DMA API.
 */
export function sndDmaAllocDirPages(type: SndDmaType, dev: Device, dir: DmaDataDirection, size: number): SndDmaBuffer | null {
  checkType(type);
  if (typeof dev !== 'object' || dev === null || typeof (dev as Partial<Device>).machine !== 'object') {
    throw new TypeError(`dev must be a Device from machine.createDevice, got ${describeValue(dev)}`);
  }
  checkDir(dir);
  checkInt(size, 'size', 1);
  const bytes = pageAlign(size, dev.machine.pageSize);
  const dmab: SndDmaBuffer = { type, dev, dir, needSync: false, area: 0, addr: 0, bytes: 0, privateData: null };
  let ok: boolean;
  switch (type) {
    case SNDRV_DMA_TYPE_CONTINUOUS:
      ok = continuousAlloc(dmab, bytes);
      break;
    case SNDRV_DMA_TYPE_DEV:
      ok = devAlloc(dmab, bytes, false);
      break;
    case SNDRV_DMA_TYPE_DEV_WC:
      ok = devAlloc(dmab, bytes, true);
      break;
    case SNDRV_DMA_TYPE_DEV_SG:
      ok = sgAlloc(dmab, bytes);
      break;
    case SNDRV_DMA_TYPE_NONCONTIG:
      ok = noncontigAlloc(dmab, bytes);
      break;
  }
  if (!ok) return null;
  dmab.bytes = bytes;
  return dmab;
}

/** `snd_dma_alloc_pages`: `sndDmaAllocDirPages` with `DMA_BIDIRECTIONAL`. */
export function sndDmaAllocPages(type: SndDmaType, dev: Device, size: number): SndDmaBuffer | null {
  return sndDmaAllocDirPages(type, dev, DMA_BIDIRECTIONAL, size);
}

/** `snd_dma_free_pages`: gives everything back; the buffer must not be used afterwards. */
export function sndDmaFreePages(dmab: SndDmaBuffer): void {
  checkBuffer(dmab);
  const { dev, bytes } = dmab;
  const { mm } = dev.machine;
  const priv = dmab.privateData;
  switch (dmab.type) {
    case SNDRV_DMA_TYPE_CONTINUOUS:
      mm.freePagesExact(dmab.addr / mm.pageSize, bytes);
      break;
    case SNDRV_DMA_TYPE_DEV:
      dmaFreeCoherent(dev, bytes, dmab.area, dmab.addr);
      break;
    case SNDRV_DMA_TYPE_DEV_WC:
      dmaFreeWc(dev, bytes, dmab.area, dmab.addr);
      break;
    case SNDRV_DMA_TYPE_DEV_SG:
      if (priv?.kind !== 'sg-fallback') throw new Error('BUG: a DEV_SG buffer without its sg table');
      mm.vunmap(dmab.area);
      dmaUnmapSgtable(dev, priv.sgt, DMA_BIDIRECTIONAL);
      for (const chunk of priv.chunks) mm.freePagesExact(chunk.pfn, chunk.size);
      break;
    case SNDRV_DMA_TYPE_NONCONTIG:
      if (priv?.kind !== 'noncontig') throw new Error('BUG: a NONCONTIG buffer without its sg table');
      dmaVunmapNoncontiguous(dev, dmab.area);
      dmaFreeNoncontiguous(dev, bytes, priv.sgt, dmab.dir);
      break;
  }
  dmab.privateData = null;
  dmab.bytes = 0;
}

/**
 * `snd_dma_buffer_mmap`: maps the buffer into a user VMA from its mmap handler: through the DMA
 * API for the DMA kinds (so the arch picks the page attributes: write-combine on ARM, cached on a
 * coherent x86 device — no x86-only workaround here), or as plain pages. 0 or a negative errno.
 */
export function sndDmaBufferMmap(dmab: SndDmaBuffer, vma: Vma): number {
  checkBuffer(dmab);
  const { dev } = dmab;
  const { mm } = dev.machine;
  const priv = dmab.privateData;
  switch (dmab.type) {
    case SNDRV_DMA_TYPE_CONTINUOUS: {
      const length = vma.end - vma.start;
      if (length > dmab.bytes) return -EINVAL;
      return remapPfnRange(vma, vma.start, dmab.addr / mm.pageSize, length, vma.pgprot);
    }
    case SNDRV_DMA_TYPE_DEV:
      return dmaMmapCoherent(dev, vma, dmab.area, dmab.addr, dmab.bytes);
    case SNDRV_DMA_TYPE_DEV_WC:
      return dmaMmapWc(dev, vma, dmab.area, dmab.addr, dmab.bytes);
    case SNDRV_DMA_TYPE_DEV_SG:
      return priv?.kind === 'sg-fallback' ? vmMapPages(vma, priv.pages) : -ENOENT;
    case SNDRV_DMA_TYPE_NONCONTIG:
      return priv?.kind === 'noncontig' ? dmaMmapNoncontiguous(dev, vma, dmab.bytes, priv.sgt) : -ENOENT;
  }
}

/**
 * `snd_dma_buffer_sync`: hands a non-coherent buffer over. The kernel returns early for a
 * SYNC_CPU of a playback (TO_DEVICE) buffer and a SYNC_DEVICE of a capture buffer, where the
 * cache needs nothing; kdma makes those calls too (they cost no cache work) so that dma-debug's
 * ownership sanitizer sees each hand-over. Nothing happens unless `needSync`.
 */
export function sndDmaBufferSync(dmab: SndDmaBuffer, mode: SndDmaSyncMode): void {
  checkBuffer(dmab);
  if (mode !== SNDRV_DMA_SYNC_CPU && mode !== SNDRV_DMA_SYNC_DEVICE) {
    throw new RangeError(`mode must be SNDRV_DMA_SYNC_CPU or SNDRV_DMA_SYNC_DEVICE, got ${describeValue(mode)}`);
  }
  if (!dmab.needSync) return;
  const priv = dmab.privateData;
  if (priv === null) return;
  // The fallback was mapped DMA_BIDIRECTIONAL whatever the stream's direction.
  const dir = priv.kind === 'sg-fallback' ? DMA_BIDIRECTIONAL : dmab.dir;
  if (mode === SNDRV_DMA_SYNC_CPU) dmaSyncSgtableForCpu(dmab.dev, priv.sgt, dir);
  else dmaSyncSgtableForDevice(dmab.dev, priv.sgt, dir);
}

/** `snd_sgbuf_get_addr`: the bus address of the byte at `offset`. */
export function sndSgbufGetAddr(dmab: SndDmaBuffer, offset: number): number {
  checkBuffer(dmab);
  checkInt(offset, 'offset', 0, Math.max(0, dmab.bytes - 1));
  const priv = dmab.privateData;
  return priv === null ? dmab.addr + offset : sgtGetAddr(priv.sgt, offset);
}

/** `snd_sgbuf_get_chunk_size`: how many of `size` bytes from `offset` are contiguous on the bus. */
export function sndSgbufGetChunkSize(dmab: SndDmaBuffer, offset: number, size: number): number {
  checkBuffer(dmab);
  checkInt(offset, 'offset', 0, Math.max(0, dmab.bytes - 1));
  checkInt(size, 'size', 0);
  const priv = dmab.privateData;
  return priv === null ? Math.min(size, dmab.bytes - offset) : sgtGetChunkSize(priv.sgt, offset, size);
}
