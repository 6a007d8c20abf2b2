'use strict';
// Writes this package's pass/fail counts to .jest/totals.json, a turbo output, so that the
// workspace totals are exact even when turbo replays a package's tests from its cache.
//
// It also records what the conformance kit (@kdma/testkit) did in this package, in
// .jest/conformance.json: for each test file, each of the kit's describe blocks (found by the
// endings of their titles, tooling/testkit/src/suite-titles.ts) with its passed/failed/skipped
// counts, and whether the file failed to run at all. The README's architecture table
// (tooling/arch-table) reads it; a cache hit replays it like totals.json.
const fs = require('node:fs');
const path = require('node:path');

/** The endings of the kit's describe titles (tooling/testkit/src/suite-titles.ts). */
const KIT_SUITE_SUFFIXES = [': DMA API conformance', ': dma-debug'];

/**
 * The kit block a test belongs to: its ancestor titles down to the first kit describe, joined
 * with ' › ' (the outer describes tell one platform's run from another's), or null.
 * @param {readonly string[]} ancestorTitles
 * @returns {string | null}
 */
function kitBlockOf(ancestorTitles) {
  const index = ancestorTitles.findIndex((title) => KIT_SUITE_SUFFIXES.some((suffix) => title.endsWith(suffix)));
  return index < 0 ? null : ancestorTitles.slice(0, index + 1).join(' › ');
}

/**
 * The conformance record of a run, from jest's aggregated results.
 * @param {string} rootDir
 * @param {{ testResults: { testFilePath: string, testExecError?: unknown, failureMessage?: string | null, testResults: { ancestorTitles: string[], status: string }[] }[] }} results
 */
function conformanceRecord(rootDir, results) {
  const files = [];
  for (const file of results.testResults) {
    const blocks = new Map();
    for (const test of file.testResults) {
      const title = kitBlockOf(test.ancestorTitles);
      if (title === null) continue;
      let block = blocks.get(title);
      if (block === undefined) {
        block = { title, passed: 0, failed: 0, skipped: 0 };
        blocks.set(title, block);
      }
      if (test.status === 'passed') block.passed++;
      else if (test.status === 'failed') block.failed++;
      else block.skipped++;
    }
    const failedToRun = file.testExecError != null;
    if (blocks.size === 0 && !failedToRun) continue;
    files.push({
      file: path.relative(rootDir, file.testFilePath).split(path.sep).join('/'),
      failedToRun,
      blocks: [...blocks.values()],
    });
  }
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files };
}

class TotalsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunStart() {
    // A run that dies before onRunComplete must not leave the previous run's record behind.
    fs.rmSync(path.join(this.rootDir, '.jest', 'conformance.json'), { force: true });
  }

  onRunComplete(_contexts, results) {
    const dir = path.join(this.rootDir, '.jest');
    fs.mkdirSync(dir, { recursive: true });
    const totals = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    fs.writeFileSync(path.join(dir, 'totals.json'), JSON.stringify(totals) + '\n');
    const record = conformanceRecord(this.rootDir, results);
    fs.writeFileSync(path.join(dir, 'conformance.json'), JSON.stringify(record, null, 1) + '\n');
  }
}

module.exports = TotalsReporter;
module.exports.KIT_SUITE_SUFFIXES = KIT_SUITE_SUFFIXES;
module.exports.kitBlockOf = kitBlockOf;
module.exports.conformanceRecord = conformanceRecord;
