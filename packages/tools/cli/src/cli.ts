/**
 * `kdma`: the command's dispatcher. `main(argv, io)` runs one command line and returns its exit
 * code, writing only through `io`, so it runs in-process (tests) as well as from `bin`.
 */
import { parseArgs } from './args.js';
import { benchCommand } from './commands/bench.js';
import { formatCommandHelp, type Command } from './commands/command.js';
import { demoCommand } from './commands/demo.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { EXIT_BAD_SCENARIO, EXIT_CODES, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import type { CliIo } from './io.js';
import { ScenarioError, suggestion } from './scenario/validate.js';
import { UsageError } from './usage-error.js';

export const COMMANDS: readonly Command[] = [demoCommand, runCommand, benchCommand, reportCommand];

export function formatTopHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: kdma [COMMAND] [flags]',
    '',
    'The Linux DMA-mapping framework on a simulated machine: drivers, swiotlb, IOMMUs, dma-debug.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  show help for a command (kdma help run)`,
    '',
    'With no command, kdma runs the demo. `kdma COMMAND --help` shows the flags of each.',
    '',
    'exit codes:',
    ...EXIT_CODES.map((e) => `  ${String(e.code).padStart(2)}  ${e.meaning}`),
    '',
  ].join('\n');
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const names = [...COMMANDS.map((c) => c.name), 'help'];
    throw new UsageError(null, `unknown command ${JSON.stringify(name)}${suggestion(name, names)}; commands: ${names.join(', ')}`);
  }
  return command;
}

async function dispatch(argvIn: readonly string[], io: CliIo): Promise<number> {
  // `pnpm demo -- --help` passes the `--` along: a leading one separates nothing.
  const argv = argvIn[0] === '--' ? argvIn.slice(1) : argvIn;
  const first = argv[0];
  if (first === '--help' || first === '-h') {
    io.stdout(formatTopHelp());
    return EXIT_OK;
  }
  if (first === 'help') {
    const topic = argv[1];
    if (argv.length > 2) throw new UsageError(null, 'help takes at most one command name');
    io.stdout(topic === undefined ? formatTopHelp() : formatCommandHelp(findCommand(topic)));
    return EXIT_OK;
  }
  const explicit = first !== undefined && !first.startsWith('-');
  const command = explicit ? findCommand(first) : demoCommand;
  const rest = explicit ? argv.slice(1) : argv;
  const args = parseArgs(command.name, rest, command.flags);
  if (args.help) {
    io.stdout(formatCommandHelp(command));
    return EXIT_OK;
  }
  const { min, max, name } = command.positionals;
  if (args.positionals.length < min) throw new UsageError(command.name, `missing ${name}${min > 1 ? ` (at least ${min})` : ''}`);
  if (args.positionals.length > max) {
    throw new UsageError(command.name, max === 0 ? `unexpected argument ${JSON.stringify(args.positionals[0])}` : `too many arguments (at most ${max})`);
  }
  return command.run(args, io);
}

/** Runs `kdma` with `argv` (without the node and script names) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      const where = err.command === null ? 'kdma' : `kdma ${err.command}`;
      io.stderr(`${where}: ${err.message} (see ${where} --help)\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ScenarioError) {
      io.stderr(`${err.message}\n`);
      return EXIT_BAD_SCENARIO;
    }
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    io.stderr(`kdma: internal error (please report it with the command line): ${message}\n`);
    return EXIT_INTERNAL;
  }
}
