import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { DmaDebugError, Machine } from '@kdma/dma-mapping';
import { V4L2_BUGS, type V4l2Bug } from './bugs.js';
import type { CaptureAllocator } from './capture-driver.js';
import { badFrames, fragmentMemory, setupCapture, streamFrames, TEST_SIZEIMAGE, type FrameRecord } from './test-capture.js';

const GIB = 2 ** 30;

interface Outcome {
  readonly bad: number[];
  readonly kinds: DmaDebugError['kind'][];
  readonly records: FrameRecord[];
}

/** Streams `frames` frames with one bug, removes the driver, and reports what the machine saw. */
function run(machine: Machine, allocator: CaptureAllocator, bug: V4l2Bug, frames = 12, device = {}): Outcome {
  if (allocator === 'dma-sg') fragmentMemory(machine, 1024);
  const setup = setupCapture(machine, { allocator, bugs: [bug], device });
  const records = streamFrames(setup, frames);
  setup.driver.remove();
  return { bad: badFrames(records, TEST_SIZEIMAGE), kinds: machine.dmaDebug?.errors().map((e) => e.kind) ?? [], records };
}

describe('every bug the driver can be told to make is caught', () => {
  it('lists its bugs', () => {
    expect([...V4L2_BUGS].sort()).toEqual(['done-at-frame-start', 'no-free', 'no-sync-for-cpu', 'no-sync-for-device', 'no-unmap', 'no-wmb']);
  });

  it("'no-sync-for-cpu' (dma-sg): dma-debug sees the process read a frame the device still owns", () => {
    for (const machine of [createArm({ dmaDebug: true }), createX86({ dmaDebug: true })]) {
      const { kinds } = run(machine, 'dma-sg', 'no-sync-for-cpu');
      expect(kinds).toContain('cpu-access-device-owned');
    }
  });

  it("'no-sync-for-cpu' (dma-sg) on x86 with swiotlb: the frames stay in the bounce buffer", () => {
    const machine = createX86({ dmaDebug: true, memory: 8 * GIB });
    const { bad, kinds } = run(machine, 'dma-sg', 'no-sync-for-cpu', 12, { dmaBits: 32 });
    expect(bad).toEqual([...Array(12).keys()]);
    expect(kinds).toContain('cpu-access-device-owned');
  });

  it("'no-sync-for-device' (dma-sg): dma-debug sees the device write a buffer the CPU owns", () => {
    for (const machine of [createArm({ dmaDebug: true }), createX86({ dmaDebug: true })]) {
      const { kinds } = run(machine, 'dma-sg', 'no-sync-for-device');
      expect(kinds).toContain('device-access-cpu-owned');
    }
  });

  it("'no-unmap' (dma-sg): dma-debug reports the leaked mappings when the driver is removed", () => {
    const { bad, kinds } = run(createArm({ dmaDebug: true }), 'dma-sg', 'no-unmap');
    expect(bad).toEqual([]);
    expect(kinds).toEqual(['leak']);
  });

  it("'no-free' (dma-contig): dma-debug reports the leaked buffers when the driver is removed", () => {
    const machine = createArm({ dmaDebug: true });
    const { bad, kinds } = run(machine, 'dma-contig', 'no-free');
    expect(bad).toEqual([]);
    expect(kinds).toEqual(['leak']);
    expect(machine.dmaDebug?.errors()[0]?.message).toContain('[count=4]');
  });

  it("'no-wmb' (dma-sg) on ARM: the engine fetches descriptors still in the write buffer and the frames come out wrong", () => {
    const { bad } = run(createArm({ dmaDebug: true }), 'dma-sg', 'no-wmb');
    expect(bad.length).toBeGreaterThan(0);
  });

  it("'done-at-frame-start': the process reads each buffer before the device has written it", () => {
    for (const allocator of ['dma-contig', 'dma-sg'] as const) {
      for (const machine of [createArm({ dmaDebug: true }), createX86({ dmaDebug: true })]) {
        const { bad } = run(machine, allocator, 'done-at-frame-start');
        expect(bad).toEqual([...Array(12).keys()]);
      }
    }
  });

  it('without the bug the same runs are clean', () => {
    for (const allocator of ['dma-contig', 'dma-sg'] as const) {
      const machine = createArm({ dmaDebug: true });
      const setup = setupCapture(machine, { allocator });
      expect(badFrames(streamFrames(setup, 12), TEST_SIZEIMAGE)).toEqual([]);
      setup.driver.remove();
      expect(machine.dmaDebug?.errors()).toEqual([]);
    }
  });
});
