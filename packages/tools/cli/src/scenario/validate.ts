/**
 * A small schema checker over the YAML document's nodes, so that every error names the line,
 * the column and the field (`workloads[1].v4l2.frames`) — what a JSON Schema validator working on
 * plain values cannot do. JSON files go through the same parser (JSON is YAML 1.2).
 */
import { isMap, isScalar, isSeq, type LineCounter, type Node as YamlNode } from 'yaml';
import { parseSize } from '../sizes.js';

export interface Position {
  readonly line: number;
  readonly col: number;
}

/** One problem in a scenario file. */
export interface ScenarioIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The field's path (`machine.swiotlb.size`), or '' for the document. */
  readonly field: string;
  readonly message: string;
}

export function formatIssue(issue: ScenarioIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  return `${where}: ${issue.field === '' ? '' : `${issue.field}: `}${issue.message}`;
}

/** A scenario file that cannot be used; `issues` holds every problem found. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  readonly issues: readonly ScenarioIssue[];

  constructor(issues: readonly ScenarioIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
}

export type Schema =
  | { readonly kind: 'string'; readonly choices?: readonly string[] }
  | { readonly kind: 'int'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'number'; readonly min?: number; readonly max?: number }
  /** A byte count: an integer or a size string (`64KiB`, `8GiB`). */
  | { readonly kind: 'size'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'bool' }
  | { readonly kind: 'false' }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Field>>; readonly extra?: Schema; readonly what?: string }
  | { readonly kind: 'list'; readonly item: Schema; readonly min?: number }
  /** The first alternative whose kind fits the value's shape. */
  | { readonly kind: 'either'; readonly options: readonly Schema[] }
  /** An object with exactly one key, naming the variant (`- v4l2: {...}`). */
  | { readonly kind: 'variant'; readonly variants: Readonly<Record<string, Schema>>; readonly what: string }
  | { readonly kind: 'any' }
  /** A schema that refers to itself (a `repeat` step holds steps). */
  | { readonly kind: 'lazy'; readonly get: () => Schema };

export interface Field {
  readonly schema: Schema;
  readonly required?: boolean;
}

