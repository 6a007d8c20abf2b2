import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { kdma, PACKAGE_DIR } from './__tests__/run-cli.js';

const files = readdirSync(join(PACKAGE_DIR, 'examples')).filter((f) => /\.(ya?ml|json)$/.test(f));

describe('examples/', () => {
  it('holds several scenarios, YAML and JSON', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(files.some((f) => f.endsWith('.json'))).toBe(true);
  });

  it.each(files)('kdma run examples/%s passes', async (file) => {
    const { code, stdout, stderr } = await kdma(['run', `examples/${file}`]);
    expect(stderr).toBe('');
    expect(stdout).toContain('1 scenario: 1 passed, 0 failed');
    expect(code).toBe(0);
  });

  it('the bug example shows the damage and the dma-debug finding it expects', async () => {
    const { code, stdout } = await kdma(['run', '--json', 'examples/bug-no-sync-for-cpu-x86.yaml']);
    expect(code).toBe(0);
    const s = JSON.parse(stdout).scenarios[0];
    expect(s.intact).toBe(false);
    expect(s.passed).toBe(true);
    expect(new Set(s.dmaDebug.map((e: { kind: string }) => e.kind))).toEqual(new Set(['cpu-access-device-owned']));
  });
});
