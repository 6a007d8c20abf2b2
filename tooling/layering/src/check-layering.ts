import { layers, type Layer } from './layers.js';

/** One source file as the check sees it. */
export interface SourceFile {
  /** Path relative to the repository root, with `/` separators. */
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly reason: string;
}

/** Maps a package's npm name to the folder it lives in (relative, `/` separators). */
export type PackageFolders = ReadonlyMap<string, string>;

// Static imports and re-exports, `import type`, dynamic import() and require(): every way a
// source can pull a module in. Comments are stripped first so prose cannot trigger it.
const importPattern =
  /(?:\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?|\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)(['"])([^'"]+)\1/g;

function stripComments(text: string): string {
  // Keeps line breaks so reported line numbers stay right.
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

/** The layer a folder belongs to, or undefined for folders outside the table (tooling/). */
export function layerOf(folder: string): Layer | undefined {
  return layers.find((layer) =>
    layer.folder.endsWith('/*')
      ? folder.startsWith(layer.folder.slice(0, -1)) && !folder.slice(layer.folder.length - 1).includes('/')
      : folder === layer.folder,
  );
}

function packageFolderOf(path: string): string | undefined {
  const match = /^(packages\/(?:(?:arch|drivers|tools)\/)?[^/]+)\/src\//.exec(path);
  return match?.[1];
}

/** Tests and test helpers (`*.test.ts`, `src/test-*.ts`, `__tests__/`): not published, not layered. */
function isTest(path: string): boolean {
  return /\.test\.[cm]?[jt]sx?$/.test(path) || /\/test-[^/]*\.[cm]?[jt]sx?$/.test(path) || /\/__tests__\//.test(path);
}

/** Checks every non-test source file against the layering table. */
export function checkLayering(files: readonly SourceFile[], packageFolders: PackageFolders): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    if (isTest(file.path)) continue;
    const folder = packageFolderOf(file.path);
    if (folder === undefined) continue;
    const layer = layerOf(folder);
    if (layer === undefined) {
      violations.push({ file: file.path, line: 1, specifier: '', reason: `package folder ${folder} is not in the layering table` });
      continue;
    }
    const text = stripComments(file.text);
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[2] ?? '';
      const line = text.slice(0, match.index).split('\n').length;
      const reason = judgeImport(file.path, folder, layer, specifier, packageFolders);
      if (reason !== undefined) violations.push({ file: file.path, line, specifier, reason });
    }
  }
  return violations;
}

function judgeImport(
  path: string,
  folder: string,
  layer: Layer,
  specifier: string,
  packageFolders: PackageFolders,
): string | undefined {
  if (specifier.startsWith('.')) {
    const resolved = resolveRelative(path, specifier);
    return resolved.startsWith(`${folder}/`) ? undefined : `relative import leaves ${folder}`;
  }
  if (!specifier.startsWith('@kdma/')) return undefined;
  const packageName = specifier.split('/').slice(0, 2).join('/');
  const targetFolder = packageFolders.get(packageName);
  if (targetFolder === undefined) return `${packageName} is not a workspace package`;
  if (targetFolder === folder) return `a package imports itself by name`;
  const target = layerOf(targetFolder);
  if (target === undefined) return `${packageName} (${targetFolder}) is not importable from sources`;
  if (!layer.mayImport.includes(target.name)) {
    return `layer ${layer.name} may not import layer ${target.name} (${packageName})`;
  }
  if (layer.forbiddenSubpaths?.some((sub) => specifier === sub || specifier.startsWith(`${sub}/`))) {
    return `layer ${layer.name} may use only the consumer API, not ${specifier}`;
  }
  return undefined;
}

function resolveRelative(from: string, specifier: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  return parts.join('/');
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: import '${v.specifier}': ${v.reason}`;
}
