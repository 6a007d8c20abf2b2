/**
 * 1500-byte receive through the NIC: the frame arrives from the wire, the NIC writes it into a
 * mapped buffer by DMA and writes the descriptor back, the interrupt's poll unmaps the buffer,
 * hands it up and refills the ring, and the stack reads the frame and frees it. The copies that
 * path inherently makes are the device's write and the stack's read: 2 × 1500 bytes, measured
 * with `TypedArray.set` in the same run. Figures are per frame, from bursts of 32 frames per
 * clock step (what interrupt moderation gives a busy NIC). Each machine runs the e1000 driver as
 * it is (a frame above copybreak unmapped, a new buffer mapped for its descriptor) and with
 * `pagePool` (buffers stay mapped: synced for the CPU, handed up, recycled when the stack frees
 * them). Three floor rows show what any receive costs in this model before the driver does
 * anything: the two copies through it and the one map+unmap a frame needs.
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import { DMA_FROM_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle, type Machine } from '@kdma/dma-mapping';
import { copyPair, measureEach, printBench, type Measurement } from '@kdma/measure';
import { createNic } from '../src/index.js';

const FRAME = 1500;
const BURST = 32;
const { src, dst } = copyPair(FRAME);
const copy = { name: 'TypedArray.set 1500 B (baseline)', fn: () => dst.set(src) };

interface Row {
  readonly m: Measurement;
  /** The 1500-byte copy, measured interleaved with this path. */
  readonly copy: Measurement;
}

/** One burst of frames received and consumed; the measurement is divided back to one frame. */
function rxPath(name: string, machine: Machine, iommu: boolean, pagePool = false): Row {
  const dev = machine.createDevice({ name: 'eth0', ...(iommu ? { iommu: true } : {}) });
  const stackBuffer = new Uint8Array(2048);
  let received = 0;
  const { hw, adapter } = createNic(dev, {
    pagePool,
    onReceive: (skb) => {
      skb.readInto(stackBuffer);
      skb.free();
      received++;
    },
  });
  if (adapter.open() !== 0) throw new Error('open failed');
  const frame = new Uint8Array(FRAME).fill(0xa5);
  // Warm-up long enough for the JIT to settle the whole path (a few thousand frames): a short
  // one times the first, unoptimised bursts and charges the compiler to the path.
  // Interleaved with the baseline copy: the goal is a ratio, and this VM's speed drifts.
  const [burst, baseline] = measureEach(
    [
      {
        name,
        fn: () => {
          for (let i = 0; i < BURST; i++) hw.receive(frame);
          machine.clock.advance(20_000);
        },
      },
      copy,
    ],
    { warmup: 500 },
  ) as [Measurement, Measurement];
  if (received === 0 || hw.stats.rxMissed !== 0) throw new Error(`${name}: ${received} frames received, ${hw.stats.rxMissed} missed`);
  // The last frame the stack read must be the one sent (checked once, outside the timing).
  if (stackBuffer.subarray(0, FRAME).some((b) => b !== 0xa5)) throw new Error(`${name}: frame corrupt`);
  return { m: { ...burst, name, medianNs: burst.medianNs / BURST, minNs: burst.minNs / BURST, maxNs: burst.maxNs / BURST }, copy: baseline };
}

/**
 * A floor, not a path: the frame's two copies through the model (the device's DMA write into a
 * kmalloc buffer, the CPU's read of it) and the one map+unmap the e1000 path makes per frame, with
 * no descriptor, interrupt, skb or refill. Whatever the driver does costs at least this.
 */
function floorPath(name: string, machine: Machine, iommu: boolean): Row {
  const dev = machine.createDevice({ name: 'floor0', ...(iommu ? { iommu: true } : {}) });
  const kva = machine.mm.kmalloc(2048);
  if (kva === null) throw new Error(`${name}: kmalloc failed`);
  const frame = new Uint8Array(FRAME).fill(0xa5);
  const stackBuffer = new Uint8Array(2048);
  const [m, baseline] = measureEach([
    {
      name,
      fn: () => {
        const bus = dmaMapSingle(dev, kva, 2048, DMA_FROM_DEVICE);
        if (dmaMappingError(dev, bus) !== 0) throw new Error(`${name}: mapping failed`);
        dev.hw.dmaWrite(bus, frame, 0, FRAME);
        dmaUnmapSingle(dev, bus, 2048, DMA_FROM_DEVICE);
        machine.cpu.readInto(kva, stackBuffer, 0, FRAME);
      },
    },
    copy,
  ]) as [Measurement, Measurement];
  if (stackBuffer[FRAME - 1] !== 0xa5) throw new Error(`${name}: frame corrupt`);
  return { m, copy: baseline };
}

function armWithIommu(): { machine: Machine; iommu: boolean; label: string } {
  try {
    return { machine: createArm({ iommu: 'arm-smmu' }), iommu: true, label: 'arm + arm-smmu' };
  } catch {
    return { machine: createArm(), iommu: false, label: 'arm (no IOMMU on this build)' };
  }
}

const arm = armWithIommu();
const armPool = armWithIommu();
const paths = [
  rxPath(`RX 1500 B frame, ${arm.label}`, arm.machine, arm.iommu),
  rxPath('RX 1500 B frame, arm (dma-direct, cache maintenance)', createArm(), false),
  rxPath('RX 1500 B frame, x86', createX86(), false),
  rxPath(`RX 1500 B frame, ${armPool.label}, page pool`, armPool.machine, armPool.iommu, true),
  rxPath('RX 1500 B frame, arm (dma-direct, cache maintenance), page pool', createArm(), false, true),
  rxPath('RX 1500 B frame, x86, page pool', createX86(), false, true),
];
const floorArm = armWithIommu();
const floors = [
  floorPath(`floor: device write + CPU read + map/unmap, ${floorArm.label}`, floorArm.machine, floorArm.iommu),
  floorPath('floor: device write + CPU read + map/unmap, arm (dma-direct)', createArm(), false),
  floorPath('floor: device write + CPU read + map/unmap, x86', createX86(), false),
];
printBench(
  'e1000-class NIC receive, per 1500-byte frame (goal ≤ 2× the device write + stack read; each row against the copy measured beside it)',
  (paths[0] as Row).copy,
  [
    ...paths.map(({ m, copy: baseline }) => ({ m, copies: 2, maxMultiple: 2, baseline })),
    ...floors.map(({ m, copy: baseline }) => ({ m, copies: 2, baseline })),
  ],
);
for (const { m } of paths) console.log(`${m.name}: ${(1e9 / m.medianNs / 1e3).toFixed(0)} k frames/s`);
