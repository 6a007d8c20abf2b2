/**
 * ARM dma-direct with cache maintenance: a CPU-dirtied 4 KiB buffer mapped TO_DEVICE makes one
 * copy (the clean writes the dirty lines back); FROM_DEVICE map+unmap makes none (two
 * invalidates). Goals: ≤ 2× those copies, and dma-debug on ≤ 2× off. Two rows show what the
 * TO_DEVICE figure is made of: the write-back copy as the model makes it (RAM and the cache's
 * shadow of it share one buffer), and the clean alone, called on the hardware with no DMA API.
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle, type DmaDataDirection } from '@kdma/dma-mapping';
import { copyPair, measureEach, printBench, type Measurement } from '@kdma/measure';
import { createMachine } from '../src/index.js';

const SIZE = 4096;
const { src, dst } = copyPair(SIZE, 1);

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

/** The dirty lines written back by the hardware's clean alone: no DMA API, no arch hook. */
function dirtyThenClean(): () => void {
  const { machine, kva } = setup(false);
  const paddr = machine.mm.virtToPhys(kva);
  return () => {
    machine.cpu.write(kva, src);
    machine.hw.cacheClean(paddr, SIZE);
  };
}

/**
 * The write-back's copy as the cache makes it: a 64 KiB RAM chunk and its shadow are the two
 * halves of one buffer, and a page of dirty lines goes from a view of the shadow into the chunk.
 */
function writeBackCopy(): () => void {
  const pair = new Uint8Array(128 * 1024);
  const ram = pair.subarray(0, 65536);
  const shadowPage = pair.subarray(65536 + 8192, 65536 + 8192 + SIZE);
  return () => ram.set(shadowPage, 8192);
}

function mapOnly(dmaDebug: boolean, dir: DmaDataDirection) {
  const { dev, kva } = setup(dmaDebug);
  return () => {
    const addr = dmaMapSingle(dev, kva, SIZE, dir);
    dmaMappingError(dev, addr);
    dmaUnmapSingle(dev, addr, SIZE, dir);
  };
}

/**
 * The baseline, a CPU write, the write with a TO_DEVICE map+unmap, and a FROM_DEVICE map+unmap,
 * interleaved (the goals are ratios, TO_DEVICE's a difference of two figures, and this VM's speed
 * drifts by tens of percent between seconds). With dma-debug on, the CPU write itself is watched
 * (the ownership sanitizer), which the difference subtracts.
 */
function group(dmaDebug: boolean): { baseline: Measurement; write: Measurement; toDevice: Measurement; fromDevice: Measurement; parts: Measurement[] } {
  const tag = dmaDebug ? ', dma-debug' : '';
  // The parts of TO_DEVICE only without dma-debug: their code must not run before the off group.
  const parts = dmaDebug
    ? []
    : [
        { name: '  of which: the write-back copy (4 KiB, shadow to RAM)', fn: writeBackCopy() },
        { name: 'CPU write + hw.cacheClean', fn: dirtyThenClean() },
      ];
  const [baseline, write, both, fromDevice, copy, clean] = measureEach([
    { name: 'TypedArray.set 4 KiB (baseline)', fn: () => dst.set(src) },
    { name: `CPU write 4 KiB (dirties 64 lines)${tag}`, fn: dirtyThenMap(dmaDebug, DMA_TO_DEVICE, false) },
    { name: `CPU write + map+unmap TO_DEVICE${tag}`, fn: dirtyThenMap(dmaDebug, DMA_TO_DEVICE, true) },
    { name: dmaDebug ? '… with dma-debug' : 'map+unmap FROM_DEVICE 4 KiB (two invalidates)', fn: mapOnly(dmaDebug, DMA_FROM_DEVICE) },
    ...parts,
  ]) as [Measurement, Measurement, Measurement, Measurement, Measurement?, Measurement?];
  const name = dmaDebug ? '… with dma-debug (difference)' : 'map+unmap TO_DEVICE of a dirty 4 KiB (difference)';
  const less = (m: Measurement, label: string): Measurement => ({ ...m, name: label, medianNs: m.medianNs - write.medianNs });
  return {
    baseline,
    write,
    toDevice: less(both, name),
    fromDevice,
    parts: copy === undefined || clean === undefined ? [] : [copy, less(clean, '  of which: hw.cacheClean alone, no DMA API (difference)')],
  };
}

// dma-debug off first, as a machine without it never runs the debug code.
const off = group(false);
const on = group(true);
printBench('ARM dma-direct with cache maintenance (goal ≤ 2× the copies the maintenance makes)', off.baseline, [
  { m: off.write, copies: 1 },
  { m: off.toDevice, copies: 1, maxMultiple: 2 },
  ...off.parts.map((m) => ({ m, copies: 1 })),
  { m: on.toDevice, copies: 1, baseline: on.baseline },
  { m: off.fromDevice, copies: 1, maxMultiple: 2 },
  { m: on.fromDevice, copies: 1, baseline: on.baseline },
]);
// Each figure as a multiple of the copy measured beside it, so the ratio does not take the VM's
// drift between the two groups.
const onOff = (a: Measurement, b: Measurement): string => (a.medianNs / on.baseline.medianNs / (b.medianNs / off.baseline.medianNs)).toFixed(2);
console.log(`dma-debug on / off: TO_DEVICE ${onOff(on.toDevice, off.toDevice)}×, FROM_DEVICE ${onOff(on.fromDevice, off.fromDevice)}× (goal ≤ 2)`);
