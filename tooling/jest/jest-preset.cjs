'use strict';
// Tests run the TypeScript sources directly: @swc/jest compiles them to CommonJS, and the
// "@kdma/source" export condition resolves workspace packages to their src/ so no build is needed.
const path = require('node:path');

/** @returns {import('jest').Config} */
module.exports = function kdmaJestConfig(packageDir) {
  return {
    rootDir: packageDir,
    testEnvironment: 'node',
    testEnvironmentOptions: { customExportConditions: ['@kdma/source', 'node', 'require', 'default'] },
    testMatch: ['<rootDir>/src/**/*.test.ts'],
    moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
    transform: {
      '^.+\\.(t|j)sx?$': [
        require.resolve('@swc/jest'),
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    // Sources are ESM and import siblings as "./x.js"; under CommonJS that is "./x.ts".
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    maxWorkers: 2,
    reporters: ['default', path.join(__dirname, 'totals-reporter.cjs')],
  };
};
