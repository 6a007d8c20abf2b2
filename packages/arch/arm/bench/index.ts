/**
 * ARM dma-direct with cache maintenance: a CPU-dirtied 4 KiB buffer mapped TO_DEVICE makes one
 * copy (the clean writes the dirty lines back); FROM_DEVICE map+unmap makes none (two
 * invalidates). Goals: ≤ 2× those copies, and dma-debug on ≤ 2× off.
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle, type DmaDataDirection } from '@kdma/dma-mapping';
import { measureEach, printBench, type Measurement } from '@kdma/measure';
import { createMachine } from '../src/index.js';

const SIZE = 4096;
const src = new Uint8Array(SIZE).fill(1);
const dst = new Uint8Array(SIZE);

function setup(dmaDebug: boolean) {
  const machine = createMachine({ dmaDebug });
  const dev = machine.createDevice({ name: 'dma0' });
  const kva = machine.mm.kmalloc(SIZE) as number;
  return { machine, dev, kva };
}

function dirtyThenMap(dmaDebug: boolean, dir: DmaDataDirection, withMap: boolean) {
  const { machine, dev, kva } = setup(dmaDebug);
  return () => {
    machine.cpu.write(kva, src);
    if (!withMap) return;
    const addr = dmaMapSingle(dev, kva, SIZE, dir);
    dmaMappingError(dev, addr);
    dmaUnmapSingle(dev, addr, SIZE, dir);
  };
}

function mapOnly(dmaDebug: boolean, dir: DmaDataDirection) {
  const { dev, kva } = setup(dmaDebug);
  return () => {
    const addr = dmaMapSingle(dev, kva, SIZE, dir);
    dmaMappingError(dev, addr);
    dmaUnmapSingle(dev, addr, SIZE, dir);
  };
}

// Interleaved with the baseline (the goals are ratios, TO_DEVICE's a difference of two figures,
// and this VM's speed drifts by tens of percent between seconds); dma-debug off first, as a
// machine without it never runs the debug code.
const [baseline, write, both, fromDevice] = measureEach([
  { name: 'TypedArray.set 4 KiB (baseline)', fn: () => dst.set(src) },
  { name: 'CPU write 4 KiB (dirties 64 lines)', fn: dirtyThenMap(false, DMA_TO_DEVICE, false) },
  { name: 'CPU write + map+unmap TO_DEVICE', fn: dirtyThenMap(false, DMA_TO_DEVICE, true) },
  { name: 'map+unmap FROM_DEVICE 4 KiB (two invalidates)', fn: mapOnly(false, DMA_FROM_DEVICE) },
]) as [Measurement, Measurement, Measurement, Measurement];
// With dma-debug on, the CPU write itself is watched (the ownership sanitizer): subtract that write.
const [baselineDebug, writeDebug, bothDebug, fromDeviceDebug] = measureEach([
  { name: 'TypedArray.set 4 KiB (baseline)', fn: () => dst.set(src) },
  { name: 'CPU write 4 KiB, dma-debug on', fn: dirtyThenMap(true, DMA_TO_DEVICE, false) },
  { name: 'CPU write + map+unmap TO_DEVICE, dma-debug', fn: dirtyThenMap(true, DMA_TO_DEVICE, true) },
  { name: '… with dma-debug', fn: mapOnly(true, DMA_FROM_DEVICE) },
]) as [Measurement, Measurement, Measurement, Measurement];
const toDevice: Measurement = { ...both, name: 'map+unmap TO_DEVICE of a dirty 4 KiB (difference)', medianNs: both.medianNs - write.medianNs };
const toDeviceDebug: Measurement = { ...bothDebug, name: '… with dma-debug (difference)', medianNs: bothDebug.medianNs - writeDebug.medianNs };
printBench('ARM dma-direct with cache maintenance (goal ≤ 2× the copies the maintenance makes)', baseline, [
  { m: write, copies: 1 },
  { m: toDevice, copies: 1, maxMultiple: 2 },
  { m: toDeviceDebug, copies: 1, baseline: baselineDebug },
  { m: fromDevice, copies: 1, maxMultiple: 2 },
  { m: fromDeviceDebug, copies: 1, baseline: baselineDebug },
]);
// Each figure as a multiple of the copy measured beside it, so the ratio does not take the VM's
// drift between the two groups.
const drift = baseline.medianNs / baselineDebug.medianNs;
const onOff = (on: Measurement, off: Measurement): string => ((on.medianNs * drift) / off.medianNs).toFixed(2);
console.log(`dma-debug on / off: TO_DEVICE ${onOff(toDeviceDebug, toDevice)}×, FROM_DEVICE ${onOff(fromDeviceDebug, fromDevice)}× (goal ≤ 2)`);
