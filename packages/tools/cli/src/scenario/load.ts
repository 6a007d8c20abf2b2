/**
 * Reads a scenario file (YAML or JSON), checks it against the schema and fills in the defaults.
 * Every problem is a `ScenarioIssue` naming the file, the line, the column and the field.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ALSA_TYPES, scenarioSchema } from './schema.js';
import type { AlsaBufferType, DeviceSpec, Direction, RawStep, Scenario, Workload } from './types.js';
import { Checker, ScenarioError, suggestion } from './validate.js';

/** The dma-debug kinds a scenario may expect (kernel/dma/debug.c's checks and the sanitizer). */
export const DMA_DEBUG_KINDS = [
  'free-invalid-address',
  'free-not-allocated',
  'free-size-mismatch',
  'free-wrong-function',
  'free-cpu-address-mismatch',
  'free-sg-count-mismatch',
  'free-direction-mismatch',
  'map-error-not-checked',
  'sync-not-allocated',
  'sync-out-of-range',
  'sync-direction-mismatch',
  'sync-read-only-for-cpu',
  'sync-write-only-for-device',
  'sync-sg-count-mismatch',
  'map-invalid-area',
  'map-vmalloc',
  'map-stack',
  'map-kernel-text',
  'sg-segment-too-long',
  'sg-segment-across-boundary',
  'cacheline-overlap',
  'leak',
  'cpu-access-device-owned',
  'device-access-cpu-owned',
] as const;

/** A parsed scenario and where each of its fields was, for errors found later (at run time). */
export interface LoadedScenario {
  readonly scenario: Scenario;
  /** `field path → position`; `at('machine.memory')` gives the line for a machine error. */
  readonly positions: ReadonlyMap<string, { line: number; col: number }>;
}

/** Reads and checks `path` (`display` is the name used in messages). */
export function loadScenarioFile(path: string, display = path): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ScenarioError([{ file: display, line: 0, col: 0, field: '', message: `cannot read the scenario: ${why}` }]);
  }
  return parseScenario(text, display);
}

/** Parses and checks scenario text. */
export function parseScenario(text: string, file: string): LoadedScenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const checker = new Checker(file, lines);
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      const syntax = /\.json$/i.test(file) ? 'JSON' : 'YAML';
      return { file, line: pos.line, col: pos.col, field: '', message: `${syntax} syntax error: ${firstLine(e.message)}` };
    });
    throw new ScenarioError(issues);
  }
  if (doc.contents === null) throw new ScenarioError([{ file, line: 1, col: 1, field: '', message: 'the file is empty: a scenario needs arch, devices and workloads' }]);
  const raw = checker.check(doc.contents, scenarioSchema, '') as RawScenario | undefined;
  if (raw === undefined || checker.issues.length > 0) throw new ScenarioError(checker.issues);
  const scenario = convert(raw, file, checker);
  if (checker.issues.length > 0) throw new ScenarioError(checker.issues);
  return { scenario, positions: checker.positions };
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}

type Obj = Record<string, unknown>;
interface RawScenario {
  name?: string;
  description?: string;
  arch: string;
  machine?: Obj;
  devices: DeviceSpec[];
  workloads: Record<string, Obj>[];
  expect?: { intact?: boolean; dmaDebug?: string[] };
}

