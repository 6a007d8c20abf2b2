import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli.js';
import { bufferedIo } from '../io.js';

/** The package folder: examples/ lives there. */
export const PACKAGE_DIR = join(__dirname, '..', '..');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kdma ...argv` in-process. */
export async function kdma(argv: readonly string[], cwd = PACKAGE_DIR): Promise<CliRun> {
  const io = bufferedIo({ cwd });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** A temporary folder with `files` written into it. */
export function scratch(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kdma-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
