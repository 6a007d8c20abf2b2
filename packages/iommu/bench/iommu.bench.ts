/**
 * dma-iommu figures: a 4 KiB map+unmap pair through the consumer API (dmaMapPage/dmaUnmapPage)
 * in strict and lazy mode, against the kernel's dma_map_benchmark on SMMUv3 (about 0.1 µs map +
 * 0.6 µs unmap); and a device reading 1 MiB through the IOMMU with dmaReadInto, against the
 * copies that read inherently makes (goal: at most 2× their time, i.e. a ratio ≥ 0.5): one
 * `TypedArray.set` of 1 MiB for contiguous memory, a 4 KiB set out of each page for 256 pages
 * scattered every other one (the same page frames, at their offsets in RAM-sized arrays). Each
 * read is measured interleaved with its baseline.
 */

import { DMA_TO_DEVICE, dmaMapPage, dmaMapSgAttrs, dmaUnmapPage } from '@kdma/dma-mapping';
import { formatTable, measure, measureEach, printBench, ScatteredPages, type Measurement } from '@kdma/measure';
import type { Scatterlist } from '@kdma/scatterlist';
import { createBoard, createPc } from '../src/test-machine.js';

const MiB = 2 ** 20;
const PAGE = 4096;

function pairBench(name: string, strict: boolean, board: boolean, coherent = !board) {
  const m = board ? createBoard({ iommuStrict: strict }) : createPc({ iommuStrict: strict });
  const dev = m.createDevice({ name: 'bench', ...(board ? { coherent } : {}) });
  const pfn = m.mm.allocPages(0);
  if (pfn === null) throw new Error('allocPages');
  return measure(name, () => {
    const addr = dmaMapPage(dev, pfn, 0, PAGE, DMA_TO_DEVICE);
    dmaUnmapPage(dev, addr, PAGE, DMA_TO_DEVICE);
  });
}

/** Prints the dma-iommu figures. */
export function runIommuBench(): void {
  // A first, discarded round: the JIT settles on the map/unmap path before anything is timed.
  pairBench('warm-up', true, false);
  pairBench('warm-up', false, true, false);
  const pairs = [
    pairBench('strict, coherent device (PC, VT-d-like table)', true, false),
    pairBench('lazy, coherent device (PC, VT-d-like table)', false, false),
    pairBench('strict, coherent device (board, LPAE S1 table)', true, true, true),
    pairBench('lazy, coherent device (board, LPAE S1 table)', false, true, true),
    pairBench('strict, non-coherent device (board, + cache clean)', true, true, false),
    pairBench('lazy, non-coherent device (board, + cache clean)', false, true, false),
  ];
  console.log('\ndma-iommu: one 4 KiB dmaMapPage + dmaUnmapPage through the consumer API');
  console.log('(the kernel\'s dma_map_benchmark on SMMUv3: about 100 ns map + 600 ns unmap = 700 ns a pair)');
  console.log(
    formatTable(
      ['pair', 'median ns', 'kernel 700 ns ÷ this'],
      pairs.map((p) => [p.name, p.medianNs.toFixed(0), (700 / p.medianNs).toFixed(2)]),
    ),
  );

  const src = new Uint8Array(MiB).map((_, i) => i * 13);
  const dst = new Uint8Array(MiB);
  // One physically contiguous MiB behind one dmaMapPage: 256 PTEs, one run per access.
  const m = createPc({ memory: 64 * MiB });
  const dev = m.createDevice({ name: 'reader' });
  const block = m.mm.allocPages(8);
  if (block === null) throw new Error('allocPages');
  m.cpu.write(m.mm.pageAddress(block), src);
  const contiguous = dmaMapPage(dev, block, 0, MiB, DMA_TO_DEVICE);

  // 256 scattered pages behind one dmaMapSgAttrs segment: 256 physical runs per access.
  const scattered = m.createDevice({ name: 'sg-reader', maxSegmentSize: MiB });
  const sgl: Scatterlist[] = [];
  for (let i = 0; i < 256; i++) {
    const pfn = m.mm.allocPages(0);
    m.mm.allocPages(0);
    if (pfn === null) throw new Error('allocPages');
    m.cpu.write(m.mm.pageAddress(pfn), src.subarray(i * PAGE, (i + 1) * PAGE));
    sgl.push({ pfn, offset: 0, length: PAGE, dmaAddress: 0, dmaLength: 0 });
  }
  if (dmaMapSgAttrs(scattered, sgl, 256, DMA_TO_DEVICE) !== 1) throw new Error('map_sg did not merge');
  const seg = sgl[0] as Scatterlist;

  const pages = new ScatteredPages([sgl.map((sg) => sg.pfn)], PAGE);
  const [baseline, contiguousRead] = measureEach([
    { name: 'TypedArray.set 1 MiB (baseline)', fn: () => dst.set(src) },
    { name: 'device dmaReadInto 1 MiB through the IOMMU (contiguous)', fn: () => dev.hw.dmaReadInto(contiguous, dst) },
  ]) as [Measurement, Measurement];
  const [scatteredBaseline, scatteredRead] = measureEach([
    { name: 'a 4 KiB set out of each of the 256 scattered pages (their baseline)', fn: () => pages.copyOut(0, dst) },
    { name: 'device dmaReadInto 1 MiB through the IOMMU (256 scattered pages)', fn: () => scattered.hw.dmaReadInto(seg.dmaAddress, dst) },
  ]) as [Measurement, Measurement];
  const rows = [
    { m: contiguousRead, copies: 1, maxMultiple: 2 },
    { m: scatteredBaseline, copies: 0 },
    { m: scatteredRead, copies: 1, maxMultiple: 2, baseline: scatteredBaseline },
  ];
  printBench('dma-iommu: a device reading 1 MiB through the IOMMU (goal: ≤ 2× the copies it makes, ratio ≥ 0.5)', baseline, rows);
  console.log(`  ratio set/read, contiguous: ${(baseline.medianNs / contiguousRead.medianNs).toFixed(2)}`);
  console.log(
    `  ratio set/read, scattered: ${(scatteredBaseline.medianNs / scatteredRead.medianNs).toFixed(2)} (${(baseline.medianNs / scatteredRead.medianNs).toFixed(2)} against the one long copy)`,
  );
  const stats = m.iommu?.stats();
  console.log(`  IOTLB: ${stats?.iotlbHits} hits, ${stats?.iotlbMisses} misses`);
}
