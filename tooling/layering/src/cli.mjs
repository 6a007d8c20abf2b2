#!/usr/bin/env node
// The root `layering` task: reads every package's src/** (not cached per package, so a new
// forbidden import cannot hide behind a cache hit) and fails on a violation of DESIGN.md's table.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const run = spawnSync(process.execPath, ['--import', 'tsx', `${here}run-check.ts`, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
