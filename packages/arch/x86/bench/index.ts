/**
 * x86 dma-direct: map+unmap of 4 KiB costs no copy at all on a coherent machine, so the goal is
 * stated against one 4 KiB `TypedArray.set` (≤ 2×), with dma-debug on as well (≤ 2× off).
 *
 *   pnpm bench   (or: pnpm exec tsx --conditions=@kdma/source bench/index.ts)
 */
import { DMA_TO_DEVICE, dmaMapSingle, dmaMappingError, dmaUnmapSingle } from '@kdma/dma-mapping';
import { measure, printBench } from '@kdma/measure';
import { createMachine } from '../src/index.js';

const SIZE = 4096;
const src = new Uint8Array(SIZE).fill(1);
const dst = new Uint8Array(SIZE);
const baseline = measure('TypedArray.set 4 KiB (baseline)', () => dst.set(src));

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

const off = measure('dma-direct map+unmap 4 KiB', mapUnmap(false));
const on = measure('… with dma-debug', mapUnmap(true));
printBench('x86 dma-direct (coherent: no copies; goal ≤ 2× one 4 KiB copy)', baseline, [
  { m: off, copies: 1, maxMultiple: 2 },
  { m: on, copies: 1 },
]);
console.log(`dma-debug on / off: ${(on.medianNs / off.medianNs).toFixed(2)}× (goal ≤ 2)`);
