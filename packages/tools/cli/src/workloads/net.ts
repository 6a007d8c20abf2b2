/**
 * NIC traffic both ways through the e1000-class driver: the wire delivers `rx` frames for the
 * driver to receive, the stack sends `tx` frames; frames of seeded random sizes, each stamped with
 * its number, are checked on the other side (stack or wire) byte for byte and in order.
 */
import { Prng } from '@kdma/hw';
import { allocSkbWithData, createNic, NETDEV_TX_BUSY, type NetBug } from '@kdma/net';
import type { NetWorkload } from '../scenario/types.js';
import { errorText, type WorkloadContext, type WorkloadResult } from './context.js';
import { firstDifference, patternBytes } from './pattern.js';

const BURST = 8;
const STEP_NS = 20_000;

export function runNet(ctx: WorkloadContext, w: NetWorkload): WorkloadResult {
  const machine = ctx.machine;
  const dev = ctx.device(w.device);
  const prng = new Prng(42);
  const pool = patternBytes(256 * 1024, 42);
  const frame = (n: number): Uint8Array => {
    const size = w.minSize + prng.int(w.maxSize - w.minSize + 1);
    const start = prng.int(pool.length - size);
    const bytes = pool.slice(start, start + size);
    new DataView(bytes.buffer).setUint32(0, n, true);
    return bytes;
  };
  const rxFrames = Array.from({ length: w.rx }, (_, i) => frame(2 * i));
  const txFrames = Array.from({ length: w.tx }, (_, i) => frame(2 * i + 1));
  let received = 0;
  let receivedIntact = 0;
  let sent = 0;
  let sentIntact = 0;
  let payload = 0;
  const nic = createNic(dev, {
    dmaBits: ctx.deviceOptions(w.device).dmaBits ?? 32,
    rxRingSize: w.rxRingSize,
    txRingSize: w.txRingSize,
    copybreak: w.copybreak,
    bugs: w.bugs as readonly NetBug[],
    onReceive: (skb) => {
      const expected = rxFrames[received];
      const bytes = skb.read();
      if (expected !== undefined && firstDifference(bytes, expected) === -1) receivedIntact++;
      payload += bytes.length;
      received++;
      skb.free();
    },
    hw: {
      onTransmit: (bytes) => {
        const expected = txFrames[sent];
        if (expected !== undefined && firstDifference(bytes, expected) === -1) sentIntact++;
        payload += bytes.length;
        sent++;
      },
    },
  });
  const label = `NIC traffic, ${w.rx} frames received and ${w.tx} sent (${w.minSize}–${w.maxSize} bytes, rings of ${w.rxRingSize}/${w.txRingSize})${w.bugs.length > 0 ? `, bugs: ${w.bugs.join(', ')}` : ''}`;
  let error: string | null = null;
  let opened = false;
  let injected = 0;
  let queued = 0;
  try {
    const err = nic.adapter.open();
    if (err !== 0) throw new Error(`e1000_open failed: ${err}`);
    opened = true;
    ctx.peak();
    const total = w.rx + w.tx;
    const maxSteps = Math.ceil(Math.max(w.rx, w.tx) / BURST) * 4 + 100;
    for (let step = 0; (injected < w.rx || queued < w.tx) && step < maxSteps; step++) {
      for (let k = 0; k < BURST && injected < w.rx; k++) nic.hw.receive(rxFrames[injected++] as Uint8Array);
      for (let k = 0; k < BURST && queued < w.tx; k++) {
        const skb = allocSkbWithData(machine, txFrames[queued] as Uint8Array);
        if (skb === null) throw new Error('out of memory for an skb');
        if (nic.adapter.startXmit(skb) === NETDEV_TX_BUSY) {
          skb.free();
          break;
        }
        queued++;
      }
      machine.clock.advance(STEP_NS);
      ctx.progress((received + sent) / Math.max(1, total));
    }
    // Let the NIC finish (bounded: a broken driver may never deliver everything).
    for (let step = 0; step < 100 && (received < injected || sent < queued); step++) machine.clock.advance(STEP_NS);
  } catch (err) {
    error = errorText(err);
  }
  const stats = nic.adapter.stats;
  const hw = nic.hw.stats;
  const details = {
    rxCopybreak: stats.rxCopybreak,
    rxMissed: hw.rxMissed,
    dmaFaults: hw.rxDmaFaults + hw.txDmaFaults,
    rxBufferFailed: stats.rxBufferFailed,
    txDmaMappingErrors: stats.txDmaMappingErrors,
  };
  const done = received + sent;
  return {
    kind: 'net',
    device: w.device,
    label,
    intact: error === null && received === w.rx && sent === w.tx && receivedIntact === w.rx && sentIntact === w.tx,
    unit: 'packets',
    done,
    good: receivedIntact + sentIntact,
    payloadBytes: payload,
    details,
    error,
    unbind: () => {
      if (opened) nic.adapter.close();
    },
  };
}
