// `pnpm arch-table [--check]` (through cli.mjs, which runs this under tsx with the @kdma/source
// condition): rewrite the root README's architecture table, or check it is up to date.
import { fileURLToPath } from 'node:url';
import { checkReadme, writeReadme } from './readme.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const check = process.argv.includes('--check');

if (check) {
  const problem = await checkReadme(root);
  if (problem !== null) {
    console.error(problem);
    process.exit(1);
  }
  console.log('arch-table: README.md is up to date');
} else {
  const changed = await writeReadme(root);
  console.log(changed ? 'arch-table: README.md rewritten' : 'arch-table: README.md already up to date');
}
