'use strict';
// Writes this package's pass/fail counts to .jest/totals.json, a turbo output, so that the
// workspace totals are exact even when turbo replays a package's tests from its cache.
const fs = require('node:fs');
const path = require('node:path');

class TotalsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
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
  }
}

module.exports = TotalsReporter;
