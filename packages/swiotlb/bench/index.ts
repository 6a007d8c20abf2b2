/**
 * @kdma/swiotlb micro-benchmarks. The goal is a ratio to the copies a path inherently makes
 * (DESIGN.md): a 4 KiB map + unmap through the bounce pool makes two 4 KiB copies (original →
 * slot on map, slot → original on unmap), so it is measured against two `TypedArray.set` of
 * 4 KiB in the same run; the rest of its time is the slot search, the bookkeeping and the CPU
 * access path of the simulated machine.
 *
 *   pnpm exec tsx --conditions=@kdma/source bench/index.ts
 */
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type ValidDmaDirection } from '@kdma/dma-attrs';
import { Hardware } from '@kdma/hw';
import { copyPair, measure, printBench, type BenchRow } from '@kdma/measure';
import { Mm, X86_64_ZONES } from '@kdma/mm';
import { swiotlbDevice, swiotlbInit, swiotlbTblMapSingle, swiotlbTblUnmapSingle, type SwiotlbDevice } from '../src/index.js';

const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SIZE = 4 * KiB;

function setup(cacheModel: boolean, poolSize = 1 * MiB): { hw: Hardware; dev: SwiotlbDevice; nvme: SwiotlbDevice; orig: number } {
  const hw = new Hardware({
    memoryRegions: [
      { base: 0, size: 256 * MiB },
      { base: 4 * GiB, size: 64 * MiB },
    ],
    cacheModel,
  });
  const mm = new Mm(hw, { zones: X86_64_ZONES });
  const mem = swiotlbInit(hw, mm, { size: poolSize, zones: X86_64_ZONES });
  if (mem === null) throw new Error('no pool');
  const orig = (mm.allocPages(4) as number) * mm.pageSize;
  hw.cpuWrite(orig, new Uint8Array(16 * SIZE).map((_, i) => i * 7), 'normal');
  // Touch the pool once so that its RAM chunks exist, as they would after a few seconds of traffic.
  // A 1 MiB pool by default: the model's cost, not the host's cache misses, is what is measured.
  hw.cpuFill(mem.defpool!.start, poolSize, 1, 'normal');
  if (cacheModel) hw.cacheFlush(mem.defpool!.start, poolSize);
  return { hw, dev: swiotlbDevice(mem, { name: 'bench', dmaMask: 2 ** 32 - 1 }), nvme: swiotlbDevice(mem, { name: 'nvme', minAlignMask: 0xfff }), orig };
}

const coherent = setup(false);

function mapUnmap(s: typeof coherent, dev: SwiotlbDevice, offset: number, dir: ValidDmaDirection): () => void {
  return () => {
    const tlb = swiotlbTblMapSingle(dev, s.orig + offset, SIZE, 0, dir, 0);
    swiotlbTblUnmapSingle(dev, tlb, SIZE, dir, 0);
  };
}

// Warm the JIT on the paths measured, so the first row is not the one that pays for it.
for (const dir of [DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE] as const) {
  const fn = mapUnmap(coherent, coherent.dev, 0, dir);
  for (let i = 0; i < 20000; i++) fn();
}

const { src, dst } = copyPair(SIZE);
const baseline = measure('TypedArray.set 4 KiB (baseline)', () => dst.set(src));

const rows: BenchRow[] = [
  { m: measure('map+unmap 4 KiB BIDIRECTIONAL (search + 2 bounces)', mapUnmap(coherent, coherent.dev, 0, DMA_BIDIRECTIONAL)), copies: 2 },
  { m: measure('map+unmap 4 KiB FROM_DEVICE (map copies too, CVE fix)', mapUnmap(coherent, coherent.dev, 0, DMA_FROM_DEVICE)), copies: 2 },
  { m: measure('map+unmap 4 KiB TO_DEVICE (1 bounce)', mapUnmap(coherent, coherent.dev, 0, DMA_TO_DEVICE)), copies: 1 },
  { m: measure('map+unmap 4 KiB at +0x468, min_align_mask 0xfff', mapUnmap(coherent, coherent.nvme, 0x468, DMA_BIDIRECTIONAL)), copies: 2 },
];

// The default 64 MiB pool: the round-robin search walks all of it, so the copies go to memory
// the host's caches have long forgotten (as the kernel's do).
const large = setup(false, 64 * MiB);
rows.push({ m: measure('map+unmap 4 KiB BIDIRECTIONAL, 64 MiB pool', mapUnmap(large, large.dev, 0, DMA_BIDIRECTIONAL)), copies: 2 });

// A busy pool: 1000 live mappings of mixed sizes scattered over both areas.
const busy = setup(false, 64 * MiB);
const held: number[] = [];
for (let i = 0; i < 1000; i++) held.push(swiotlbTblMapSingle(busy.dev, busy.orig, 512 + ((i * 977) % 16384), 0, DMA_TO_DEVICE, 0));
for (let i = 0; i < held.length; i += 3) swiotlbTblUnmapSingle(busy.dev, held[i]!, 512 + ((i * 977) % 16384), DMA_TO_DEVICE, 0);
rows.push({ m: measure('map+unmap 4 KiB BIDIRECTIONAL, busy 64 MiB pool', mapUnmap(busy, busy.dev, 0, DMA_BIDIRECTIONAL)), copies: 2 });

const noncoherent = setup(true);
rows.push({ m: measure('map+unmap 4 KiB BIDIRECTIONAL, cache model', mapUnmap(noncoherent, noncoherent.dev, 0, DMA_BIDIRECTIONAL)), copies: 2 });

console.log(`@kdma/swiotlb bench: medians of ${baseline.samples} batches, node ${process.version}`);
printBench('swiotlb map + unmap against the copies it makes', baseline, rows);