function convert(raw: RawScenario, file: string, checker: Checker): Scenario {
  const names = new Set<string>();
  raw.devices.forEach((dev, i) => {
    if (names.has(dev.name)) checker.issue(`devices[${i}].name`, `a device named ${JSON.stringify(dev.name)} is already defined`);
    names.add(dev.name);
    if (dev.iommu === true && (raw.machine?.['iommu'] === undefined || raw.machine['iommu'] === false)) {
      checker.issue(`devices[${i}].iommu`, 'the machine has no IOMMU: set machine.iommu (arm: arm-smmu; x86: intel-iommu or amd-iommu)');
    }
  });
  const driven = new Map<string, string>();
  const workloads: Workload[] = raw.workloads.map((entry, i) => {
    const [kind, body] = Object.entries(entry)[0] as [string, Obj];
    const field = `workloads[${i}].${kind}`;
    const device = body['device'] as string;
    if (!names.has(device)) {
      checker.issue(`${field}.device`, `no device named ${JSON.stringify(device)}${suggestion(device, [...names])}; devices: ${[...names].join(', ')}`);
    } else if (kind !== 'raw') {
      const previous = driven.get(device);
      if (previous !== undefined) checker.issue(`${field}.device`, `device ${device} already has a driver (${previous}); give each driver workload its own device`);
      driven.set(device, `${field}`);
    }
    return workload(kind, body, field, checker);
  });
  const expectedKinds = raw.expect?.dmaDebug ?? [];
  expectedKinds.forEach((kind, i) => {
    if (!(DMA_DEBUG_KINDS as readonly string[]).includes(kind)) {
      checker.issue(`expect.dmaDebug[${i}]`, `unknown dma-debug kind ${JSON.stringify(kind)}${suggestion(kind, DMA_DEBUG_KINDS)}`);
    }
  });
  return {
    file,
    name: raw.name ?? basename(file).replace(/\.(ya?ml|json)$/i, ''),
    description: raw.description ?? '',
    arch: raw.arch,
    machine: { dmaDebug: true, ...(raw.machine ?? {}) },
    devices: raw.devices,
    workloads,
    expect: { intact: raw.expect?.intact ?? true, dmaDebug: expectedKinds },
  };
}

function workload(kind: string, b: Obj, field: string, checker: Checker): Workload {
  const device = b['device'] as string;
  const bugs = (b['bugs'] as string[] | undefined) ?? [];
  switch (kind) {
    case 'v4l2':
      return {
        kind,
        device,
        allocator: (b['allocator'] as 'dma-contig' | 'dma-sg' | undefined) ?? 'dma-contig',
        frames: (b['frames'] as number | undefined) ?? 30,
        buffers: (b['buffers'] as number | undefined) ?? 4,
        sizeimage: (b['sizeimage'] as number | undefined) ?? (640 * 360 * 3) / 2,
        frameIntervalNs: (b['frameIntervalNs'] as number | undefined) ?? 33_333_333,
        noKernelMapping: (b['noKernelMapping'] as boolean | undefined) ?? false,
        fragment: (b['fragment'] as number | undefined) ?? 0,
        gfpDma32: (b['gfpDma32'] as boolean | undefined) ?? false,
        bugs,
      };
    case 'alsa': {
      const periodBytes = (b['periodBytes'] as number | undefined) ?? 4096;
      const channels = (b['channels'] as number | undefined) ?? 2;
      if (periodBytes % (2 * channels) !== 0) checker.issue(`${field}.periodBytes`, `must be whole S16_LE frames of ${2 * channels} bytes, got ${periodBytes}`);
      return {
        kind,
        device,
        stream: (b['stream'] as 'playback' | 'capture' | undefined) ?? 'playback',
        type: ((b['type'] as string | undefined) ?? 'DEV_WC') as AlsaBufferType,
        periods: (b['periods'] as number | undefined) ?? 32,
        periodBytes,
        bufferPeriods: (b['bufferPeriods'] as number | undefined) ?? 4,
        rate: (b['rate'] as number | undefined) ?? 48000,
        channels,
        bugs,
      };
    }
    case 'net': {
      const minSize = (b['minSize'] as number | undefined) ?? 60;
      const maxSize = (b['maxSize'] as number | undefined) ?? 1514;
      if (minSize > maxSize) checker.issue(`${field}.minSize`, `must not exceed maxSize (${maxSize}), got ${minSize}`);
      for (const ring of ['rxRingSize', 'txRingSize']) {
        const n = b[ring] as number | undefined;
        if (n !== undefined && n % 8 !== 0) checker.issue(`${field}.${ring}`, `must be a multiple of 8 (RDLEN/TDLEN are 128-byte aligned), got ${n}`);
      }
      return {
        kind,
        device,
        rx: (b['rx'] as number | undefined) ?? 1000,
        tx: (b['tx'] as number | undefined) ?? 1000,
        minSize,
        maxSize,
        rxRingSize: (b['rxRingSize'] as number | undefined) ?? 256,
        txRingSize: (b['txRingSize'] as number | undefined) ?? 256,
        copybreak: (b['copybreak'] as number | undefined) ?? 256,
        bugs,
      };
    }
    default: {
      const scope = { buffers: new Map<string, 'kmalloc' | 'alloc'>(), handles: new Set<string>() };
      const steps = rawSteps(b['steps'] as Record<string, Obj>[], `${field}.steps`, checker, scope);
      return { kind: 'raw', device, steps };
    }
  }
}

