import { describe, expect, it } from '@jest/globals';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import {
  DMA_MAPPING_ERROR,
  EIO,
  ENOMEM,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaSyncSgForCpu,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSg,
  dmaUnmapSingle,
  type Device,
  type DmaDebugErrorKind,
} from '@kdma/dma-mapping';
import { getDmaOps, type Machine } from '@kdma/dma-mapping/ops';
import { getOrder } from '@kdma/hw';
import { GFP_DMA, GFP_DMA32 } from '@kdma/mm';
import { sgAllocTableFromPages, type SgTable } from '@kdma/scatterlist';
import type { ConformanceOptions } from './conformance.js';
import { boundaryRefusal, checkKernelRefusals } from './kernel-refusals.js';
import { DMA_DEBUG_SUITE_SUFFIX } from './suite-titles.js';

interface Scene {
  readonly m: Machine;
  readonly dev: Device;
  /** A kmalloc buffer of `size` bytes, page-aligned (so no neighbour shares its lines). */
  readonly kva: number;
  readonly size: number;
}

/** Maps the scene's buffer and checks the error, as correct drivers do. */
function mapChecked(scene: Scene, dir: DmaDataDirection = DMA_TO_DEVICE, size = scene.size): number {
  const addr = dmaMapSingle(scene.dev, scene.kva, size, dir);
  expect(dmaMappingError(scene.dev, addr)).toBe(0);
  return addr;
}

function threePageTable(scene: Scene): SgTable {
  const { m } = scene;
  const pfns = [0, 1, 2].map(() => {
    const pfn = m.mm.allocPages(0);
    m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages failed');
    return pfn;
  });
  const sgt = sgAllocTableFromPages(pfns, 0, 3 * m.pageSize, undefined, m.pageSize);
  if (typeof sgt === 'number') throw new Error(`sgAllocTableFromPages: ${sgt}`);
  return sgt;
}

/** The physical address of the first byte the device touches inside `access`, or null if none. */
function devicePaddrOf(m: Machine, dev: Device, access: () => void): number | null {
  let paddr: number | null = null;
  const stop = m.hw.observe((event) => {
    if (paddr === null && event.source === 'device' && event.device === dev.name) paddr = event.paddr;
  });
  try {
    access();
  } finally {
    stop();
  }
  return paddr;
}

/**
 * Maps `size` bytes that the scene's device reaches in place for `dir`, checked, and returns the
 * DMA address. The ownership sanitizer watches a mapping's own pages: a device access to a swiotlb
 * bounce slot is not an access to the buffer, so a scene that wants a device access reported needs
 * a mapping the ops did not bounce. The scene's buffer is tried first; while the device's accesses
 * land elsewhere (found by one access while the device owns the buffer, which is allowed), pages from
 * the arch's lower zones (`GFP_DMA32`, `GFP_DMA`: the memory a driver of such a device uses), a few
 * of each, the ones that bounced kept so the allocator hands out others. Fails when none is reached
 * in place: then the ops bounce everything, and the scene cannot say anything about the protocol.
 */
function mapInPlace(scene: Scene, dir: DmaDataDirection): number {
  const { m, dev, size } = scene;
  const gfps = [0, ...m.arch.zones.flatMap((zone) => (zone.name === 'DMA32' ? [GFP_DMA32] : zone.name === 'DMA' ? [GFP_DMA] : [])).reverse()];
  const order = getOrder(size, m.pageSize);
  const tried: string[] = [];
  for (const gfp of gfps) {
    for (let attempt = 0; attempt < 4; attempt++) {
      let kva = scene.kva;
      if (gfp !== 0 || attempt !== 0) {
        const pfn = m.mm.allocPages(order, gfp);
        if (pfn === null) break;
        kva = m.mm.pageAddress(pfn);
      }
      const addr = mapChecked({ ...scene, kva }, dir, size);
      // An access the direction allows (an IOMMU maps FROM_DEVICE write-only), while the device owns it.
      const landed = devicePaddrOf(m, dev, () => (dir === DMA_TO_DEVICE ? dev.hw.dmaRead(addr, 1) : dev.hw.dmaWrite(addr, new Uint8Array(1))));
      const paddr = m.mm.virtToPhys(kva);
      if (landed === paddr) return addr;
      tried.push(`paddr 0x${paddr.toString(16)} reached at 0x${(landed ?? -1).toString(16)}`);
      dmaUnmapSingle(dev, addr, size, dir);
      if (gfp === 0) break;
    }
  }
  throw new Error(`${dev.name} on ${getDmaOps(dev).name} reaches no buffer in place (${tried.join('; ')})`);
}

/** Whether `[start, start + length)` crosses a multiple of `boundaryMask + 1`. */
function crossesBoundary(start: number, length: number, boundaryMask: number): boolean {
  const span = boundaryMask + 1;
  return Math.floor(start / span) !== Math.floor((start + length - 1) / span);
}

/**
 * A scene's outcome: void when it provoked its report, `'refused'` when the ops refused the
 * mapping as the kernel does (declared in `kernelRefuses`, asserted by the scene), so there is
 * nothing to report.
 */
