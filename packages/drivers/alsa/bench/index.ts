/**
 * ALSA playback throughput through a DEV_WC ring, per 4 KiB period: the process writes the period
 * into its mapping and commits it (barrier + SYNC_PTR), the clock advances one period, the device
 * reads it by DMA and interrupts, the core follows the pointer. The copies the path inherently
 * makes are the process's write and the device's read: 2 × 4 KiB, measured with
 * `TypedArray.set` in the same run.
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { copyPair, measure, printBench, type Measurement } from '@kdma/measure';
import { createPcmDmaCard, SNDRV_DMA_TYPE_DEV_WC, SNDRV_DMA_TYPE_NONCONTIG, SndPcmUser, type SndDmaType } from '../src/index.js';

const PERIOD = 4096;
const RATE = 48000;
const { src, dst } = copyPair(PERIOD);
const baseline = measure('TypedArray.set 4 KiB (baseline)', () => dst.set(src));

function playback(name: string, machine: Machine, type: SndDmaType): Measurement {
  const dev = machine.createDevice({ name: 'snd0' });
  let played = 0;
  const card = createPcmDmaCard(dev, { type, capture: false, sink: (period) => (played += period.length) });
  const sub = card.playback;
  if (sub === null) throw new Error('no playback substream');
  if (sub.open() !== 0 || sub.hwParams({ rate: RATE, channels: 2, format: 'S16_LE', periodBytes: PERIOD, periods: 4 }) !== 0 || sub.prepare() !== 0) {
    throw new Error('setup failed');
  }
  const user = new SndPcmUser(sub, machine.createProcess(), { cpu: 1 });
  const period = new Uint8Array(PERIOD).fill(0xa5);
  while (user.writeFrames(period) > 0);
  if (user.start() !== 0) throw new Error('start failed');
  const periodNs = Math.ceil(((PERIOD / 4) * 1e9) / RATE);
  const m = measure(name, () => {
    machine.clock.advance(periodNs);
    if (user.writeFrames(period) !== PERIOD / 4) throw new Error(`underrun (state ${sub.state})`);
  });
  if (played === 0) throw new Error('nothing played');
  return m;
}

const rows = [
  { m: playback('DEV_WC period, arm (write-combined ring)', createArm(), SNDRV_DMA_TYPE_DEV_WC), copies: 2 },
  { m: playback('NONCONTIG period, arm (cached ring, explicit syncs)', createArm(), SNDRV_DMA_TYPE_NONCONTIG), copies: 2 },
  { m: playback('DEV_WC period, x86 (cached ring)', createX86(), SNDRV_DMA_TYPE_DEV_WC), copies: 2 },
];
printBench('ALSA mmap playback, per 4 KiB period (× the process write + device read)', baseline, rows);
for (const { m } of rows) console.log(`${m.name}: ${((PERIOD * 1e9) / m.medianNs / 2 ** 20).toFixed(0)} MiB/s of samples`);
