#!/usr/bin/env node
// The root `arch-table` script. First brings the arch packages' test results up to date (turbo,
// cached per package; `--no-test` skips this and uses the results on disk), then runs main.ts
// under tsx with the @kdma/source condition so the arch packages load from their sources.
//   pnpm arch-table            rewrite the README's architecture table
//   pnpm arch-table --check    fail when it differs from what would be written
/* global process, URL */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };

if (!args.includes('--no-test')) {
  // Failing arch tests are not fatal here: their rows then say so.
  spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--filter=./packages/arch/*', '--continue', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
}
const run = spawnSync(process.execPath, ['--conditions=@kdma/source', '--import', 'tsx', `${here}main.ts`, ...args.filter((a) => a !== '--no-test')], {
  cwd: root,
  stdio: 'inherit',
  env,
});
process.exit(run.status ?? 1);
