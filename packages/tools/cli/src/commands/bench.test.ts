import { describe, expect, it } from '@jest/globals';
import { kdma } from '../__tests__/run-cli.js';

describe('kdma bench', () => {
  it('--json prints one object with every path\'s map/unmap averages and their ratios to the baseline', async () => {
    const { code, stdout, stderr } = await kdma(['bench', '--json', '--iterations', '200', '--warmup', '20', '--threads', '2']);
    expect([code, stderr]).toEqual([0, '']);
    const result = JSON.parse(stdout);
    expect(result.options).toMatchObject({ threads: 2, iterations: 200, granule: 1, mode: 'single', dmaBits: 32 });
    expect(result.runs.map((r: { path: string }) => r.path)).toEqual(['direct', 'swiotlb', 'iommu-strict', 'iommu-lazy']);
    for (const run of result.runs) {
      expect(run.loops).toBe(400);
      for (const figure of [run.map, run.unmap, run.baseline]) expect(figure.avgNs).toBeGreaterThan(0);
      expect(run.mapRatio).toBeGreaterThan(0);
      expect(run.unmapRatio).toBeGreaterThan(0);
    }
    expect(result.runs.find((r: { path: string }) => r.path === 'swiotlb').swiotlb.bouncedToDevice).toBeGreaterThan(0);
  });

  it("text: the kernel tool's lines for each path", async () => {
    const { code, stdout } = await kdma(['bench', '--iterations', '50', '--warmup', '0', '--path', 'direct,iommu-lazy', '--arch', 'x86', '--mode', 'sg', '--granule', '4', '--dir', 'to']);
    expect(code).toBe(0);
    expect(stdout.match(/average map latency\(us\):/g)).toHaveLength(2);
    expect(stdout.match(/average unmap latency\(us\):/g)).toHaveLength(2);
    expect(stdout).toContain('TO_DEVICE');
  });
});
