import { describe, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverArchPackages, findWorkspaceRoot } from './arch-packages.js';
import { checkReadme } from './readme.js';

/*
 * The check `pnpm test` runs: turbo starts this package's tests only after every arch package's
 * (they are its devDependencies and its test task depends on ^test), so each one's
 * .jest/conformance.json is there, fresh or restored from the cache.
 */

const root = findWorkspaceRoot();

describe("the root README's architecture table", () => {
  it('is what `pnpm arch-table` writes from the facts and the recorded conformance results', async () => {
    const problem = await checkReadme(root);
    if (problem !== null) throw new Error(problem);
  });

  it('covers every arch package: each is a devDependency of @kdma/arch-table, so turbo runs its tests first', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'tooling/arch-table/package.json'), 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    const missing = discoverArchPackages(root)
      .map((pkg) => pkg.name)
      .filter((name) => manifest.devDependencies?.[name] === undefined);
    if (missing.length > 0) {
      throw new Error(`add ${missing.map((name) => `"${name}": "workspace:*"`).join(', ')} to tooling/arch-table/package.json's devDependencies and run pnpm install`);
    }
  });
});
