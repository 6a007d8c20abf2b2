/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose `--help` explains the fix (`'bench'`), or null for the top level. */
  readonly command: string | null;

  constructor(command: string | null, message: string) {
    super(message);
    this.command = command;
  }
}
