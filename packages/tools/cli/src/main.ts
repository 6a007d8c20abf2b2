#!/usr/bin/env node
/** The `kdma` executable: runs the command line and exits with its code. */
import { main } from './cli.js';
import { processIo } from './io.js';

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kdma: ${String(err)}\n`);
    process.exitCode = 70;
  },
);
