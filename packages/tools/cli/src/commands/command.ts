import { formatFlags, type FlagSpec, type ParsedArgs } from '../args.js';
import type { CliIo } from '../io.js';

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** `kdma run [flags] FILE...` */
  readonly usage: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  readonly examples: readonly string[];
  /** Smallest and largest number of positional arguments. */
  readonly positionals: { readonly min: number; readonly max: number; readonly name: string };
  run(args: ParsedArgs, io: CliIo): Promise<number> | number;
}

export function formatCommandHelp(command: Command): string {
  return [
    `usage: ${command.usage}`,
    '',
    command.description,
    '',
    'flags:',
    formatFlags(command.flags),
    ...(command.examples.length === 0 ? [] : ['', 'examples:', ...command.examples.map((e) => `  ${e}`)]),
    '',
    'exit codes: 0 ok, 1 scenario failed, 2 usage error, 3 invalid scenario file, 4 cannot write output, 70 internal error',
    '',
  ].join('\n');
}

/** The value of a flag of a known type (the parser checked it). */
export const flagNumber = (args: ParsedArgs, name: string): number | undefined => args.flags.get(name) as number | undefined;
export const flagString = (args: ParsedArgs, name: string): string | undefined => args.flags.get(name) as string | undefined;
export const flagBool = (args: ParsedArgs, name: string): boolean => args.flags.get(name) === true;
