// The workspace's packages, found from pnpm-workspace.yaml's globs (one level of `*` each).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} root
 * @returns {{ dir: string, manifest: any }[]}
 */
export function workspacePackages(root) {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s+-\s+([\w./-]+\/\*)\s*$/gm)].map((m) => m[1]);
  const found = [];
  for (const glob of globs) {
    const parent = join(root, glob.slice(0, -2));
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(parent, entry.name);
      const manifestPath = join(dir, 'package.json');
      if (!existsSync(manifestPath)) continue;
      found.push({ dir, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) });
    }
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}
