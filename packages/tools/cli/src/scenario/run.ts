/**
 * Runs a scenario: builds the machine and its devices, runs the workloads in order, unbinds every
 * driver (so dma-debug reports what leaked), and gathers the figures the report prints.
 */
import type { DmaDebugError, Device, DeviceOptions, Machine } from '@kdma/dma-mapping';
import { getDmaOps, type IommuStats, type SwiotlbStats } from '@kdma/dma-mapping/ops';
import { archEntry } from '../machines.js';
import { takeSnapshot, type MemorySnapshot } from '../report/snapshot.js';
import { runAlsa } from '../workloads/alsa.js';
import { errorText, type WorkloadContext, type WorkloadResult } from '../workloads/context.js';
import { runNet } from '../workloads/net.js';
import { runRaw } from '../workloads/raw.js';
import { runV4l2 } from '../workloads/v4l2.js';
import type { Scenario, Workload } from './types.js';
import { ScenarioError, type Position } from './validate.js';

export interface RunOptions {
  /** Take memory snapshots (before, during each workload, after) for `kdma report`. */
  readonly snapshots?: boolean;
  /** Progress of the whole scenario, 0..1, with the workload running. */
  readonly onProgress?: (fraction: number, label: string) => void;
  /** Where the scenario's fields are in its file, to place machine and device errors. */
  readonly positions?: ReadonlyMap<string, Position>;
  /** Wall-clock ms (default `performance.now`). */
  readonly now?: () => number;
}

export interface DeviceReport {
  readonly name: string;
  /** `get_dma_ops(dev)->name` after the workloads: `dma-direct`, `iommu_dma_ops`, … */
  readonly ops: string;
  readonly dmaBits: number;
  readonly coherent: boolean;
  readonly iommu: boolean;
}

export type WorkloadReport = Omit<WorkloadResult, 'unbind'>;

export interface ScenarioResult {
  readonly name: string;
  readonly file: string;
  readonly description: string;
  readonly arch: string;
  readonly platform: string;
  readonly memoryBytes: number;
  readonly iommuName: string | null;
  readonly devices: readonly DeviceReport[];
  readonly workloads: readonly WorkloadReport[];
  /** `machine.hw.counters`: bytes the devices and the CPUs moved, and the cache maintenance. */
  readonly bytesMoved: { readonly deviceRead: number; readonly deviceWritten: number; readonly cpuRead: number; readonly cpuWritten: number };
  readonly cache: { readonly cleans: number; readonly invalidates: number; readonly flushes: number; readonly wcDrains: number };
  readonly swiotlb: SwiotlbStats | null;
  readonly iommu: IommuStats | null;
  /** Kernel virtual space the attribute saved (vmalloc/consistent), when a workload measured it. */
  readonly vmallocSaved: number | null;
  readonly dmaDebugEnabled: boolean;
  readonly dmaDebug: readonly DmaDebugError[];
  /** DMA faults the bus saw. */
  readonly faults: number;
  /** Every byte of every workload arrived intact. */
  readonly intact: boolean;
  /** The expectations held (intact as expected, exactly the expected dma-debug kinds). */
  readonly passed: boolean;
  /** Why it did not pass. */
  readonly failures: readonly string[];
  readonly expect: Scenario['expect'];
  /** Machine time the scenario took (ns). */
  readonly simulatedNs: number;
  readonly wallMs: number;
  readonly snapshots: readonly MemorySnapshot[];
}

/** `machine.X` / `devices[i].X` for an `options.X` error thrown while building. */
function placeError(err: unknown, prefix: string, scenario: Scenario, positions: ReadonlyMap<string, Position> | undefined): ScenarioError {
  const message = err instanceof Error ? err.message : String(err);
  const match = /\boptions\.([A-Za-z0-9_.[\]]+)/.exec(message);
  const field = match === null ? prefix : `${prefix}.${match[1] as string}`;
  let pos: Position | undefined;
  for (let f = field; pos === undefined; ) {
    pos = positions?.get(f);
    const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
    if (cut < 0) break;
    f = f.slice(0, cut);
  }
  pos ??= positions?.get(prefix) ?? { line: 1, col: 1 };
  return new ScenarioError([{ file: scenario.file, line: pos.line, col: pos.col, field, message: message.replace(/\boptions\./g, '') }]);
}

export function buildScenarioMachine(scenario: Scenario, positions?: ReadonlyMap<string, Position>): Machine {
  try {
    return archEntry(scenario.arch).createMachine(scenario.machine);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw placeError(err, 'machine', scenario, positions);
    throw err;
  }
}

function deviceOptionsOf(scenario: Scenario, name: string): DeviceOptions {
  const spec = scenario.devices.find((d) => d.name === name);
  if (spec === undefined) throw new Error(`no device ${name}`);
  return { ...spec };
}

function runWorkload(ctx: WorkloadContext, w: Workload): WorkloadResult {
  switch (w.kind) {
    case 'v4l2':
      return runV4l2(ctx, w);
    case 'alsa':
      return runAlsa(ctx, w);
    case 'net':
      return runNet(ctx, w);
    case 'raw':
      return runRaw(ctx, w);
  }
}

function failedWorkload(w: Workload, err: unknown): WorkloadResult {
  return { kind: w.kind, device: w.device, label: `${w.kind} workload`, intact: false, unit: 'items', done: 0, good: 0, payloadBytes: 0, details: {}, error: errorText(err), unbind: null };
}

