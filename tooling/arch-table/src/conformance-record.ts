import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFORMANCE_SUITE_SUFFIX } from '@kdma/testkit/suite-titles';

/*
 * What the workspace's jest reporter (tooling/jest/totals-reporter.cjs) records of the conformance
 * kit in a package's last test run: .jest/conformance.json, a turbo output of the package's `test`
 * task, so a cache hit restores it.
 */

/** One of the kit's describe blocks in one test file. */
export interface ConformanceBlock {
  /** The describe titles down to the kit's own (`platform malta › mips: DMA API conformance`). */
  readonly title: string;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** A test file that ran the kit, or that failed to run at all. */
export interface ConformanceFile {
  readonly file: string;
  readonly failedToRun: boolean;
  readonly blocks: readonly ConformanceBlock[];
}

export interface ConformanceRecord {
  readonly files: readonly ConformanceFile[];
}

/** Where a package's record lives. */
export const CONFORMANCE_RECORD = '.jest/conformance.json';

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/** Checks the shape of a parsed record; throws TypeError naming `source` and what is wrong. */
export function parseConformanceRecord(value: unknown, source: string): ConformanceRecord {
  const files = (value as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new TypeError(`${source}: "files" must be an array`);
  for (const [i, file] of files.entries()) {
    const f = file as Partial<ConformanceFile> | null;
    if (typeof f?.file !== 'string' || typeof f.failedToRun !== 'boolean' || !Array.isArray(f.blocks)) {
      throw new TypeError(`${source}: files[${i}] must be { file, failedToRun, blocks }`);
    }
    for (const [j, block] of f.blocks.entries()) {
      const b = block as Partial<ConformanceBlock> | null;
      if (typeof b?.title !== 'string' || !isCount(b.passed) || !isCount(b.failed) || !isCount(b.skipped)) {
        throw new TypeError(`${source}: files[${i}].blocks[${j}] must be { title, passed, failed, skipped }`);
      }
    }
  }
  return value as ConformanceRecord;
}

/** A package's record, or null when its tests have not run (or their run died). */
export function readConformanceRecord(packageDir: string): ConformanceRecord | null {
  const path = join(packageDir, CONFORMANCE_RECORD);
  if (!existsSync(path)) return null;
  return parseConformanceRecord(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** Sums of a record. */
export interface ConformanceSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Kit runs (machine configurations: platform, ops, options) with at least one test passed. */
  readonly configurations: number;
  /** Test files that failed to run, so their tests are not in the counts. */
  readonly filesNotRun: readonly string[];
}

export function summarizeConformance(record: ConformanceRecord): ConformanceSummary {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let configurations = 0;
  const filesNotRun: string[] = [];
  for (const file of record.files) {
    if (file.failedToRun) filesNotRun.push(file.file);
    for (const block of file.blocks) {
      passed += block.passed;
      failed += block.failed;
      skipped += block.skipped;
      if (block.title.endsWith(CONFORMANCE_SUITE_SUFFIX) && block.passed > 0) configurations++;
    }
  }
  return { passed, failed, skipped, configurations, filesNotRun };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The table's conformance cell. "passes" only when the record exists, some kit test passed, none
 * failed and every test file ran; "not run" when there is no record or no kit test in it.
 */
export function conformanceCell(record: ConformanceRecord | null): string {
  if (record === null) return 'not run';
  const s = summarizeConformance(record);
  if (s.filesNotRun.length > 0) return `fails (${s.filesNotRun.join(', ')} did not run)`;
  if (s.failed > 0) return `fails (${s.failed} of ${s.passed + s.failed + s.skipped} tests)`;
  if (s.passed === 0) return 'not run';
  const skipped = s.skipped > 0 ? `, ${s.skipped} skipped` : '';
  return `passes (${plural(s.passed, 'test')} on ${plural(s.configurations, 'configuration')}${skipped})`;
}
