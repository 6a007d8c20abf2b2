import type { Device, DeviceOptions, Machine } from '@kdma/dma-mapping';

/** What a workload gets from the scenario runner. */
export interface WorkloadContext {
  readonly machine: Machine;
  /** The scenario's device of that name. */
  device(name: string): Device;
  /** `createDevice` options of that device, to build the same device elsewhere. */
  deviceOptions(name: string): DeviceOptions;
  /** A fresh machine built like this one, for comparisons (vmalloc with and without an attribute). */
  twinMachine(): Machine;
  /** Progress within this workload, 0..1. */
  progress(fraction: number): void;
  /** The workload's moment of greatest use: the report's "during" snapshot is taken here. */
  peak(): void;
  /** A snapshot of another machine (a twin) for the report, when the report takes snapshots. */
  snapshotOf(machine: Machine, label: string, short: string): void;
}

/** What a workload did, as the report shows it. */
export interface WorkloadResult {
  readonly kind: 'v4l2' | 'alsa' | 'net' | 'raw';
  readonly device: string;
  /** One line: what ran. */
  readonly label: string;
  /** Every byte that should have arrived did, unchanged. */
  readonly intact: boolean;
  /** The units moved and how many of them came out intact (`frames`, `periods`, `packets`, `checks`). */
  readonly unit: string;
  readonly done: number;
  readonly good: number;
  /** Payload bytes moved (frame, sample, packet or buffer bytes). */
  readonly payloadBytes: number;
  /** Workload-specific figures (vmalloc saved, segments, copybreak frames, …). */
  readonly details: Readonly<Record<string, number | string | boolean>>;
  /** What went wrong, when the workload could not finish. */
  readonly error: string | null;
  /** Unbinds the driver; the runner calls it after reading the figures, then removes the device. */
  readonly unbind: (() => void) | null;
}

/** The message of anything thrown. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  return String(err);
}
