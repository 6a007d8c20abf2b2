import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { GFP_DMA32 } from '@kdma/mm';
import type { CaptureAllocator } from './capture-driver.js';
import { badFrames, fragmentMemory, setupCapture, streamFrames, TEST_SIZEIMAGE, type SetupOptions } from './test-capture.js';
import { vb2DmaSgPlaneDesc } from './videobuf2-dma-sg.js';
import type { Vb2Buffer } from './videobuf2-core.js';

const GIB = 2 ** 30;

/** The scenario: 100 frames through four mapped buffers, every frame intact, no report. */
function hundredFrames(machine: Machine, allocator: CaptureAllocator, device: SetupOptions['device'] = {}): void {
  // dma-sg's single pages come from a fragmented allocator, as on a machine that has run a while.
  if (allocator === 'dma-sg') fragmentMemory(machine, 1024);
  const setup = setupCapture(machine, { allocator, device });
  const records = streamFrames(setup, 100);
  expect(records.map((r) => r.sequence)).toEqual([...Array(100).keys()]);
  expect(badFrames(records, TEST_SIZEIMAGE)).toEqual([]);
  setup.driver.remove();
  expect(machine.dmaDebug?.errors()).toEqual([]);
}

describe('a process maps four buffers, streams 100 frames and reads every one intact, with dma-debug quiet', () => {
  for (const allocator of ['dma-contig', 'dma-sg'] as const) {
    it(`arm (non-coherent), ${allocator}`, () => {
      const machine = createArm({ dmaDebug: true });
      hundredFrames(machine, allocator);
      // dma-sg keeps the cached pages consistent by cache maintenance; dma-contig needs none.
      if (allocator === 'dma-sg') expect(machine.hw.counters.cacheInvalidates).toBeGreaterThan(0);
    });

    it(`arm with an IOMMU, ${allocator}`, () => {
      hundredFrames(createArm({ dmaDebug: true, iommu: 'arm-smmu' }), allocator, { iommu: true });
    });

    it(`x86, ${allocator}`, () => {
      hundredFrames(createX86({ dmaDebug: true }), allocator);
    });

    it(`x86 with 8 GiB and a 32-bit device (swiotlb), ${allocator}`, () => {
      const machine = createX86({ dmaDebug: true, memory: 8 * GIB });
      hundredFrames(machine, allocator, { dmaBits: 32 });
      if (allocator === 'dma-sg') expect(machine.swiotlb?.stats().bouncedFromDevice).toBeGreaterThan(0);
    });
  }
});

describe('a 32-bit engine on an 8 GiB x86', () => {
  it('with GFP_DMA32 in the queue, gets dma-sg pages it reaches without bouncing', () => {
    const machine = createX86({ dmaDebug: true, memory: 8 * GIB });
    const setup = setupCapture(machine, { allocator: 'dma-sg', gfpFlags: GFP_DMA32, device: { dmaBits: 32 } });
    expect(badFrames(streamFrames(setup, 20), TEST_SIZEIMAGE)).toEqual([]);
    expect(machine.swiotlb?.stats().bouncedFromDevice ?? 0).toBe(0);
    setup.driver.remove();
    expect(machine.dmaDebug?.errors()).toEqual([]);
  });
});

describe('dma-sg gives the device the mapped DMA segments', () => {
  function firstTable(machine: Machine, device: SetupOptions['device'] = {}) {
    const setup = setupCapture(machine, { allocator: 'dma-sg', device });
    expect(setup.driver.queue.reqbufs(4)).toBe(4);
    return vb2DmaSgPlaneDesc(setup.driver.queue.buffer(0) as Vb2Buffer, 0);
  }

  const pages = Math.ceil(TEST_SIZEIMAGE / 4096);

  it('one segment per run of pages without an IOMMU, each within the device max segment size', () => {
    const fresh = firstTable(createArm());
    // A fresh allocator hands out consecutive pages: runs of up to 64 KiB.
    expect(fresh.origNents).toBe(Math.ceil(TEST_SIZEIMAGE / 65536));
    for (const sg of fresh.sgl) expect(sg.dmaLength).toBeLessThanOrEqual(65536);
    expect(fresh.sgl.reduce((sum, sg) => sum + sg.length, 0)).toBe(pages * 4096);
    const machine = createArm();
    fragmentMemory(machine, 1024);
    const scattered = firstTable(machine);
    expect(scattered.origNents).toBe(pages);
    expect(scattered.nents).toBe(pages);
  });

  it('behind an IOMMU, scattered pages become contiguous DMA segments of up to the max segment size', () => {
    const machine = createArm({ iommu: 'arm-smmu' });
    fragmentMemory(machine, 1024);
    const sgt = firstTable(machine, { iommu: true });
    expect(sgt.origNents).toBe(pages);
    expect(sgt.nents).toBe(Math.ceil(TEST_SIZEIMAGE / 65536));
    for (let i = 1; i < sgt.nents; i++) {
      const prev = sgt.sgl[i - 1];
      expect(sgt.sgl[i]?.dmaAddress).toBe((prev?.dmaAddress ?? 0) + (prev?.dmaLength ?? 0));
    }
  });
});
