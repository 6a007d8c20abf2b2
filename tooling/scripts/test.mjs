#!/usr/bin/env node
// `pnpm test`: the layering check and every package's tests through turbo (cached per package),
// then one plain line of the workspace's totals, read from each package's .jest/totals.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { workspacePackages } from './workspace.mjs';

const root = new URL('../..', import.meta.url).pathname;
const packages = workspacePackages(root).filter((pkg) => pkg.manifest.scripts?.test);

for (const pkg of packages) rmSync(join(pkg.dir, '.jest', 'totals.json'), { force: true });

const args = ['turbo', 'run', 'test', 'layering', '--continue', ...process.argv.slice(2)];
const run = spawnSync('pnpm', ['exec', ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const pkg of packages) {
  const file = join(pkg.dir, '.jest', 'totals.json');
  if (!existsSync(file)) {
    missing.push(pkg.manifest.name);
    continue;
  }
  const totals = JSON.parse(readFileSync(file, 'utf8'));
  passed += totals.passed;
  failed += totals.failed;
  skipped += totals.skipped;
}
if (missing.length > 0) {
  console.error(`no test results from: ${missing.join(', ')}`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(run.status !== 0 || failed > 0 ? 1 : 0);
