import { describe, expect, it } from '@jest/globals';
import { kdma } from './__tests__/run-cli.js';

// The JSON of one scenario, loosely typed for reading.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Scenario = Record<string, any>;

describe('kdma (the built-in demo)', () => {
  it('runs every demo scenario, prints its report with intact data, and exits 0', async () => {
    const { code, stdout, stderr } = await kdma([]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const name of ['v4l2-arm-iommu', 'alsa-wc-arm', 'alsa-wc-x86', 'net-x86-swiotlb']) expect(stdout).toContain(`== ${name}`);
    expect(stdout.match(/result {4}PASS: every byte arrived intact/g)).toHaveLength(4);
    expect(stdout).toContain('vcap0: iommu_dma_ops');
    expect(stdout).toContain('eth0: dma-direct');
    expect(stdout).toMatch(/saved by DMA_ATTR_NO_KERNEL_MAPPING/);
    expect(stdout).toMatch(/bounced to the device/);
    expect(stdout).toMatch(/iotlb {5}\d+ hits, \d+ misses/);
    expect(stdout).toContain('4 scenarios: 4 passed, 0 failed');
  });

  it('`kdma demo --json` has, per scenario, the ops, bytes, bounces, IOTLB, vmalloc saved, dma-debug and intact', async () => {
    const { code, stdout } = await kdma(['demo', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { scenarios: Record<string, unknown>[]; passed: number; failed: number };
    expect(out.passed).toBe(4);
    expect(out.failed).toBe(0);
    const byName = new Map(out.scenarios.map((s) => [s['name'] as string, s as Scenario]));
    for (const s of byName.values()) {
      expect(s['intact']).toBe(true);
      expect(s['dmaDebug']).toEqual([]);
      expect(s['bytesMoved'].deviceRead + s['bytesMoved'].deviceWritten).toBeGreaterThan(0);
    }
    const v4l2 = byName.get('v4l2-arm-iommu')!;
    expect(v4l2['devices'][0].ops).toBe('iommu_dma_ops');
    expect(v4l2['iommu'].iotlbHits).toBeGreaterThan(0);
    expect(v4l2['iommu'].iotlbMisses).toBeGreaterThan(0);
    // 4 buffers of 600 KiB that would each have had a vmalloc remap.
    expect(v4l2['vmallocSaved']).toBe(4 * 150 * 4096);
    // Scattered pages, one contiguous IOVA range per buffer.
    expect(v4l2['workloads'][0].details.physicalRunsPerBuffer).toBeGreaterThan(1);
    expect(byName.get('alsa-wc-arm')!['workloads'][0].details.userMapping).toBe('wc');
    expect(byName.get('alsa-wc-x86')!['workloads'][0].details.userMapping).toBe('normal');
    const net = byName.get('net-x86-swiotlb')!;
    expect(net['swiotlb'].bouncedToDevice).toBeGreaterThan(0);
    expect(net['swiotlb'].bouncedFromDevice).toBeGreaterThan(0);
    expect(net['swiotlb'].usedSlots).toBe(0);
  });

  it('--only runs one demo scenario', async () => {
    const { code, stdout } = await kdma(['demo', '--only', 'alsa-wc-x86']);
    expect(code).toBe(0);
    expect(stdout).toContain('1 scenario: 1 passed, 0 failed');
  });
});
