/**
 * x86 dma-direct: map+unmap of 4 KiB costs no copy at all on a coherent machine, so the goal is
 * stated against one 4 KiB `TypedArray.set` (≤ 2×), with dma-debug on as well (≤ 2× off).
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { DMA_TO_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle } from '@kdma/dma-mapping';
import { copyPair, measureEach, printBench, type Measurement } from '@kdma/measure';
import { createMachine } from '../src/index.js';

const SIZE = 4096;
const { src, dst } = copyPair(SIZE, 1);

function mapUnmap(dmaDebug: boolean) {
  const machine = createMachine({ dmaDebug });
  const dev = machine.createDevice({ name: 'nic' });
  const kva = machine.mm.kmalloc(SIZE) as number;
  return () => {
    const addr = dmaMapSingle(dev, kva, SIZE, DMA_TO_DEVICE);
    dmaMappingError(dev, addr);
    dmaUnmapSingle(dev, addr, SIZE, DMA_TO_DEVICE);
  };
}

// Each figure interleaved with the baseline (the goals are ratios, and this VM's speed drifts
// between seconds); dma-debug off first, as a machine without it never runs the debug code.
const [baseline, off] = measureEach([
  { name: 'TypedArray.set 4 KiB (baseline)', fn: () => dst.set(src) },
  { name: 'dma-direct map+unmap 4 KiB', fn: mapUnmap(false) },
]) as [Measurement, Measurement];
const [baselineOn, on] = measureEach([
  { name: 'TypedArray.set 4 KiB (baseline)', fn: () => dst.set(src) },
  { name: '… with dma-debug', fn: mapUnmap(true) },
]) as [Measurement, Measurement];
printBench('x86 dma-direct (coherent: no copies; goal ≤ 2× one 4 KiB copy)', baseline, [
  { m: off, copies: 1, maxMultiple: 2 },
  { m: on, copies: 1, baseline: baselineOn },
]);
// Each figure as a multiple of the copy measured beside it, so the ratio does not take the VM's
// drift between the two groups.
const ratio = on.medianNs / baselineOn.medianNs / (off.medianNs / baseline.medianNs);
console.log(`dma-debug on / off: ${ratio.toFixed(2)}× (goal ≤ 2; raw medians ${on.medianNs.toFixed(0)} / ${off.medianNs.toFixed(0)} ns)`);
