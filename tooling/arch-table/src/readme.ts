import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectRows, extractSection, firstDifferentLine, renderSection, replaceSection } from './table.js';

/*
 * The two things `pnpm arch-table` does to the root README.md: rewrite its architecture section,
 * or (`--check`, and the package's test in `pnpm test`) say how it differs from what it would write.
 */

/** What to tell someone whose README is out of date. */
export const FIX_HINT = 'run `pnpm arch-table` to rewrite it';

/** Null when the README's section is what the script writes, else a message saying where it is not. */
export async function checkReadme(root: string): Promise<string | null> {
  const expected = renderSection(await collectRows(root));
  const actual = extractSection(readFileSync(join(root, 'README.md'), 'utf8'));
  if (actual === null) return `README.md has no architecture table: ${FIX_HINT}`;
  const diff = firstDifferentLine(actual, expected);
  if (diff === null) return null;
  return [
    `README.md's architecture table is not what tooling/arch-table writes from the arch packages' facts and recorded conformance results: ${FIX_HINT}.`,
    `First difference, line ${diff.line} of the section:`,
    `  README.md: ${diff.actual}`,
    `  generated: ${diff.expected}`,
  ].join('\n');
}

/** Rewrites the README's section; returns whether the file changed. */
export async function writeReadme(root: string): Promise<boolean> {
  const path = join(root, 'README.md');
  const before = readFileSync(path, 'utf8');
  const after = replaceSection(before, renderSection(await collectRows(root)));
  if (after === before) return false;
  writeFileSync(path, after);
  return true;
}
