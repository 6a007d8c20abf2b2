/**
 * 1080p capture through the V4L2 queue: frames of 3 MiB written by the device's DMA into a
 * queued buffer, dequeued, and read by the process through its mapping — per frame, DQBUF
 * (the device's DMA write and the completion), the process's read, QBUF. The copies the path
 * inherently makes are two (the device's write, the process's read): the goal is ≤ 2× the time
 * of those two 3 MiB `TypedArray.set` in the same run, made as the path makes them — into one of
 * four 3 MiB buffers in turn and out again, so that, as in the path, the frame is not in the
 * host's caches. (Two copies between the same two arrays, the cache-hot figure, are printed too:
 * on a host whose caches hold less than the four buffers they take about half as long, and no
 * path through four buffers can match them.) dma-sg runs on a fragmented page allocator, so
 * its pages are scattered (768 DMA segments per frame without an IOMMU, 48 with one): its
 * inherent copies are a 4 KiB copy into each page the buffer owns and one out of it, and its
 * baseline makes exactly those — the same pages, at the same offsets in 64 KiB arrays as
 * `PhysicalMemory` holds RAM. Over pages spread every other one across 24 MiB, those copies
 * take the host 2.5–3× the two long ones; the dma-sg rows print both multiples.
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { measureEach, printBench, ScatteredPages, type Measurement } from '@kdma/measure';

interface Entry {
  readonly name: string;
  readonly fn: () => void;
}
import { CaptureDevice, CaptureDriver, type CaptureAllocator, type V4l2Buffer, type Vb2DmaSgBuf, type Vb2Queue } from '../src/index.js';

const FRAME = 3 * 2 ** 20;
const INTERVAL_NS = 16_666_667; // 60 frames per second of machine time

const src = new Uint8Array(FRAME).fill(7);
const dst = new Uint8Array(FRAME);
// The two copies as the capture path makes them: into one of four 3 MiB buffers in turn (the
// device's write) and out again (the process's read).
const ring = Array.from({ length: 4 }, () => new Uint8Array(FRAME));
let turn = 0;
const longCopies: Entry = {
  name: 'two TypedArray.set 3 MiB through 4 rotating buffers (baseline)',
  fn: () => {
    const buffer = ring[turn++ % 4] as Uint8Array;
    buffer.set(src);
    dst.set(buffer);
  },
};
const [hot, baseline] = measureEach([{ name: 'TypedArray.set 3 MiB, same source and target (cache-hot)', fn: () => dst.set(src) }, longCopies], { samples: 21 }) as [
  Measurement,
  Measurement,
];

function iommuMachine(): { machine: Machine; iommu: boolean } {
  try {
    return { machine: createArm({ iommu: 'arm-smmu' }), iommu: true };
  } catch {
    return { machine: createArm(), iommu: false };
  }
}

/** Every other page of `pages` pairs given back: dma-sg's single pages come out scattered, as on a machine that has run a while. */
function fragment(machine: Machine, pages: number): void {
  const taken: number[] = [];
  for (let i = 0; i < 2 * pages; i++) taken.push(machine.mm.allocPages(0) as number);
  for (let i = 1; i < taken.length; i += 2) machine.mm.freePages(taken[i] as number, 0);
}

/**
 * The copies a dma-sg frame inherently makes, with `TypedArray.set`: 4 KiB from the source into
 * each page of one of the four buffers in turn (the device's write), then out of each page into
 * the frame (the process's read) — the buffers' own page frames.
 */
function scatteredCopies(label: string, machine: Machine, q: Vb2Queue): Entry {
  const pages = new ScatteredPages(
    [0, 1, 2, 3].map((i) => (q.buffer(i)?.planes[0]?.memPriv as Vb2DmaSgBuf).pages),
    machine.pageSize,
  );
  let turn = 0;
  return {
    name: `${label}: a 4 KiB set into and out of each page (dma-sg baseline)`,
    fn: () => {
      const buffer = turn++ % 4;
      pages.copyInto(buffer, src);
      pages.copyOut(buffer, dst);
    },
  };
}

