import { describe, expect, it } from '@jest/globals';
import { kdma, scratch } from '../__tests__/run-cli.js';
import { EXIT_BAD_SCENARIO, EXIT_FAILED } from '../exit-codes.js';
import { parseScenario } from './load.js';
import { runScenario } from './run.js';
import { ScenarioError } from './validate.js';

const GOOD = `arch: arm
devices:
  - name: d0
workloads:
  - raw:
      device: d0
      steps:
        - kmalloc: { as: b, size: 256 }
        - free: { buffer: b }
`;

/** Runs `kdma run` on one file and returns its single stderr line and the exit code. */
async function runFile(name: string, text: string) {
  const dir = scratch({ [name]: text });
  const result = await kdma(['run', name], dir);
  return { ...result, lines: result.stderr.trim().split('\n') };
}

describe('a malformed scenario gets an error naming the file, the line and the field, and exits non-zero', () => {
  it('bad YAML', async () => {
    const r = await runFile('bad.yaml', 'arch: arm\ndevices:\n  - name: a\n   oops: 1\n');
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines[0]).toMatch(/^bad\.yaml:4:\d+: YAML syntax error: /);
    expect(r.stdout).toBe('');
  });

  it('bad JSON', async () => {
    const r = await runFile('bad.json', '{ "arch": "arm", "devices": [ }');
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines[0]).toMatch(/^bad\.json:1:\d+: JSON syntax error: /);
  });

  it('an unknown field', async () => {
    const r = await runFile('s.yaml', GOOD.replace('  - name: d0\n', '  - name: d0\n    dmaBitz: 32\n'));
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines).toEqual([expect.stringMatching(/^s\.yaml:4:5: devices\[0\]\.dmaBitz: unknown field \(did you mean dmaBits\?\)/)]);
  });

  it('a wrong type', async () => {
    const r = await runFile('s.yaml', GOOD.replace('size: 256', 'size: lots'));
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines).toEqual([expect.stringMatching(/^s\.yaml:8:35: workloads\[0\]\.raw\.steps\[0\]\.kmalloc\.size: must be a size in bytes/)]);
  });

  it('a missing arch', async () => {
    const r = await runFile('s.yaml', GOOD.replace('arch: arm\n', ''));
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines).toEqual(['s.yaml:1:1: arch: required field is missing']);
  });

  it('an unknown arch, with the choices', async () => {
    const r = await runFile('s.yaml', GOOD.replace('arch: arm', 'arch: armm'));
    expect(r.lines[0]).toMatch(/^s\.yaml:1:7: arch: must be one of arm, x86, .*got "armm" \(did you mean arm\?\)/);
  });

  it('a machine option the arch refuses, at its line', async () => {
    const r = await runFile('s.yaml', GOOD.replace('arch: arm\n', 'arch: x86\nmachine:\n  memory: 1GiB\n  iommu: arm-smmu\n'));
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines).toEqual([expect.stringMatching(/^s\.yaml:4:3: machine\.iommu: iommu must be false or one of intel-iommu, amd-iommu/)]);
  });

  it('references to undefined devices and buffers', async () => {
    const r = await runFile('s.yaml', GOOD.replace('device: d0', 'device: d1').replace('buffer: b', 'buffer: c'));
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.lines).toEqual([
      expect.stringMatching(/^s\.yaml:6:7: workloads\[0\]\.raw\.device: no device named "d1" \(did you mean d0\?\)/),
      expect.stringMatching(/^s\.yaml:9:\d+: workloads\[0\]\.raw\.steps\[1\]\.free\.buffer: no buffer named "c"/),
    ]);
  });

  it('a file that is not there', async () => {
    const r = await runFile('s.yaml', GOOD);
    const missing = await kdma(['run', 'nope.yaml'], scratch({}));
    expect(r.code).toBe(0);
    expect(missing.code).toBe(EXIT_BAD_SCENARIO);
    expect(missing.stderr).toBe('nope.yaml: cannot read the scenario: no such file\n');
  });

  it('the other files still run', async () => {
    const dir = scratch({ 'good.yaml': GOOD, 'bad.yaml': 'arch: 3\n' });
    const r = await kdma(['run', 'bad.yaml', 'good.yaml'], dir);
    expect(r.code).toBe(EXIT_BAD_SCENARIO);
    expect(r.stdout).toContain('1 scenario: 1 passed, 0 failed');
  });

  it('parseScenario collects every issue', () => {
    expect(() => parseScenario('arch: arm\ndevices: []\nworkloads: 3\n', 'x.yaml')).toThrow(ScenarioError);
    try {
      parseScenario('arch: arm\ndevices: []\nworkloads: 3\n', 'x.yaml');
    } catch (err) {
      expect((err as ScenarioError).issues.map((i) => [i.line, i.field])).toEqual([
        [2, 'devices'],
        [3, 'workloads'],
      ]);
    }
  });
});