type SceneOutcome = void | 'refused';

/** One deliberate misuse per dma-debug kind. */
const misuses: Record<DmaDebugErrorKind, (scene: Scene, options: ConformanceOptions) => SceneOutcome> = {
  'free-invalid-address': ({ dev }) => dmaUnmapSingle(dev, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE),
  'free-not-allocated': (scene) => {
    const addr = mapChecked(scene);
    dmaUnmapSingle(scene.dev, addr, scene.size, DMA_TO_DEVICE);
    dmaUnmapSingle(scene.dev, addr, scene.size, DMA_TO_DEVICE);
  },
  'free-size-mismatch': (scene) => dmaUnmapSingle(scene.dev, mapChecked(scene), scene.size / 2, DMA_TO_DEVICE),
  'free-wrong-function': ({ dev, m }) => {
    const buf = dmaAllocCoherent(dev, m.pageSize);
    if (buf === null) throw new Error('dmaAllocCoherent failed');
    dmaUnmapSingle(dev, buf.dmaHandle, m.pageSize, DMA_BIDIRECTIONAL);
  },
  'free-cpu-address-mismatch': ({ dev, m }) => {
    const a = dmaAllocCoherent(dev, m.pageSize);
    const b = dmaAllocCoherent(dev, m.pageSize);
    if (a === null || b === null) throw new Error('dmaAllocCoherent failed');
    dmaFreeCoherent(dev, m.pageSize, b.cpuAddr, a.dmaHandle);
  },
  'free-sg-count-mismatch': (scene) => {
    const sgt = threePageTable(scene);
    expect(dmaMapSgtable(scene.dev, sgt, DMA_TO_DEVICE)).toBe(0);
    dmaUnmapSg(scene.dev, sgt.sgl, 2, DMA_TO_DEVICE);
  },
  'free-direction-mismatch': (scene) => dmaUnmapSingle(scene.dev, mapChecked(scene), scene.size, DMA_FROM_DEVICE),
  'map-error-not-checked': (scene) => {
    const addr = dmaMapSingle(scene.dev, scene.kva, scene.size, DMA_TO_DEVICE);
    dmaUnmapSingle(scene.dev, addr, scene.size, DMA_TO_DEVICE);
  },
  'sync-not-allocated': (scene) => {
    const addr = mapChecked(scene);
    dmaUnmapSingle(scene.dev, addr, scene.size, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(scene.dev, addr, scene.size, DMA_TO_DEVICE);
  },
  'sync-out-of-range': (scene) => {
    const addr = mapChecked(scene, DMA_TO_DEVICE, scene.size / 2);
    dmaSyncSingleForDevice(scene.dev, addr, scene.size, DMA_TO_DEVICE);
  },
  'sync-direction-mismatch': (scene) => dmaSyncSingleForDevice(scene.dev, mapChecked(scene), scene.size, DMA_FROM_DEVICE),
  'sync-read-only-for-cpu': (scene) => dmaSyncSingleForCpu(scene.dev, mapChecked(scene), scene.size, DMA_FROM_DEVICE),
  'sync-write-only-for-device': (scene) =>
    dmaSyncSingleForDevice(scene.dev, mapChecked(scene, DMA_FROM_DEVICE), scene.size, DMA_TO_DEVICE),
  'sync-sg-count-mismatch': (scene) => {
    const sgt = threePageTable(scene);
    expect(dmaMapSgtable(scene.dev, sgt, DMA_TO_DEVICE)).toBe(0);
    dmaSyncSgForCpu(scene.dev, sgt.sgl, 2, DMA_TO_DEVICE);
  },
  'map-invalid-area': ({ dev }) => {
    dmaMapSingle(dev, 2 ** 46, 64, DMA_TO_DEVICE);
  },
  'map-vmalloc': ({ dev, m }) => {
    const kva = m.mm.vmalloc(m.pageSize);
    if (kva === null) throw new Error('vmalloc failed');
    dmaMapSingle(dev, kva, 64, DMA_TO_DEVICE);
  },
  'map-stack': ({ dev, m }) => {
    const stack = m.mm.stackAlloc();
    if (stack === null) throw new Error('stackAlloc failed');
    const addr = dmaMapSingle(dev, stack + 256, 64, DMA_TO_DEVICE);
    dmaMappingError(dev, addr);
  },
  'map-kernel-text': ({ dev, m }) => {
    const addr = dmaMapSingle(dev, m.mm.kernelImage.text.start, 64, DMA_TO_DEVICE);
    dmaMappingError(dev, addr);
  },
  'sg-segment-too-long': (scene) => {
    const { m } = scene;
    const dev = m.createDevice({ name: 'short-segments', maxSegmentSize: m.pageSize });
    const pfn = m.mm.allocPages(1);
    if (pfn === null) throw new Error('allocPages failed');
    const sgt = sgAllocTableFromPages([pfn, pfn + 1], 0, 2 * m.pageSize, undefined, m.pageSize);
    if (typeof sgt === 'number') throw new Error('sg table');
    dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
  },
  'sg-segment-across-boundary': (scene, options) => {
    const { m } = scene;
    const dev = m.createDevice({ name: 'page-boundary', segmentBoundaryMask: m.pageSize - 1, maxSegmentSize: 4 * m.pageSize });
    const pfn = m.mm.allocPages(1);
    if (pfn === null) throw new Error('allocPages failed');
    // One segment of two pages under a one-page boundary: wherever it lies in bus space it
    // crosses, so ops that keep to the boundary cannot place it at all.
    const sgt = sgAllocTableFromPages([pfn, pfn + 1], 0, 2 * m.pageSize, undefined, m.pageSize);
    if (typeof sgt === 'number') throw new Error('sg table');
    expect(sgt.origNents).toBe(1);
    const ops = getDmaOps(dev).name;
    const refusal = boundaryRefusal(options.kernelRefuses, ops);
    const entries = m.dmaDebug?.activeEntries;
    const ret = dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
    if (ret < 0) {
      if (refusal === null) {
        throw new Error(`${ops} refused a segment across the device's boundary (${ret}); declare kernelRefuses.segmentAcrossBoundary if the kernel's ${ops} does`);
      }
      // Refused as declared: an error dma_map_sgtable may return, and nothing left mapped.
      expect([-EIO, -ENOMEM]).toContain(ret);
      expect(m.dmaDebug?.activeEntries).toBe(entries);
      return 'refused';
    }
    if (refusal === 'always') throw new Error(`${ops} mapped a segment longer than the device's boundary window; the kernel's ${ops} refuses it`);
    expect(sgt.nents).toBe(1);
    const sg = sgt.sgl[0];
    if (sg === undefined) throw new Error('no segment');
    expect(crossesBoundary(sg.dmaAddress, sg.dmaLength, m.pageSize - 1)).toBe(true);
    // Ops that refuse what they remap must have mapped this one in place.
    if (refusal === 'when-remapped') expect(devicePaddrOf(m, dev, () => dev.hw.dmaRead(sg.dmaAddress, 1))).toBe(pfn * m.pageSize);
  },
  'cacheline-overlap': (scene) => {
    mapChecked(scene, DMA_FROM_DEVICE);
    mapChecked(scene, DMA_FROM_DEVICE);
  },
  leak: (scene) => {
    mapChecked(scene);
    scene.m.removeDevice(scene.dev);
  },
  'cpu-access-device-owned': (scene) => {
    mapChecked(scene, DMA_FROM_DEVICE);
    scene.m.cpu.write(scene.kva, new Uint8Array(16));
  },
  'device-access-cpu-owned': (scene) => {
    // The device must write the mapped buffer itself, not a bounce slot in its place.
    const addr = mapInPlace(scene, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(scene.dev, addr, scene.size, DMA_FROM_DEVICE);
    scene.dev.hw.dmaWrite(addr, new Uint8Array(16));
  },
};

function createScene(options: ConformanceOptions): Scene {
  const m = options.createMachine({ dmaDebug: true, ...options.machineOptions });
  const dev = m.createDevice({ name: 'kit0' });
  const size = m.pageSize;
  const kva = m.mm.kmalloc(size);
  if (kva === null) throw new Error('kmalloc failed');
  return { m, dev, kva, size };
}

/**
 * Provokes one dma-debug report on a fresh machine of `options` and checks it was made: the
 * report of `kind` among dma-debug's; or, where the ops refused the misuse's mapping as declared in
 * `options.kernelRefuses`, the refusal (asserted by the scene) and no report at all. Throws (a
 * failed expectation) otherwise. The kit's dma-debug block runs it for every kind.
 */
export function provokeDmaDebugError(options: ConformanceOptions, kind: DmaDebugErrorKind): void {
  checkKernelRefusals(options.arch, options.kernelRefuses);
  const s = createScene(options);
  const outcome = misuses[kind](s, options);
  const kinds = s.m.dmaDebug?.errors().map((error) => error.kind);
  if (outcome === 'refused') expect(kinds).toEqual([]);
  else expect(kinds).toContain(kind);
}

/** The test title of a kind: its report, and the ops declared to refuse it instead. */
function titleOf(kind: DmaDebugErrorKind, options: ConformanceOptions): string {
  const refusing = kind === 'sg-segment-across-boundary' ? Object.keys(options.kernelRefuses?.segmentAcrossBoundary ?? {}) : [];
  return refusing.length === 0 ? `reports ${kind}` : `reports ${kind}, or is refused by ${refusing.join(', ')} as the kernel refuses it`;
}

/** Every dma-debug kind provoked once, on the arch's own ops. */
export function describeDmaDebugConformance(options: ConformanceOptions): void {
  checkKernelRefusals(options.arch, options.kernelRefuses);
  describe(`${options.arch.name}${DMA_DEBUG_SUITE_SUFFIX}`, () => {
    for (const kind of Object.keys(misuses) as DmaDebugErrorKind[]) {
      it(titleOf(kind, options), () => provokeDmaDebugError(options, kind));
    }

    it('is off unless asked for', () => {
      const m = options.createMachine(options.machineOptions);
      expect(m.dmaDebug).toBeNull();
    });
  });
}
