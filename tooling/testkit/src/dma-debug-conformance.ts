import { describe, expect, it } from '@jest/globals';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import {
  DMA_MAPPING_ERROR,
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
import type { Machine } from '@kdma/dma-mapping/ops';
import { sgAllocTableFromPages, type SgTable } from '@kdma/scatterlist';
import type { ConformanceOptions } from './conformance.js';
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

/** One deliberate misuse per dma-debug kind. */
const misuses: Record<DmaDebugErrorKind, (scene: Scene) => void> = {
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
  'map-invalid-area': ({ dev }) => dmaMapSingle(dev, 2 ** 46, 64, DMA_TO_DEVICE),
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
  'sg-segment-across-boundary': (scene) => {
    const { m } = scene;
    const dev = m.createDevice({ name: 'page-boundary', segmentBoundaryMask: m.pageSize - 1, maxSegmentSize: 4 * m.pageSize });
    const pfn = m.mm.allocPages(1);
    if (pfn === null) throw new Error('allocPages failed');
    const sgt = sgAllocTableFromPages([pfn, pfn + 1], 64, m.pageSize, undefined, m.pageSize);
    if (typeof sgt === 'number') throw new Error('sg table');
    dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
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
    const addr = mapChecked(scene, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(scene.dev, addr, scene.size, DMA_FROM_DEVICE);
    scene.dev.hw.dmaWrite(addr, new Uint8Array(16));
  },
};

/** Every dma-debug kind provoked once, on the arch's own ops. */
export function describeDmaDebugConformance(options: ConformanceOptions): void {
  const scene = (): Scene => {
    const m = options.createMachine({ dmaDebug: true, ...options.machineOptions });
    const dev = m.createDevice({ name: 'kit0' });
    const size = m.pageSize;
    const kva = m.mm.kmalloc(size);
    if (kva === null) throw new Error('kmalloc failed');
    return { m, dev, kva, size };
  };

  describe(`${options.arch.name}${DMA_DEBUG_SUITE_SUFFIX}`, () => {
    it.each(Object.keys(misuses) as DmaDebugErrorKind[])('reports %s', (kind) => {
      const s = scene();
      misuses[kind](s);
      const kinds = s.m.dmaDebug?.errors().map((error) => error.kind);
      expect(kinds).toContain(kind);
    });

    it('is off unless asked for', () => {
      const m = options.createMachine(options.machineOptions);
      expect(m.dmaDebug).toBeNull();
    });
  });
}
