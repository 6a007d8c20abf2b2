import {
  DMA_ATTR_WRITE_COMBINE,
  dmaAllocAttrs,
  dmaBitMask,
  dmaFreeAttrs,
  dmaMmapAttrs,
  dmaSetMaskAndCoherent,
  type Device,
  type DmaAllocation,
} from '@kdma/dma-mapping';

/*
 * An ALSA capture driver's buffer handling, written once against the consumer API
 * (@kdma/dma-mapping's main entry) and nothing else: no arch package, no /ops, no mm. The same
 * code must give the process the device's bytes on every architecture, each picking its own page
 * attributes for the user mapping — the portability dma_alloc_attrs/dma_mmap_attrs were made for.
 */

/** The VMA a driver's mmap file operation is handed (the consumer API's own parameter type). */
export type Vma = Parameters<typeof dmaMmapAttrs>[1];

/** The user side: what a process does with the PCM device's file (mmap, loads, munmap). */
export interface UserProcess {
  mmap(length: number, handler: (vma: Vma) => number): number;
  read(uva: number, length: number): Uint8Array;
  pgprotAt(uva: number): string;
  munmap(uva: number, length: number): void;
}

/** A PCM ring buffer: `SNDRV_DMA_TYPE_DEV_WC`, what most PCI sound cards' period buffers are. */
export interface PcmRing {
  readonly dev: Device;
  readonly bytes: number;
  readonly area: DmaAllocation;
}

/** `snd_dma_alloc_pages(SNDRV_DMA_TYPE_DEV_WC, …)`: `dma_alloc_wc` after the driver's mask. */
export function pcmRingAlloc(dev: Device, bytes: number): PcmRing | null {
  if (dmaSetMaskAndCoherent(dev, dmaBitMask(32)) !== 0) return null;
  const area = dmaAllocAttrs(dev, bytes, DMA_ATTR_WRITE_COMBINE);
  return area === null ? null : { dev, bytes, area };
}

/** `snd_pcm_lib_default_mmap` for a WC buffer: `dma_mmap_wc`, the PCM's mmap file operation. */
export function pcmRingMmap(ring: PcmRing, vma: Vma): number {
  return dmaMmapAttrs(ring.dev, vma, ring.area.cpuAddr, ring.area.dmaHandle, ring.bytes, DMA_ATTR_WRITE_COMBINE);
}

/** `snd_dma_free_pages`. */
export function pcmRingFree(ring: PcmRing): void {
  dmaFreeAttrs(ring.dev, ring.bytes, ring.area.cpuAddr, ring.area.dmaHandle, DMA_ATTR_WRITE_COMBINE);
}

/** What the process saw. */
export interface CaptureResult {
  /** The whole ring as the process read it before the first period (a fresh buffer: silence). */
  readonly before: Uint8Array;
  /** Every period as the process read it once the device had written it, in order. */
  readonly captured: Uint8Array;
  /** The memory type of the process's mapping of the ring. */
  readonly userPgprot: string;
}

/**
 * One capture, as `arecord -M` sees it: allocate the ring, the process mmaps it and looks at it
 * (silence), then for each period the codec's DMA engine writes it and the process reads it (the
 * period-elapsed interrupt and poll() are elided). A mapping the device's writes do not reach —
 * cached user pages over a non-coherent device — would hand the process the stale silence.
 */
export function captureThroughMmap(dev: Device, process: UserProcess, periods: readonly Uint8Array[]): CaptureResult {
  const periodBytes = periods[0]?.length ?? 0;
  if (periodBytes === 0 || periods.some((period) => period.length !== periodBytes)) {
    throw new RangeError('periods must be non-empty byte arrays of one length');
  }
  const bytes = periodBytes * periods.length;
  const ring = pcmRingAlloc(dev, bytes);
  if (ring === null) throw new Error(`${dev.name}: no ${bytes}-byte PCM ring`);
  try {
    const uva = process.mmap(bytes, (vma) => pcmRingMmap(ring, vma));
    try {
      const before = process.read(uva, bytes);
      const captured = new Uint8Array(bytes);
      periods.forEach((period, i) => {
        const offset = i * periodBytes;
        dev.hw.dmaWrite(ring.area.dmaHandle + offset, period);
        captured.set(process.read(uva + offset, periodBytes), offset);
      });
      return { before, captured, userPgprot: process.pgprotAt(uva) };
    } finally {
      process.munmap(uva, bytes);
    }
  } finally {
    pcmRingFree(ring);
  }
}
