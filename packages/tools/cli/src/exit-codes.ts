/**
 * Exit codes scripts can rely on. They do not change between releases; a new kind of failure gets
 * a new number.
 */
export const EXIT_OK = 0;
/** A scenario ran but failed: data not intact, an unexpected dma-debug finding, a workload error. */
export const EXIT_FAILED = 1;
/** Bad command line: unknown command or flag, a missing or malformed value. */
export const EXIT_USAGE = 2;
/** A scenario file that cannot be read, parsed or validated. */
export const EXIT_BAD_SCENARIO = 3;
/** An output file that cannot be written. */
export const EXIT_IO = 4;
/** A bug in kdma itself (an exception nobody expected): please report it. */
export const EXIT_INTERNAL = 70;

export const EXIT_CODES: readonly { readonly code: number; readonly meaning: string }[] = [
  { code: EXIT_OK, meaning: 'success: every scenario passed (data intact, only the expected dma-debug findings)' },
  { code: EXIT_FAILED, meaning: 'a scenario failed: data not intact, an unexpected or missing dma-debug finding, a workload error' },
  { code: EXIT_USAGE, meaning: 'usage error: unknown command or flag, bad flag value' },
  { code: EXIT_BAD_SCENARIO, meaning: 'scenario file unreadable or invalid (the message names the file, line and field)' },
  { code: EXIT_IO, meaning: 'an output file could not be written' },
  { code: EXIT_INTERNAL, meaning: 'internal error in kdma (a bug: please report it with the command line)' },
];
