import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ArchFacts, Machine, MachineOptions } from '@kdma/dma-mapping/ops';

/*
 * The arch packages, found by folder: every packages/arch/NAME with a package.json (DESIGN.md puts
 * each architecture there), so a new one shows up in the table and the portability test without
 * being listed anywhere.
 */

/** Where the arch packages live, relative to the workspace root. */
export const ARCH_FOLDER = 'packages/arch';

/** An arch package as found on disk. */
export interface ArchPackage {
  /** npm name, e.g. `@kdma/arch-arm`. */
  readonly name: string;
  /** Folder relative to the workspace root, with `/`: `packages/arch/arm`. */
  readonly folder: string;
  /** Absolute folder. */
  readonly dir: string;
  /** Absolute path of its source entry (the `@kdma/source` export of `.`). */
  readonly entry: string;
}

/** What the table and the portability test use of an arch package's public entry. */
export interface ArchModule {
  readonly arch: ArchFacts;
  readonly createMachine: (options?: MachineOptions) => Machine;
}

/** The workspace root: the nearest folder at or above `from` holding pnpm-workspace.yaml. */
export function findWorkspaceRoot(from: string = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml at or above ${from}`);
  }
}

function sourceEntry(manifest: unknown, manifestPath: string): string {
  const exportsField = (manifest as { exports?: unknown }).exports;
  const dot = typeof exportsField === 'object' && exportsField !== null ? (exportsField as Record<string, unknown>)['.'] : undefined;
  const entry = typeof dot === 'object' && dot !== null ? (dot as Record<string, unknown>)['@kdma/source'] : undefined;
  if (typeof entry !== 'string') throw new Error(`${manifestPath}: exports["."]["@kdma/source"] must name the source entry`);
  return entry;
}

/** Every arch package under `root`/packages/arch, in folder order. */
export function discoverArchPackages(root: string): ArchPackage[] {
  const parent = join(root, ARCH_FOLDER);
  if (!existsSync(parent)) return [];
  const found: ArchPackage[] = [];
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(parent, entry.name);
    const manifestPath = join(dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const name = (manifest as { name?: unknown }).name;
    if (typeof name !== 'string') throw new Error(`${manifestPath}: no package name`);
    found.push({ name, folder: `${ARCH_FOLDER}/${entry.name}`, dir, entry: join(dir, sourceEntry(manifest, manifestPath)) });
  }
  return found.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0));
}

/** Imports an arch package's source entry and checks it exports `arch` and `createMachine`. */
export async function loadArchModule(pkg: ArchPackage): Promise<ArchModule> {
  const loaded = (await import(pkg.entry)) as Partial<Record<string, unknown>>;
  const { arch, createMachine } = loaded;
  if (typeof arch !== 'object' || arch === null || typeof (arch as ArchFacts).name !== 'string') {
    throw new Error(`${pkg.name} does not export its ArchFacts as \`arch\``);
  }
  if (typeof createMachine !== 'function') throw new Error(`${pkg.name} does not export \`createMachine\``);
  return { arch: arch as ArchFacts, createMachine: createMachine as ArchModule['createMachine'] };
}
