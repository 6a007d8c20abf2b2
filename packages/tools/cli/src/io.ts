/**
 * Where the command writes and what it knows about its terminal. `main` takes one, so tests run
 * the whole CLI in-process and read what it printed.
 */
export interface CliIo {
  /** Writes to standard output (the report, JSON, help). */
  stdout(text: string): void;
  /** Writes to standard error (errors, warnings, progress bars). */
  stderr(text: string): void;
  /** Standard error is a terminal: progress bars are drawn there. Default false. */
  readonly stderrIsTTY?: boolean;
  /** The directory relative file names are resolved against. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Wall-clock milliseconds (progress throttling, timings). Default `performance.now()`. */
  readonly now?: () => number;
}

/** The process's streams. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
    now: () => performance.now(),
  };
}

/** Collects everything written, for tests and for callers that post-process the output. */
export interface BufferedIo extends CliIo {
  readonly out: string[];
  readonly err: string[];
  /** Everything written to stdout so far. */
  stdoutText(): string;
  /** Everything written to stderr so far. */
  stderrText(): string;
}

export function bufferedIo(options: { cwd?: string; stderrIsTTY?: boolean } = {}): BufferedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    stderrIsTTY: options.stderrIsTTY ?? false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdoutText: () => out.join(''),
    stderrText: () => err.join(''),
  };
}
