/**
 * A small flag parser: `--name value`, `--name=value`, boolean `--name`, `-h`; every mistake is a
 * one-line `UsageError`.
 */
import { parseSize } from './sizes.js';
import { UsageError } from './usage-error.js';

export type FlagType = 'boolean' | 'string' | 'int' | 'number' | 'size';

export interface FlagSpec {
  /** Without the dashes: `'dma-bits'`. */
  readonly name: string;
  readonly type: FlagType;
  /** The value's placeholder in help (`N`, `FILE`). */
  readonly value?: string;
  readonly choices?: readonly string[];
  /** Smallest allowed value of a numeric flag. */
  readonly min?: number;
  readonly max?: number;
  readonly description: string;
  /** Shown in help as "(default …)". */
  readonly defaultText?: string;
}

export type FlagValue = boolean | string | number;

export interface ParsedArgs {
  readonly flags: ReadonlyMap<string, FlagValue>;
  readonly positionals: readonly string[];
  /** `-h`/`--help` was given. */
  readonly help: boolean;
}

export function parseArgs(command: string, argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const flags = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let help = false;
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (onlyPositionals || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(command, `unknown flag ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(command, `unknown flag --${name}${suggest(name, specs)}`);
    if (flags.has(name)) throw new UsageError(command, `--${name} given twice`);
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const text = arg.slice(eq + 1);
        if (text !== 'true' && text !== 'false') throw new UsageError(command, `--${name} takes no value (or =true/=false), got ${JSON.stringify(text)}`);
        flags.set(name, text === 'true');
      } else flags.set(name, true);
      continue;
    }
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(command, `--${name} needs a value (${spec.value ?? spec.type})`);
      text = next;
      i++;
    }
    flags.set(name, convert(command, spec, text));
  }
  return { flags, positionals, help };
}

function convert(command: string, spec: FlagSpec, text: string): FlagValue {
  const flag = `--${spec.name}`;
  if (spec.choices !== undefined && !spec.choices.includes(text)) {
    throw new UsageError(command, `${flag} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(text)}`);
  }
  if (spec.type === 'string') {
    if (text.length === 0) throw new UsageError(command, `${flag} needs a non-empty value`);
    return text;
  }
  let value: number | null;
  if (spec.type === 'size') value = parseSize(text);
  else {
    value = text.trim() === '' ? null : Number(text);
    if (value !== null && (!Number.isFinite(value) || (spec.type === 'int' && !Number.isSafeInteger(value)))) value = null;
  }
  if (value === null) {
    const what = spec.type === 'int' ? 'an integer' : spec.type === 'size' ? 'a size (4096, 64KiB, 8GiB)' : 'a number';
    throw new UsageError(command, `${flag} must be ${what}, got ${JSON.stringify(text)}`);
  }
  if (spec.min !== undefined && value < spec.min) throw new UsageError(command, `${flag} must be at least ${spec.min}, got ${text}`);
  if (spec.max !== undefined && value > spec.max) throw new UsageError(command, `${flag} must be at most ${spec.max}, got ${text}`);
  return value;
}

/** " (did you mean --x?)" for a near miss. */
function suggest(name: string, specs: readonly FlagSpec[]): string {
  let best: string | null = null;
  let bestDistance = 3;
  for (const spec of specs) {
    const d = editDistance(name, spec.name);
    if (d < bestDistance) {
      best = spec.name;
      bestDistance = d;
    }
  }
  return best === null ? '' : ` (did you mean --${best}?)`;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The flags section of a command's help. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const left = `--${spec.name}${spec.type === 'boolean' ? '' : ` ${spec.value ?? (spec.choices ? spec.choices.join('|') : spec.type.toUpperCase())}`}`;
    const right = `${spec.description}${spec.defaultText === undefined ? '' : ` (default ${spec.defaultText})`}`;
    return [left, right] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n');
}
