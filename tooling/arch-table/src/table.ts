import { dmaAttrsToString } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';
import { discoverArchPackages, loadArchModule } from './arch-packages.js';
import { conformanceCell, readConformanceRecord, type ConformanceRecord } from './conformance-record.js';

/*
 * The README's architecture table: one row per arch package, every cell from its `arch` facts
 * except the last, which is the conformance kit's result from the package's last test run.
 */

export const BEGIN_MARKER = '<!-- arch-table:begin -->';
export const END_MARKER = '<!-- arch-table:end -->';

/** One architecture: where it lives, its facts, its recorded kit results. */
export interface ArchRow {
  readonly folder: string;
  readonly facts: ArchFacts;
  readonly conformance: ConformanceRecord | null;
}

const COLUMNS = ['architecture', 'coherency', 'page sizes', 'cache line', 'ops available', 'attributes honoured', 'conformance'] as const;

/** `4 KiB`, `2 MiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const code = (text: string) => `\`${text}\``;
// A `|` would end the cell early.
const cell = (text: string) => text.replace(/\|/g, '\\|');

function coherency(facts: ArchFacts): string {
  return facts.coherent.replace('-', ' ');
}

function attributes(facts: ArchFacts): string {
  if (facts.honouredAttrs === 0) return 'none';
  return dmaAttrsToString(facts.honouredAttrs)
    .split('|')
    .map((name) => code(name.startsWith('0x') ? name : `DMA_ATTR_${name}`))
    .join(', ');
}

/** The cells of a row, in COLUMNS order. */
export function rowCells(row: ArchRow): string[] {
  const { facts } = row;
  return [
    `[${facts.name}](${row.folder})`,
    coherency(facts),
    facts.pageSizes.map(formatBytes).join(', '),
    formatBytes(facts.cacheLineSize),
    facts.ops.length === 0 ? 'none' : facts.ops.map(code).join(', '),
    attributes(facts),
    conformanceCell(row.conformance),
  ];
}

/** The markdown table. */
export function renderTable(rows: readonly ArchRow[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(COLUMNS), `|${COLUMNS.map(() => '---').join('|')}|`, ...rows.map((row) => line(rowCells(row)))].join('\n');
}

/** The README section, markers included. */
export function renderSection(rows: readonly ArchRow[]): string {
  return [
    BEGIN_MARKER,
    '## Architectures',
    '',
    'Written by `pnpm arch-table` (tooling/arch-table), not by hand: every cell but the last comes',
    "from the arch package's `arch` facts, the last from what the conformance kit recorded in the",
    "package's last test run (`.jest/conformance.json`). `pnpm test` fails when this table differs",
    'from what the script writes. A row says "passes" only if every kit test in its record ran and',
    'passed; a configuration is one platform or ops selection the package runs the kit on, and',
    "skipped tests are kit cases the package's own test setup leaves out, saying why.",
    '',
    renderTable(rows),
    END_MARKER,
  ].join('\n');
}

/** The section as it stands in `readme` (markers included), or null when it has none. */
export function extractSection(readme: string): string | null {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (begin < 0 || end < begin) return null;
  return readme.slice(begin, end + END_MARKER.length);
}

/**
 * `readme` with its section replaced by `section`; a README without one gets it right after the
 * Packages section (before the next `## ` heading).
 */
export function replaceSection(readme: string, section: string): string {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (begin >= 0 && end > begin) return readme.slice(0, begin) + section + readme.slice(end + END_MARKER.length);
  if (begin >= 0 || end >= 0) throw new Error(`README.md has a broken arch table: it needs ${BEGIN_MARKER} before ${END_MARKER}`);
  const packages = readme.search(/^## Packages\s*$/m);
  if (packages < 0) throw new Error('README.md has no "## Packages" section to put the arch table after');
  const next = readme.slice(packages + 1).search(/^## /m);
  if (next < 0) return `${readme.replace(/\n*$/, '')}\n\n${section}\n`;
  const at = packages + 1 + next;
  return `${readme.slice(0, at)}${section}\n\n${readme.slice(at)}`;
}

/** Every arch package's row: facts imported from its source, results read from its record. */
export async function collectRows(root: string): Promise<ArchRow[]> {
  const rows: ArchRow[] = [];
  for (const pkg of discoverArchPackages(root)) {
    const { arch } = await loadArchModule(pkg);
    rows.push({ folder: pkg.folder, facts: arch, conformance: readConformanceRecord(pkg.dir) });
  }
  return rows;
}

/** The first line where `actual` and `expected` differ, for a readable failure. */
export function firstDifferentLine(actual: string, expected: string): { line: number; actual: string; expected: string } | null {
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) return { line: i + 1, actual: a[i] ?? '(nothing)', expected: e[i] ?? '(nothing)' };
  }
  return null;
}
