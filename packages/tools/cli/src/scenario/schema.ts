/**
 * The scenario file format (YAML or JSON): the schema the checker walks, and the defaults. See
 * the package README for a commented example of every field.
 */
import { V4L2_BUGS } from '@kdma/v4l2';
import { ARCH_NAMES } from '../machines.js';
import type { Field, Schema } from './validate.js';

const str = (choices?: readonly string[]): Schema => (choices === undefined ? { kind: 'string' } : { kind: 'string', choices });
const int = (min?: number, max?: number): Schema => ({ kind: 'int', ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) });
const size = (min?: number, max?: number): Schema => ({ kind: 'size', ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) });
const bool: Schema = { kind: 'bool' };
const opt = (schema: Schema): Field => ({ schema });
const req = (schema: Schema): Field => ({ schema, required: true });
const list = (item: Schema, min?: number): Schema => ({ kind: 'list', item, ...(min === undefined ? {} : { min }) });
const obj = (fields: Record<string, Field>, what?: string): Schema => ({ kind: 'object', fields, ...(what === undefined ? {} : { what }) });

export const ALSA_BUGS = ['no-wmb', 'no-sync-for-device', 'no-sync-for-cpu'] as const;
export const NET_BUGS = ['no-wmb', 'no-sync-for-cpu', 'no-sync-for-device', 'no-dma-mapping-error-check', 'no-unmap'] as const;
export const ALSA_TYPES = ['CONTINUOUS', 'DEV', 'DEV_WC', 'DEV_SG', 'NONCONTIG'] as const;
export const DIRECTIONS = ['bidirectional', 'to-device', 'from-device'] as const;
/** `DMA_ATTR_*` without the prefix. */
export const ATTR_NAMES = [
  'WRITE_BARRIER',
  'WEAK_ORDERING',
  'WRITE_COMBINE',
  'NON_CONSISTENT',
  'NO_KERNEL_MAPPING',
  'SKIP_CPU_SYNC',
  'FORCE_CONTIGUOUS',
  'ALLOC_SINGLE_PAGES',
  'NO_WARN',
  'PRIVILEGED',
] as const;

const GIB = 2 ** 30;

const machineSchema: Schema = {
  kind: 'object',
  what: 'an object of machine options',
  fields: {
    memory: opt(size(1, 64 * GIB)),
    cpus: opt(int(1, 256)),
    seed: opt(int(0, 2 ** 32 - 1)),
    dmaDebug: opt(bool),
    iommu: opt({ kind: 'either', options: [{ kind: 'false' }, str()] }),
    iommuStrict: opt(bool),
    platform: opt(str()),
    pageSize: opt(int(1)),
    cma: opt({ kind: 'either', options: [{ kind: 'false' }, size(0, 64 * GIB)] }),
    swiotlb: opt({
      kind: 'either',
      options: [
        { kind: 'false' },
        obj({ size: opt(size(1)), force: opt(bool), areas: opt(int(1)), dynamic: opt(bool), leakyBounce: opt(bool) }, 'swiotlb options'),
      ],
    }),
    cache: opt(obj({ capacity: opt(int(0)), eviction: opt(str(['lru', 'random'])), prefetch: opt({ kind: 'number', min: 0, max: 1 }) }, 'cache options')),
  },
  // The arch's own options (arm: consistentDmaSize, dmaMemBufferable; mips: coherentio, …):
  // createMachine checks them, and its message is reported at the field's line.
  extra: { kind: 'any' },
};

const deviceSchema = obj(
  {
    name: req(str()),
    dmaBits: opt(int(1, 64)),
    coherent: opt(bool),
    iommu: opt(bool),
    untrusted: opt(bool),
    maxSegmentSize: opt(size(1)),
    segmentBoundaryMask: opt(int(0)),
    minAlignMask: opt(int(0)),
  },
  'a device ({ name, dmaBits, coherent, iommu, … })',
);

const v4l2Schema = obj({
  device: req(str()),
  allocator: opt(str(['dma-contig', 'dma-sg'])),
  frames: opt(int(1, 100_000)),
  buffers: opt(int(1, 32)),
  sizeimage: opt(size(64, 64 * 2 ** 20)),
  frameIntervalNs: opt(int(1)),
  noKernelMapping: opt(bool),
  fragment: opt(int(0, 1_000_000)),
  gfpDma32: opt(bool),
  bugs: opt(list(str(V4L2_BUGS))),
});

const alsaSchema = obj({
  device: req(str()),
  stream: opt(str(['playback', 'capture'])),
  type: opt(str(ALSA_TYPES)),
  periods: opt(int(1, 1_000_000)),
  periodBytes: opt(size(64, 4 * 2 ** 20)),
  bufferPeriods: opt(int(2, 1024)),
  rate: opt(int(8000, 384_000)),
  channels: opt(int(1, 8)),
  bugs: opt(list(str(ALSA_BUGS))),
});

const netSchema = obj({
  device: req(str()),
  rx: opt(int(0, 10_000_000)),
  tx: opt(int(0, 10_000_000)),
  minSize: opt(int(60, 1514)),
  maxSize: opt(int(60, 1514)),
  rxRingSize: opt(int(8, 4096)),
  txRingSize: opt(int(8, 4096)),
  copybreak: opt(int(0, 2048)),
  bugs: opt(list(str(NET_BUGS))),
});

const attrs = opt(list(str(ATTR_NAMES)));
const handleOnly = obj({ handle: req(str()) });
const bufferOnly = obj({ buffer: req(str()) });

/** The raw steps: the consumer API called directly, and the device's and CPU's accesses. */
export const rawStepSchema: Schema = {
  kind: 'variant',
  what: 'a step',
  variants: {
    kmalloc: obj({ as: req(str()), size: req(size(1, 4 * 2 ** 20)) }),
    alloc: obj({ as: req(str()), size: req(size(1, 256 * 2 ** 20)), attrs }),
    fill: obj({ buffer: req(str()), seed: opt(int(0, 2 ** 32 - 1)) }),
    map: obj({ buffer: req(str()), as: req(str()), dir: req(str(DIRECTIONS)), offset: opt(int(0)), size: opt(size(1)), attrs }),
    unmap: handleOnly,
    'sync-for-cpu': handleOnly,
    'sync-for-device': handleOnly,
    'device-read': handleOnly,
    'device-write': obj({ handle: req(str()), seed: opt(int(0, 2 ** 32 - 1)) }),
    'cpu-read': bufferOnly,
    free: bufferOnly,
    repeat: obj({ times: req(int(1, 1_000_000)), steps: req(list({ kind: 'lazy', get: () => rawStepSchema }, 1)) }),
  },
};

const rawSchema = obj({ device: req(str()), steps: req(list(rawStepSchema, 1)) });

export const workloadSchema: Schema = {
  kind: 'variant',
  what: 'a workload',
  variants: { v4l2: v4l2Schema, alsa: alsaSchema, net: netSchema, raw: rawSchema },
};

export const scenarioSchema: Schema = obj(
  {
    name: opt(str()),
    description: opt(str()),
    arch: req(str(ARCH_NAMES)),
    machine: opt(machineSchema),
    devices: req(list(deviceSchema, 1)),
    workloads: req(list(workloadSchema, 1)),
    expect: opt(obj({ intact: opt(bool), dmaDebug: opt(list(str())) })),
  },
  'a scenario object (arch, machine, devices, workloads)',
);
