import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { pattern } from '@kdma/testkit';
import { createNic, type NetBug, type SkBuff } from './index.js';
import { runTraffic } from './__tests__/traffic.js';

const FRAMES = 10_000;

/** Closes the NIC, unbinds the device and returns every dma-debug report of the run. */
function finish(machine: Machine, result: ReturnType<typeof runTraffic>): string[] {
  expect(result.nic.adapter.close()).toBe(0);
  machine.removeDevice(result.nic.adapter.dev);
  return machine.dmaDebug?.errors().map((e) => e.kind) ?? [];
}

describe('receive buffers from a page pool (pagePool: true)', () => {
  it('arm (non-coherent): every frame intact, buffers mapped once and recycled', () => {
    const m = createArm({ dmaDebug: true });
    const r = runTraffic(m, { frames: FRAMES, nic: { pagePool: true } });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    const { adapter } = r.nic;
    expect(adapter.stats.rxCopybreak).toBeGreaterThan(0);
    const pool = adapter.pagePoolStats;
    // The ring's buffers were mapped once; every large frame's buffer came back and was reused.
    expect(pool?.slow).toBeLessThanOrEqual(adapter.rxRingSize);
    expect(pool?.fast).toBeGreaterThan(FRAMES / 2);
    expect(pool?.recycled).toBe(FRAMES - adapter.stats.rxCopybreak);
    expect(finish(m, r)).toEqual([]);
    // Closing gave back every buffer the pool mapped.
    expect(pool?.released).toBe(pool?.slow);
  });

  it('x86 with swiotlb forced: the sync for the CPU copies each frame out of its bounce slot', () => {
    const m = createX86({ dmaDebug: true, swiotlb: { force: true } });
    const r = runTraffic(m, { frames: FRAMES, nic: { pagePool: true } });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    expect(finish(m, r)).toEqual([]);
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('arm with an IOMMU (arm-smmu): intact, and every IOVA given back at close', () => {
    const m = createArm({ dmaDebug: true, iommu: 'arm-smmu' });
    const r = runTraffic(m, { frames: FRAMES, iommu: true, nic: { pagePool: true } });
    expect([r.received, r.receivedIntact, r.sent, r.sentIntact]).toEqual([FRAMES, FRAMES, FRAMES, FRAMES]);
    expect(m.iommu?.stats().faults).toBe(0);
    expect(finish(m, r)).toEqual([]);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
  });

  it('a stack that keeps its skbs past the refill and the close: new buffers meanwhile, each freed once, no leak', () => {
    const m = createArm({ dmaDebug: true });
    const dev = m.createDevice({ name: 'eth0' });
    const kept: SkBuff[] = [];
    const { adapter, hw } = createNic(dev, { pagePool: true, rxRingSize: 16, onReceive: (skb) => kept.push(skb) });
    const active = () => m.mm.slabinfo().reduce((n, cache) => n + cache.activeObjects, 0);
    const before = active();
    expect(adapter.open()).toBe(0);
    const frames = Array.from({ length: 40 }, (_, i) => pattern(1000 + i, i));
    for (const [i, frame] of frames.entries()) {
      hw.receive(frame);
      if (i % 8 === 7) m.clock.advance(50_000);
    }
    m.clock.advance(50_000);
    expect(kept.map((skb) => skb.read())).toEqual(frames);
    // Nothing came back while the stack held every buffer: each refill mapped a new one.
    expect(adapter.pagePoolStats?.fast).toBe(0);
    for (const skb of kept.splice(0, 20)) skb.free();
    expect(adapter.close()).toBe(0);
    for (const skb of kept) skb.free();
    const stats = adapter.pagePoolStats;
    expect(stats?.released).toBe(stats?.slow);
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
    // Every buffer (ring, pool, the stack's) was freed once: kmalloc is back where it was.
    expect(active()).toBe(before);
  });

  describe('each bug that applies is caught', () => {
    const run = (create: () => Machine, bugs: NetBug[], frames = 400, iommu = false) => {
      const m = create();
      const r = runTraffic(m, { frames, iommu, nic: { bugs, pagePool: true } });
      return { m, r, intact: r.receivedIntact === frames && r.sentIntact === frames };
    };

    it("'no-sync-for-cpu': frames handed up in their buffer come out stale through swiotlb, and dma-debug reports it", () => {
      const { m, r, intact } = run(() => createX86({ dmaDebug: true, swiotlb: { force: true } }), ['no-sync-for-cpu']);
      expect(intact).toBe(false);
      expect(finish(m, r)).toContain('cpu-access-device-owned');
    });

    it("'no-sync-for-device': dma-debug sees the NIC write a recycled buffer the CPU owns", () => {
      const { m, r } = run(() => createArm({ dmaDebug: true }), ['no-sync-for-device']);
      expect(finish(m, r)).toContain('device-access-cpu-owned');
    });

    it("'no-unmap': the pool's buffers leak when the pool goes away", () => {
      const { m, r } = run(() => createArm({ dmaDebug: true, iommu: 'arm-smmu' }), ['no-unmap'], 200, true);
      expect(finish(m, r)).toContain('leak');
      expect(m.iommu?.stats().mappedBytes).toBeGreaterThan(0);
    });
  });
});
