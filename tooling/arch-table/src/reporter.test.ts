import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIT_SUITE_SUFFIXES } from '@kdma/testkit';
import { parseConformanceRecord, summarizeConformance } from './conformance-record.js';

// The workspace reporter is CommonJS outside this package; what it exports is typed here.
interface Reporter {
  onRunStart(): void;
  onRunComplete(contexts: unknown, results: unknown): void;
}
interface ReporterModule {
  new (config: { rootDir: string }): Reporter;
  KIT_SUITE_SUFFIXES: readonly string[];
  kitBlockOf(ancestorTitles: readonly string[]): string | null;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TotalsReporter = require('@kdma/jest-preset/totals-reporter.cjs') as ReporterModule;

const test = (ancestorTitles: string[], status: string) => ({ ancestorTitles, status, title: 't' });

describe("the workspace reporter's conformance record", () => {
  it('knows the kit by the same title endings the kit uses', () => {
    expect(TotalsReporter.KIT_SUITE_SUFFIXES).toEqual(KIT_SUITE_SUFFIXES);
    expect(TotalsReporter.kitBlockOf(['platform a', 'mips: DMA API conformance', 'coherent device'])).toBe('platform a › mips: DMA API conformance');
    expect(TotalsReporter.kitBlockOf(['mips: dma-debug'])).toBe('mips: dma-debug');
    expect(TotalsReporter.kitBlockOf(['mips octeon', 'bounces'])).toBeNull();
  });

  it('writes .jest/conformance.json with each kit block’s counts per test file', () => {
    const rootDir = mkdtempSync(join(tmpdir(), 'kdma-reporter-'));
    try {
      const reporter = new TotalsReporter({ rootDir });
      reporter.onRunStart();
      reporter.onRunComplete(new Set(), {
        numPassedTests: 4,
        numFailedTests: 1,
        numRuntimeErrorTestSuites: 1,
        numPendingTests: 1,
        numTodoTests: 0,
        testResults: [
          {
            testFilePath: join(rootDir, 'src', 'conformance.test.ts'),
            testResults: [
              test(['p', 'toy: DMA API conformance', 'default device'], 'passed'),
              test(['p', 'toy: DMA API conformance', 'default device'], 'failed'),
              test(['p', 'toy: DMA API conformance'], 'pending'),
              test(['p', 'toy: dma-debug'], 'passed'),
              test(['something else'], 'passed'),
            ],
          },
          { testFilePath: join(rootDir, 'src', 'other.test.ts'), testResults: [test(['x'], 'passed')] },
          { testFilePath: join(rootDir, 'src', 'broken.test.ts'), testExecError: { message: 'boom' }, testResults: [] },
        ],
      });
      const record = parseConformanceRecord(JSON.parse(readFileSync(join(rootDir, '.jest', 'conformance.json'), 'utf8')), 'record');
      expect(record.files).toEqual([
        { file: 'src/broken.test.ts', failedToRun: true, blocks: [] },
        {
          file: 'src/conformance.test.ts',
          failedToRun: false,
          blocks: [
            { title: 'p › toy: DMA API conformance', passed: 1, failed: 1, skipped: 1 },
            { title: 'p › toy: dma-debug', passed: 1, failed: 0, skipped: 0 },
          ],
        },
      ]);
      expect(summarizeConformance(record)).toEqual({ passed: 2, failed: 1, skipped: 1, configurations: 1, filesNotRun: ['src/broken.test.ts'] });
      expect(JSON.parse(readFileSync(join(rootDir, '.jest', 'totals.json'), 'utf8'))).toEqual({ passed: 4, failed: 2, skipped: 1 });
      // A new run removes the old record first, so a run that dies leaves none.
      new TotalsReporter({ rootDir }).onRunStart();
      expect(() => readFileSync(join(rootDir, '.jest', 'conformance.json'))).toThrow();
    } finally {
      rmSync(rootDir, { recursive: true, force: true });
    }
  });
});
