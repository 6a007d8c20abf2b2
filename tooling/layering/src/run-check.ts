import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workspacePackages } from '../../scripts/workspace.mjs';
import { checkLayering, formatViolation, type SourceFile } from './check-layering.js';

const root = process.argv[2] ?? fileURLToPath(new URL('../../..', import.meta.url));

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (/\.(?:[cm]?[jt]s|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const toPosix = (path: string) => path.split(sep).join('/');
const packages = workspacePackages(root);
const folders = new Map<string, string>(packages.map((pkg) => [pkg.manifest.name, toPosix(relative(root, pkg.dir))]));
const files: SourceFile[] = [];
for (const pkg of packages) {
  const folder = toPosix(relative(root, pkg.dir));
  if (!folder.startsWith('packages/')) continue;
  let sources: string[];
  try {
    sources = [...walk(join(pkg.dir, 'src'))];
  } catch {
    continue;
  }
  for (const path of sources) files.push({ path: toPosix(relative(root, path)), text: readFileSync(path, 'utf8') });
}

const violations = checkLayering(files, folders);
for (const violation of violations) console.error(formatViolation(violation));
console.log(`layering: ${files.length} source files in ${folders.size} packages, ${violations.length} violations`);
process.exit(violations.length === 0 ? 0 : 1);