export function runScenario(scenario: Scenario, options: RunOptions = {}): ScenarioResult {
  const now = options.now ?? (() => performance.now());
  const t0 = now();
  const machine = buildScenarioMachine(scenario, options.positions);
  const devices = new Map<string, Device>();
  scenario.devices.forEach((spec, i) => {
    try {
      devices.set(spec.name, machine.createDevice({ ...spec }));
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw placeError(err, `devices[${i}]`, scenario, options.positions);
      throw err;
    }
  });
  const snapshots: MemorySnapshot[] = [];
  const snap = (label: string, short = label): void => {
    if (options.snapshots === true) snapshots.push(takeSnapshot(machine, label, short));
  };
  snap('before');
  const results: WorkloadResult[] = [];
  const count = scenario.workloads.length;
  scenario.workloads.forEach((w, i) => {
    let peaked = false;
    const ctx: WorkloadContext = {
      machine,
      device: (name) => {
        const dev = devices.get(name);
        if (dev === undefined) throw new Error(`no device named ${name}`);
        return dev;
      },
      deviceOptions: (name) => deviceOptionsOf(scenario, name),
      twinMachine: () => buildScenarioMachine(scenario, options.positions),
      progress: (fraction) => options.onProgress?.((i + Math.min(1, Math.max(0, fraction))) / count, `${w.kind} on ${w.device}`),
      snapshotOf: (other, label, short) => {
        if (options.snapshots === true) snapshots.push(takeSnapshot(other, label, short));
      },
      peak: () => {
        if (peaked) return;
        peaked = true;
        snap(`during workload ${i + 1} (${w.kind} on ${w.device})`, count === 1 ? 'during' : `during ${i + 1}`);
      },
    };
    options.onProgress?.(i / count, `${w.kind} on ${w.device}`);
    let result: WorkloadResult;
    try {
      result = runWorkload(ctx, w);
    } catch (err) {
      result = failedWorkload(w, err);
    }
    results.push(result);
  });
  options.onProgress?.(1, 'done');

  // The figures, read while every device is still bound (the ops in use).
  const deviceReports: DeviceReport[] = [...devices.values()].map((dev) => ({
    name: dev.name,
    ops: getDmaOps(dev).name,
    dmaBits: deviceOptionsOf(scenario, dev.name).dmaBits ?? 32,
    coherent: dev.dmaCoherent,
    iommu: deviceOptionsOf(scenario, dev.name).iommu === true,
  }));

  // Unbind the drivers, then the devices: dma-debug reports whatever was left mapped.
  const unbindErrors: string[] = [];
  for (const r of results) {
    try {
      r.unbind?.();
    } catch (err) {
      unbindErrors.push(`unbinding ${r.device}: ${errorText(err)}`);
    }
  }
  for (const dev of [...machine.devices]) {
    try {
      machine.removeDevice(dev);
    } catch (err) {
      unbindErrors.push(`removing ${dev.name}: ${errorText(err)}`);
    }
  }
  snap('after');

  const c = machine.hw.counters;
  const dmaDebug = machine.dmaDebug?.errors() ?? [];
  const workloads: WorkloadReport[] = results.map(({ unbind: _unbind, ...rest }) => rest);
  const intact = workloads.every((w) => w.intact);
  const saved = workloads.map((w) => w.details['vmallocSaved']).filter((v): v is number => typeof v === 'number');

  const failures: string[] = [];
  if (scenario.expect.intact && !intact) {
    for (const w of workloads) {
      if (w.error !== null) failures.push(`${w.kind} on ${w.device}: ${w.error}`);
      else if (!w.intact) failures.push(`${w.kind} on ${w.device}: ${w.done - w.good} of ${w.done} ${w.unit} not intact`);
    }
  }
  if (!scenario.expect.intact && intact) failures.push('expected damaged data (expect.intact: false), but every byte arrived intact');
  const found = new Set<string>(dmaDebug.map((e) => e.kind));
  const wanted = new Set(scenario.expect.dmaDebug);
  const unexpected = [...found].filter((k) => !wanted.has(k));
  const missing = [...wanted].filter((k) => !found.has(k));
  if (unexpected.length > 0) failures.push(`dma-debug reported ${unexpected.join(', ')}`);
  if (missing.length > 0) failures.push(`dma-debug did not report the expected ${missing.join(', ')}${machine.dmaDebug === null ? ' (machine.dmaDebug is off)' : ''}`);
  failures.push(...unbindErrors);

  return {
    name: scenario.name,
    file: scenario.file,
    description: scenario.description,
    arch: scenario.arch,
    platform: machine.platform,
    memoryBytes: machine.hw.ram.regions.reduce((n, r) => n + r.size, 0),
    iommuName: machine.iommu?.name ?? null,
    devices: deviceReports,
    workloads,
    bytesMoved: { deviceRead: c.deviceBytesRead, deviceWritten: c.deviceBytesWritten, cpuRead: c.cpuBytesRead, cpuWritten: c.cpuBytesWritten },
    cache: { cleans: c.cacheCleans, invalidates: c.cacheInvalidates, flushes: c.cacheFlushes, wcDrains: c.wcDrains },
    swiotlb: machine.swiotlb?.stats() ?? null,
    iommu: machine.iommu?.stats() ?? null,
    vmallocSaved: saved.length === 0 ? null : saved.reduce((a, b) => a + b, 0),
    dmaDebugEnabled: machine.dmaDebug !== null,
    dmaDebug,
    faults: c.faults,
    intact,
    passed: failures.length === 0,
    failures,
    expect: scenario.expect,
    simulatedNs: machine.clock.now(),
    wallMs: now() - t0,
    snapshots,
  };
}