interface RawScope {
  readonly buffers: Map<string, 'kmalloc' | 'alloc'>;
  readonly handles: Set<string>;
}

/** Converts raw steps; names must be defined (by kmalloc/alloc/map) before they are used. */
function rawSteps(list: readonly Record<string, Obj>[], field: string, checker: Checker, scope: RawScope): RawStep[] {
  return list.map((entry, i) => {
    const [op, s] = Object.entries(entry)[0] as [string, Obj];
    const at = `${field}[${i}].${op}`;
    const buffer = (key = 'buffer'): string => {
      const name = s[key] as string;
      if (!scope.buffers.has(name)) checker.issue(`${at}.${key}`, `no buffer named ${JSON.stringify(name)} (define it with kmalloc or alloc first)${suggestion(name, [...scope.buffers.keys()])}`);
      return name;
    };
    const handle = (): string => {
      const name = s['handle'] as string;
      if (!scope.handles.has(name)) checker.issue(`${at}.handle`, `no handle named ${JSON.stringify(name)} (make it with map, or alloc)${suggestion(name, [...scope.handles])}`);
      return name;
    };
    const define = (name: string, kind: 'buffer' | 'handle'): void => {
      if (scope.buffers.has(name) || scope.handles.has(name)) checker.issue(`${at}.as`, `the name ${JSON.stringify(name)} is already used`);
      if (kind === 'handle') scope.handles.add(name);
    };
    switch (op) {
      case 'kmalloc':
        define(s['as'] as string, 'buffer');
        scope.buffers.set(s['as'] as string, 'kmalloc');
        return { op, as: s['as'] as string, size: s['size'] as number };
      case 'alloc':
        define(s['as'] as string, 'buffer');
        scope.buffers.set(s['as'] as string, 'alloc');
        // A coherent buffer is its own handle: the device reaches it by its dma_handle.
        scope.handles.add(s['as'] as string);
        return { op, as: s['as'] as string, size: s['size'] as number, attrs: (s['attrs'] as string[] | undefined) ?? [] };
      case 'fill':
        return { op, buffer: buffer(), seed: (s['seed'] as number | undefined) ?? 1 };
      case 'map': {
        const name = buffer();
        if (scope.buffers.get(name) === 'alloc') checker.issue(`${at}.buffer`, `${name} is a coherent allocation: it needs no mapping (use it as a handle)`);
        define(s['as'] as string, 'handle');
        return {
          op,
          buffer: name,
          as: s['as'] as string,
          dir: s['dir'] as Direction,
          offset: (s['offset'] as number | undefined) ?? 0,
          size: (s['size'] as number | undefined) ?? null,
          attrs: (s['attrs'] as string[] | undefined) ?? [],
        };
      }
      case 'unmap':
      case 'sync-for-cpu':
      case 'sync-for-device':
      case 'device-read':
        return { op, handle: handle() };
      case 'device-write':
        return { op, handle: handle(), seed: (s['seed'] as number | undefined) ?? 2 };
      case 'cpu-read':
      case 'free':
        return { op, buffer: buffer() };
      default:
        return { op: 'repeat', times: s['times'] as number, steps: rawSteps(s['steps'] as Record<string, Obj>[], `${at}.steps`, checker, scope) };
    }
  });
}

/** The ALSA buffer kinds, for help texts. */
export const ALSA_TYPE_NAMES: readonly string[] = ALSA_TYPES;
