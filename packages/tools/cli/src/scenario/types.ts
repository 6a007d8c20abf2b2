/** A scenario: one machine, its devices, and what runs on them (the checked form of a file). */
export interface Scenario {
  /** The file it came from, or `<demo>` for the built-in demo. */
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly arch: string;
  /** `createMachine` options: the common ones (sizes in bytes) and the arch's own. */
  readonly machine: Readonly<Record<string, unknown>>;
  readonly devices: readonly DeviceSpec[];
  readonly workloads: readonly Workload[];
  readonly expect: Expectations;
}

export interface DeviceSpec {
  readonly name: string;
  readonly dmaBits?: number;
  readonly coherent?: boolean;
  readonly iommu?: boolean;
  readonly untrusted?: boolean;
  readonly maxSegmentSize?: number;
  readonly segmentBoundaryMask?: number;
  readonly minAlignMask?: number;
}

/** What must hold for the scenario to pass. */
export interface Expectations {
  /** Every byte arrived intact (default true); false for scenarios that show a bug's damage. */
  readonly intact: boolean;
  /** The dma-debug kinds expected, in any order (default: none). */
  readonly dmaDebug: readonly string[];
}

export interface V4l2Workload {
  readonly kind: 'v4l2';
  readonly device: string;
  readonly allocator: 'dma-contig' | 'dma-sg';
  readonly frames: number;
  readonly buffers: number;
  readonly sizeimage: number;
  readonly frameIntervalNs: number;
  readonly noKernelMapping: boolean;
  /** Pages to scatter the page allocator over first, as a machine that has run a while. */
  readonly fragment: number;
  readonly gfpDma32: boolean;
  readonly bugs: readonly string[];
}

export type AlsaBufferType = 'CONTINUOUS' | 'DEV' | 'DEV_WC' | 'DEV_SG' | 'NONCONTIG';

export interface AlsaWorkload {
  readonly kind: 'alsa';
  readonly device: string;
  readonly stream: 'playback' | 'capture';
  readonly type: AlsaBufferType;
  /** Periods to move. */
  readonly periods: number;
  readonly periodBytes: number;
  /** Periods in the ring buffer. */
  readonly bufferPeriods: number;
  readonly rate: number;
  readonly channels: number;
  readonly bugs: readonly string[];
}

export interface NetWorkload {
  readonly kind: 'net';
  readonly device: string;
  /** Frames the wire delivers to the driver. */
  readonly rx: number;
  /** Frames the stack sends. */
  readonly tx: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly rxRingSize: number;
  readonly txRingSize: number;
  readonly copybreak: number;
  readonly bugs: readonly string[];
}

export type Direction = 'bidirectional' | 'to-device' | 'from-device';

export type RawStep =
  | { readonly op: 'kmalloc'; readonly as: string; readonly size: number }
  | { readonly op: 'alloc'; readonly as: string; readonly size: number; readonly attrs: readonly string[] }
  | { readonly op: 'fill'; readonly buffer: string; readonly seed: number }
  | { readonly op: 'map'; readonly buffer: string; readonly as: string; readonly dir: Direction; readonly offset: number; readonly size: number | null; readonly attrs: readonly string[] }
  | { readonly op: 'unmap'; readonly handle: string }
  | { readonly op: 'sync-for-cpu'; readonly handle: string }
  | { readonly op: 'sync-for-device'; readonly handle: string }
  | { readonly op: 'device-read'; readonly handle: string }
  | { readonly op: 'device-write'; readonly handle: string; readonly seed: number }
  | { readonly op: 'cpu-read'; readonly buffer: string }
  | { readonly op: 'free'; readonly buffer: string }
  | { readonly op: 'repeat'; readonly times: number; readonly steps: readonly RawStep[] };

export interface RawWorkload {
  readonly kind: 'raw';
  readonly device: string;
  readonly steps: readonly RawStep[];
}

export type Workload = V4l2Workload | AlsaWorkload | NetWorkload | RawWorkload;
