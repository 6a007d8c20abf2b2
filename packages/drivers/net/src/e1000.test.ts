import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { pattern } from '@kdma/testkit';
import { allocSkbWithData, createNic, e1000Probe, E1000Hw, NETDEV_TX_OK, type NetBug } from './index.js';
import { runTraffic } from './__tests__/traffic.js';

/** Closes the NIC, unbinds the device and returns every dma-debug report of the run. */
function finish(machine: Machine, result: ReturnType<typeof runTraffic>): string[] {
  expect(result.nic.adapter.close()).toBe(0);
  machine.removeDevice(result.nic.adapter.dev);
  return machine.dmaDebug?.errors().map((e) => e.kind) ?? [];
}

describe('each bugs entry is caught', () => {
  const run = (create: () => Machine, bugs: NetBug[], frames = 400, iommu = false) => {
    const m = create();
    const r = runTraffic(m, { frames, iommu, nic: { bugs } });
    const intact = r.receivedIntact === frames && r.sentIntact === frames;
    return { m, r, intact };
  };

  it("'no-wmb': on ARM the NIC fetches stale descriptors from the bufferable ring", () => {
    const { r, intact } = run(() => createArm({ dmaDebug: true }), ['no-wmb']);
    expect(intact).toBe(false);
    // The transmit descriptors were still in the write buffer: the NIC fetched empty ones.
    expect(r.sentIntact).toBeLessThan(r.queued);
  });

  it("'no-wmb' shows nothing on x86, whose stores stay in order", () => {
    const { m, r, intact } = run(() => createX86({ dmaDebug: true }), ['no-wmb']);
    expect(intact).toBe(true);
    expect(finish(m, r)).toEqual([]);
  });

  it("'no-sync-for-cpu': copybreak frames come out stale through swiotlb, and dma-debug reports it", () => {
    const { m, r, intact } = run(() => createX86({ dmaDebug: true, swiotlb: { force: true } }), ['no-sync-for-cpu']);
    expect(intact).toBe(false);
    expect(finish(m, r)).toContain('cpu-access-device-owned');
  });

  it("'no-sync-for-cpu' on ARM: dma-debug sees the CPU read a buffer the device owns", () => {
    const { m, r } = run(() => createArm({ dmaDebug: true }), ['no-sync-for-cpu']);
    expect(finish(m, r)).toContain('cpu-access-device-owned');
  });

  it("'no-sync-for-device': dma-debug sees the NIC write a recycled buffer the CPU owns", () => {
    const { m, r } = run(() => createArm({ dmaDebug: true }), ['no-sync-for-device']);
    expect(finish(m, r)).toContain('device-access-cpu-owned');
  });

  it("'no-dma-mapping-error-check': dma-debug reports the unchecked mappings", () => {
    const { m, r, intact } = run(() => createArm({ dmaDebug: true }), ['no-dma-mapping-error-check']);
    expect(intact).toBe(true);
    expect(finish(m, r)).toContain('map-error-not-checked');
  });

  it("'no-unmap' behind an IOMMU: dma-debug sees the stack read a mapped buffer, the IOVA space leaks", () => {
    const { m, r } = run(() => createArm({ dmaDebug: true, iommu: 'arm-smmu' }), ['no-unmap'], 200, true);
    const kinds = finish(m, r);
    expect(kinds).toContain('cpu-access-device-owned');
    expect(kinds).toContain('leak');
    expect(m.iommu?.stats().mappedBytes).toBeGreaterThan(0);
  });

  it("'no-unmap' through swiotlb: large frames are never copied back", () => {
    const { m, r, intact } = run(() => createX86({ dmaDebug: true, swiotlb: { force: true } }), ['no-unmap'], 200);
    expect(intact).toBe(false);
    expect(finish(m, r)).toContain('leak');
  });
});

describe('the driver', () => {
  it('rejects bad options by name', () => {
    const m = createArm();
    const dev = m.createDevice({ name: 'eth0' });
    const hw = new E1000Hw(dev);
    expect(() => e1000Probe(dev, hw, { bugs: ['no-barrier' as never] })).toThrow(/no-barrier/);
    expect(() => e1000Probe(dev, hw, { rxRingSize: 100 })).toThrow(/multiples of 8/);
    expect(() => e1000Probe(dev, hw, { copybreak: -1 })).toThrow(/copybreak/);
    expect(() => e1000Probe(dev, hw, { dmaBits: 1.5 })).toThrow(/dmaBits/);
    expect(() => new E1000Hw(dev, { fifoBytes: 10 })).toThrow(/fifoBytes/);
  });

  it('frees every ring, buffer and mapping on close, and refuses frames when the ring is full', () => {
    const m = createArm({ dmaDebug: true });
    const dev = m.createDevice({ name: 'eth0' });
    const before = m.mm.stats();
    const { adapter, hw } = createNic(dev, { txRingSize: 8 });
    expect(adapter.open()).toBe(0);
    // Seven descriptors usable (one stays empty); the NIC has not run, so the eighth frame waits.
    const frames = Array.from({ length: 8 }, (_, i) => pattern(100 + i, i));
    const results = frames.map((f) => {
      const skb = allocSkbWithData(m, f);
      if (skb === null) throw new Error('skb');
      const ret = adapter.startXmit(skb);
      if (ret !== NETDEV_TX_OK) skb.free();
      return ret;
    });
    expect(results.filter((r) => r === NETDEV_TX_OK)).toHaveLength(7);
    expect(adapter.queueStopped).toBe(true);
    m.clock.advance(100_000);
    expect(hw.stats.txFrames).toBe(7);
    expect(adapter.stats.txPackets).toBe(7);
    expect(adapter.queueStopped).toBe(false);
    expect(adapter.close()).toBe(0);
    expect(m.mm.stats().vmallocUsed).toBe(before.vmallocUsed);
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('drops frames the wire delivers while the receiver is off or its buffer is full', () => {
    const m = createArm();
    const dev = m.createDevice({ name: 'eth0' });
    const { adapter, hw } = createNic(dev, { hw: { fifoBytes: 4096 } });
    expect(hw.receive(pattern(100, 1))).toBe(false);
    expect(adapter.open()).toBe(0);
    expect(hw.receive(pattern(3000, 1))).toBe(true);
    expect(hw.receive(pattern(1500, 1))).toBe(false);
    expect(hw.stats.rxMissed).toBe(2);
    m.clock.advance(100_000);
    // Longer than a 2 KiB receive buffer: reported with an error, not written.
    expect(hw.stats.rxTooLong).toBe(1);
    expect(adapter.stats.rxErrors).toBe(1);
    expect(adapter.close()).toBe(0);
  });
});
