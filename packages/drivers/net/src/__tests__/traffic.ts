import type { Machine } from '@kdma/dma-mapping';
import { Prng } from '@kdma/hw';
import { firstDifference, pattern } from '@kdma/testkit';
import { allocSkbWithData, createNic, NETDEV_TX_BUSY, type Nic, type NicOptions } from '../index.js';

/*
 * Test helper: frames of seeded random sizes through the NIC both ways — the wire side injects
 * frames for the driver to receive, the stack side sends frames through the driver — with the
 * clock advanced as traffic flows, and every frame checked on the other side.
 */

export interface TrafficOptions {
  readonly frames: number;
  readonly seed?: number;
  /** Smallest and largest frame (default 60 and 1514). */
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Frames each way between clock steps (default 8). */
  readonly burst?: number;
  /** Clock step between bursts (default 20 µs). */
  readonly stepNs?: number;
  readonly nic?: NicOptions;
  readonly deviceName?: string;
  readonly iommu?: boolean;
  readonly dmaBits?: number;
}

export interface TrafficResult {
  readonly nic: Nic;
  readonly received: number;
  readonly receivedIntact: number;
  readonly sent: number;
  readonly sentIntact: number;
  /** Frames the driver took for sending. */
  readonly queued: number;
}

/** Runs `frames` frames each way and counts those that arrived intact and in order. */
export function runTraffic(machine: Machine, options: TrafficOptions): TrafficResult {
  const prng = new Prng(options.seed ?? 42);
  const minSize = options.minSize ?? 60;
  const maxSize = options.maxSize ?? 1514;
  const burst = options.burst ?? 8;
  const stepNs = options.stepNs ?? 20_000;
  const dev = machine.createDevice({
    name: options.deviceName ?? 'eth0',
    ...(options.iommu === true ? { iommu: true } : {}),
    ...(options.dmaBits === undefined ? {} : { dmaBits: options.dmaBits }),
  });
  // Frames are slices of one pattern at random offsets, each stamped with its number, so that a
  // stale, misplaced or reordered frame cannot pass for the expected one.
  const pool = pattern(256 * 1024, options.seed ?? 42);
  const frame = (n: number) => {
    const size = minSize + prng.int(maxSize - minSize + 1);
    const start = prng.int(pool.length - size);
    const bytes = pool.slice(start, start + size);
    new DataView(bytes.buffer).setUint32(0, n, true);
    return bytes;
  };
  const rxFrames: Uint8Array[] = [];
  const txFrames: Uint8Array[] = [];
  for (let i = 0; i < options.frames; i++) {
    rxFrames.push(frame(2 * i));
    txFrames.push(frame(2 * i + 1));
  }
  let received = 0;
  let receivedIntact = 0;
  let sent = 0;
  let sentIntact = 0;
  const nic = createNic(dev, {
    ...options.nic,
    ...(options.dmaBits === undefined ? {} : { dmaBits: options.dmaBits }),
    onReceive: (skb) => {
      const expected = rxFrames[received];
      if (expected !== undefined && skb.len === expected.length && firstDifference(skb.read(), expected) === -1) receivedIntact++;
      received++;
      skb.free();
    },
    hw: {
      ...options.nic?.hw,
      onTransmit: (frame) => {
        const expected = txFrames[sent];
        if (expected !== undefined && firstDifference(frame, expected) === -1) sentIntact++;
        sent++;
      },
    },
  });
  if (nic.adapter.open() !== 0) throw new Error('open failed');
  let injected = 0;
  let queued = 0;
  const maxSteps = Math.ceil(options.frames / burst) * 4 + 100;
  for (let step = 0; (injected < options.frames || queued < options.frames) && step < maxSteps; step++) {
    for (let k = 0; k < burst && injected < options.frames; k++) {
      nic.hw.receive(rxFrames[injected] as Uint8Array);
      injected++;
    }
    for (let k = 0; k < burst && queued < options.frames; k++) {
      const skb = allocSkbWithData(machine, txFrames[queued] as Uint8Array);
      if (skb === null) throw new Error('out of memory for an skb');
      if (nic.adapter.startXmit(skb) === NETDEV_TX_BUSY) {
        skb.free();
        break;
      }
      queued++;
    }
    machine.clock.advance(stepNs);
  }
  // Let the NIC finish: bounded, since a broken driver may never deliver everything.
  for (let step = 0; step < 100 && (received < injected || sent < queued); step++) machine.clock.advance(stepNs);
  return { nic, received, receivedIntact, sent, sentIntact, queued };
}