interface Capture {
  readonly m: Measurement;
  /** The copies it is judged against, measured interleaved with it: the long ones, or dma-sg's scattered ones. */
  readonly copies: Measurement;
}

function capture(label: string, machine: Machine, allocator: CaptureAllocator, iommu = false): Capture {
  if (allocator === 'dma-sg') fragment(machine, (4 * FRAME) / machine.pageSize);
  const dev = machine.createDevice({ name: 'vcap0', ...(iommu ? { iommu: true } : {}) });
  const hardware = new CaptureDevice(dev, { sizeimage: FRAME, frameIntervalNs: INTERVAL_NS });
  const driver = new CaptureDriver(dev, hardware, { allocator });
  const q = driver.queue;
  const process = machine.createProcess();
  if (q.reqbufs(4) !== 4) throw new Error('reqbufs');
  const uvas = [0, 1, 2, 3].map((i) => {
    const info = q.querybuf(i) as V4l2Buffer;
    return q.mmap(process, info.length, info.offset);
  });
  for (let i = 0; i < 4; i++) q.qbuf(i);
  q.streamon();
  const frame = new Uint8Array(FRAME);
  const blocking = { nonblocking: false } as const;
  let expected = -1;
  const path: Entry = {
    name: `${label}, ${allocator}: DQBUF + process read + QBUF`,
    fn: () => {
      const buf = q.dqbuf(blocking);
      if (typeof buf === 'number') throw new Error(`dqbuf ${buf}`);
      process.readInto(uvas[buf.index] as number, frame);
      if (expected >= 0 && buf.sequence !== expected) throw new Error(`frame ${buf.sequence}, expected ${expected}`);
      expected = buf.sequence + 1;
      q.qbuf(buf.index);
    },
  };
  const copies = allocator === 'dma-sg' ? scatteredCopies(label, machine, q) : { ...longCopies, name: `${label}: ${longCopies.name}` };
  // Interleaved, as the goal is a ratio of the two and the VM's speed drifts between seconds; in
  // batches of 40 ms, as the first frames after a switch find the host's caches and TLB full of
  // the other's buffers (5 ms batches charged the path ~30% for it).
  const [m, c] = measureEach([path, copies], { samples: 15, warmup: 30, batchMs: 40 }) as [Measurement, Measurement];
  // The last frame read must be intact (checked once, outside the timing).
  if (hardware.pattern.verify(frame, expected - 1) !== -1) throw new Error(`${label} ${allocator}: frame ${expected - 1} corrupt`);
  q.streamoff();
  return { m, copies: c };
}

const { machine: armMachine, iommu } = iommuMachine();
const armLabel = iommu ? 'arm + IOMMU (arm-smmu)' : 'arm (IOMMU not available: plain)';
const rows = [
  capture(armLabel, armMachine, 'dma-sg', iommu),
  capture(armLabel, iommuMachine().machine, 'dma-contig', iommu),
  capture('x86', createX86(), 'dma-sg'),
  capture('x86', createX86(), 'dma-contig'),
];
printBench('1080p capture, 3 MiB frames (goal ≤ 2× the two copies the path makes: device write + process read)', baseline, [
  { m: hot, copies: 0 },
  ...rows.flatMap(({ m, copies }) => [
    { m: copies, copies: 0 },
    { m, copies: 1, maxMultiple: 2, baseline: copies },
  ]),
]);
for (const { m } of rows) {
  const hotMultiple = m.medianNs / (2 * hot.medianNs);
  console.log(`${m.name}: ${(1e9 / m.medianNs).toFixed(0)} frames/s, ${(m.medianNs / baseline.medianNs).toFixed(2)}× the first long copies, ${hotMultiple.toFixed(2)}× two cache-hot copies`);
}
