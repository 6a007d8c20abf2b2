#!/usr/bin/env node
// Scaffolds a workspace package with the project's conventions:
//   node tooling/scripts/new-package.mjs packages/arch/mips @kdma/arch-mips "description" dep1 dep2
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const [folder, name, description, ...deps] = process.argv.slice(2);
if (!folder || !name || !description) {
  console.error('usage: new-package.mjs FOLDER NAME DESCRIPTION [@kdma/dep ...]');
  process.exit(2);
}
const root = new URL('../..', import.meta.url).pathname;
const dir = join(root, folder);
const up = relative(dir, root);
mkdirSync(join(dir, 'src'), { recursive: true });

const manifest = {
  name,
  version: '0.0.0',
  description,
  license: 'GPL-2.0-only',
  type: 'module',
  sideEffects: false,
  exports: {
    '.': {
      '@kdma/source': './src/index.ts',
      types: './dist/index.d.ts',
      import: './dist/index.js',
      default: './dist/index.js',
    },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/test-*.ts', '!src/**/__tests__'],
  engines: { node: '>=20.9' },
  publishConfig: { access: 'public' },
  scripts: {
    build: 'tsc -p tsconfig.build.json',
    typecheck: 'tsc -p tsconfig.json',
    test: 'jest',
    lint: 'eslint src',
  },
  dependencies: Object.fromEntries(deps.map((dep) => [dep, 'workspace:^'])),
  devDependencies: { '@kdma/jest-preset': 'workspace:*', '@kdma/tsconfig': 'workspace:*' },
};
const write = (file, text) => {
  if (!existsSync(join(dir, file))) writeFileSync(join(dir, file), text);
};
write('package.json', JSON.stringify(manifest, null, 2) + '\n');
write('tsconfig.json', JSON.stringify({ extends: '@kdma/tsconfig/base.json', include: ['src', 'bench'] }, null, 2) + '\n');
write('tsconfig.build.json', JSON.stringify({ extends: '@kdma/tsconfig/build.json' }, null, 2) + '\n');
write('jest.config.cjs', "module.exports = require('@kdma/jest-preset')(__dirname);\n");
console.log(`created ${folder} (${up})`);