describe('what a scenario checks', () => {
  const raw = (steps: string, machine = '') => `arch: arm\n${machine}devices: [{ name: d0 }]\nworkloads:\n  - raw:\n      device: d0\n      steps:\n${steps}`;

  it('a missing sync for the CPU on non-coherent ARM: stale bytes and a dma-debug report', () => {
    const { scenario } = parseScenario(
      raw(`        - kmalloc: { as: b, size: 4096 }
        - map: { buffer: b, as: h, dir: from-device }
        - cpu-read: { buffer: b }
        - device-write: { handle: h, seed: 5 }
        - cpu-read: { buffer: b }
        - unmap: { handle: h }
        - free: { buffer: b }
`),
      'x.yaml',
    );
    const result = runScenario(scenario);
    expect(result.intact).toBe(false);
    expect(result.passed).toBe(false);
    expect(result.dmaDebug.map((e) => e.kind)).toContain('cpu-access-device-owned');
    expect(result.failures.join('\n')).toMatch(/not intact/);
  });

  it('the same with the sync: intact, no findings', () => {
    const { scenario } = parseScenario(
      raw(`        - kmalloc: { as: b, size: 4096 }
        - map: { buffer: b, as: h, dir: from-device }
        - device-write: { handle: h, seed: 5 }
        - sync-for-cpu: { handle: h }
        - cpu-read: { buffer: b }
        - unmap: { handle: h }
        - free: { buffer: b }
`),
      'x.yaml',
    );
    const result = runScenario(scenario);
    expect([result.intact, result.passed, result.dmaDebug]).toEqual([true, true, []]);
  });

  it('a leaked mapping is reported when the device goes away', () => {
    const { scenario } = parseScenario(raw(`        - kmalloc: { as: b, size: 64 }\n        - map: { buffer: b, as: h, dir: to-device }\n`), 'x.yaml');
    const result = runScenario(scenario);
    expect(result.dmaDebug.map((e) => e.kind)).toEqual(['leak']);
    expect(result.passed).toBe(false);
  });

  it('an expected finding that does not happen fails the scenario (exit 1)', async () => {
    const dir = scratch({ 's.yaml': `${GOOD}expect:\n  dmaDebug: [leak]\n` });
    const r = await kdma(['run', 's.yaml'], dir);
    expect(r.code).toBe(EXIT_FAILED);
    expect(r.stdout).toContain('dma-debug did not report the expected leak');
  });

  it('sizes are read as the kernel reads them', () => {
    const { scenario } = parseScenario(`arch: x86\nmachine: { memory: 2GiB, swiotlb: { size: 4M } }\n${GOOD.slice('arch: arm\n'.length)}`, 'x.yaml');
    expect(scenario.machine).toEqual({ dmaDebug: true, memory: 2 ** 31, swiotlb: { size: 4 * 2 ** 20 } });
  });
});