/** Walks one document; collects issues and the position of every field it saw. */
export class Checker {
  readonly issues: ScenarioIssue[] = [];
  readonly positions = new Map<string, Position>();

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  positionOf(node: YamlNode | null | undefined): Position {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  issue(field: string, message: string, at?: Position): void {
    const pos = at ?? this.nearest(field);
    this.issues.push({ file: this.file, line: pos.line, col: pos.col, field, message });
  }

  /** The position of `field`, or of its closest recorded parent. */
  nearest(field: string): Position {
    for (let f = field; ; ) {
      const pos = this.positions.get(f);
      if (pos !== undefined) return pos;
      if (f === '') return { line: 1, col: 1 };
      const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
      f = cut < 0 ? '' : f.slice(0, cut);
    }
  }

  /** The plain value of `node` checked against `schema`, or undefined after recording an issue. */
  check(node: unknown, schema: Schema, field: string): unknown {
    const yamlNode = node as YamlNode | null;
    this.positions.set(field, this.positionOf(yamlNode));
    switch (schema.kind) {
      case 'lazy':
        return this.check(node, schema.get(), field);
      case 'any':
        return isScalar(node) || isMap(node) || isSeq(node) ? (node as { toJSON(): unknown }).toJSON() : undefined;
      case 'either': {
        for (const option of schema.options) if (fits(node, option)) return this.check(node, option, field);
        this.issue(field, `must be ${schema.options.map(describeSchema).join(' or ')}, got ${describeNode(node)}`);
        return undefined;
      }
      case 'object':
        return this.checkObject(node, schema, field);
      case 'variant':
        return this.checkVariant(node, schema, field);
      case 'list': {
        if (!isSeq(node)) {
          this.issue(field, `must be a list, got ${describeNode(node)}`);
          return undefined;
        }
        if (schema.min !== undefined && node.items.length < schema.min) {
          this.issue(field, `must have at least ${schema.min} item${schema.min === 1 ? '' : 's'}`);
        }
        return node.items.map((item, i) => this.check(item, schema.item, `${field}[${i}]`));
      }
      default:
        return this.checkScalar(node, schema, field);
    }
  }

  private checkObject(node: unknown, schema: Extract<Schema, { kind: 'object' }>, field: string): unknown {
    if (!isMap(node)) {
      this.issue(field, `must be ${schema.what ?? 'an object'}, got ${describeNode(node)}`);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : null;
      const at = this.positionOf(keyNode);
      if (key === null) {
        this.issue(field, 'keys must be plain names', at);
        continue;
      }
      const sub = join(field, key);
      const spec = schema.fields[key];
      if (spec === undefined && schema.extra === undefined) {
        this.positions.set(sub, at);
        this.issue(sub, `unknown field${suggestion(key, Object.keys(schema.fields))}; allowed: ${Object.keys(schema.fields).join(', ')}`, at);
        continue;
      }
      seen.add(key);
      const value = this.check(pair.value, spec?.schema ?? (schema.extra as Schema), sub);
      this.positions.set(sub, at);
      if (value !== undefined) out[key] = value;
    }
    for (const [key, spec] of Object.entries(schema.fields)) {
      if (spec.required === true && !seen.has(key)) this.issue(join(field, key), 'required field is missing', this.positionOf(node));
    }
    return out;
  }

  private checkVariant(node: unknown, schema: Extract<Schema, { kind: 'variant' }>, field: string): unknown {
    const names = Object.keys(schema.variants);
    if (!isMap(node) || node.items.length !== 1) {
      this.issue(field, `must be ${schema.what}: an object with one key, one of ${names.join(', ')}`);
      return undefined;
    }
    const pair = node.items[0] as { key: unknown; value: unknown };
    const keyNode = pair.key as YamlNode | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const variant = schema.variants[key];
    if (variant === undefined) {
      this.issue(join(field, key), `unknown ${schema.what}${suggestion(key, names)}; one of ${names.join(', ')}`, this.positionOf(keyNode));
      return undefined;
    }
    // A bare `- wmb:` (null) is an empty object.
    const valueNode = isScalar(pair.value) && (pair.value as { value: unknown }).value === null && variant.kind === 'object' ? null : pair.value;
    const value = valueNode === null ? this.checkEmptyObject(variant, join(field, key), this.positionOf(keyNode)) : this.check(valueNode, variant, join(field, key));
    return value === undefined ? undefined : { [key]: value };
  }

  private checkEmptyObject(schema: Schema, field: string, at: Position): unknown {
    this.positions.set(field, at);
    if (schema.kind !== 'object') return undefined;
    let ok = true;
    for (const [key, spec] of Object.entries(schema.fields)) {
      if (spec.required === true) {
        this.issue(join(field, key), 'required field is missing', at);
        ok = false;
      }
    }
    return ok ? {} : undefined;
  }

  private checkScalar(node: unknown, schema: Schema, field: string): unknown {
    const value = isScalar(node) ? node.value : undefined;
    switch (schema.kind) {
      case 'string':
        if (typeof value !== 'string') break;
        if (schema.choices !== undefined && !schema.choices.includes(value)) {
          this.issue(field, `must be one of ${schema.choices.join(', ')}, got ${JSON.stringify(value)}${suggestion(value, schema.choices)}`);
          return undefined;
        }
        return value;
      case 'bool':
        if (typeof value === 'boolean') return value;
        break;
      case 'false':
        if (value === false) return false;
        break;
      case 'int':
      case 'number':
      case 'size': {
        let n: number | null = typeof value === 'number' ? value : null;
        if (schema.kind === 'size' && typeof value === 'string') {
          n = parseSize(value);
          if (n === null) {
            this.issue(field, `must be a size in bytes (4096, 64KiB, 8GiB), got ${JSON.stringify(value)}`);
            return undefined;
          }
        }
        if (n === null) break;
        if (schema.kind !== 'number' && !Number.isSafeInteger(n)) {
          this.issue(field, `must be a whole number, got ${n}`);
          return undefined;
        }
        if (schema.min !== undefined && n < schema.min) {
          this.issue(field, `must be at least ${schema.min}, got ${n}`);
          return undefined;
        }
        if (schema.max !== undefined && n > schema.max) {
          this.issue(field, `must be at most ${schema.max}, got ${n}`);
          return undefined;
        }
        return n;
      }
      default:
        break;
    }
    this.issue(field, `must be ${describeSchema(schema)}, got ${describeNode(node)}`);
    return undefined;
  }
}

function join(field: string, key: string): string {
  return field === '' ? key : `${field}.${key}`;
}

function fits(node: unknown, schema: Schema): boolean {
  const value = isScalar(node) ? node.value : undefined;
  switch (schema.kind) {
    case 'object':
    case 'variant':
      return isMap(node);
    case 'list':
      return isSeq(node);
    case 'bool':
      return typeof value === 'boolean';
    case 'false':
      return value === false;
    case 'string':
      return typeof value === 'string';
    case 'int':
    case 'number':
      return typeof value === 'number';
    case 'size':
      return typeof value === 'number' || typeof value === 'string';
    case 'lazy':
      return fits(node, schema.get());
    default:
      return true;
  }
}

export function describeSchema(schema: Schema): string {
  switch (schema.kind) {
    case 'string':
      return schema.choices === undefined ? 'a string' : `one of ${schema.choices.join(', ')}`;
    case 'int':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'size':
      return 'a size (4096, 64KiB, 8GiB)';
    case 'bool':
      return 'true or false';
    case 'false':
      return 'false';
    case 'object':
      return schema.what ?? 'an object';
    case 'list':
      return 'a list';
    case 'either':
      return schema.options.map(describeSchema).join(' or ');
    case 'variant':
      return schema.what;
    case 'any':
      return 'a value';
    case 'lazy':
      return describeSchema(schema.get());
  }
}

function describeNode(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'an object';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return 'nothing (null)';
    if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
    return `${typeof value} ${String(value)}`;
  }
  return 'an unsupported value';
}

/** " (did you mean x?)" when `word` is a near miss of one of `names`. */
export function suggestion(word: string, names: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const name of names) {
    const d = distance(word.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best === null || best === word ? '' : ` (did you mean ${best}?)`;
}

function distance(a: string, b: string): number {
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
