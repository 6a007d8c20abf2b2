import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { runTraffic } from './__tests__/traffic.js';

const FRAMES = 10_000;

/** Closes the NIC, unbinds the device and returns every dma-debug report of the run. */
function finish(machine: Machine, result: ReturnType<typeof runTraffic>): string[] {
  expect(result.nic.adapter.close()).toBe(0);
  machine.removeDevice(result.nic.adapter.dev);
  return machine.dmaDebug?.errors().map((e) => e.kind) ?? [];
}

describe('10 000 frames of random sizes each way, intact and in order', () => {
  it('arm (non-coherent)', () => {
    const m = createArm({ dmaDebug: true });
    const r = runTraffic(m, { frames: FRAMES });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    const stats = r.nic.adapter.stats;
    // Both receive paths ran: small frames copied out of recycled buffers, large ones handed up.
    expect(stats.rxCopybreak).toBeGreaterThan(0);
    expect(stats.rxCopybreak).toBeLessThan(FRAMES);
    expect(r.nic.hw.stats.rxMissed + r.nic.hw.stats.rxDmaFaults + r.nic.hw.stats.txDmaFaults).toBe(0);
    expect(finish(m, r)).toEqual([]);
  });

  it('x86 with swiotlb forced (every buffer bounces)', () => {
    const m = createX86({ dmaDebug: true, swiotlb: { force: true } });
    const r = runTraffic(m, { frames: FRAMES });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    const bounce = m.swiotlb?.stats();
    expect(bounce?.bouncedToDevice).toBeGreaterThan(0);
    expect(bounce?.bouncedFromDevice).toBeGreaterThan(0);
    expect(finish(m, r)).toEqual([]);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('arm with an IOMMU (arm-smmu)', () => {
    const m = createArm({ dmaDebug: true, iommu: 'arm-smmu' });
    const r = runTraffic(m, { frames: FRAMES, iommu: true });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    expect(m.iommu?.stats().faults).toBe(0);
    expect(finish(m, r)).toEqual([]);
    // Every IOVA mapping (rings, buffers) was given back.
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('x86, a 64-bit NIC', () => {
    const m = createX86({ dmaDebug: true });
    const r = runTraffic(m, { frames: 1000, dmaBits: 64 });
    expect([r.receivedIntact, r.sentIntact]).toEqual([1000, 1000]);
    expect(finish(m, r)).toEqual([]);
  });
});
