// Page allocator throughput: median ops/s of allocPages + freePages pairs on a 1 GiB machine.
// Run: pnpm exec tsx --conditions=@kdma/source bench/index.ts
import { Hardware } from '@kdma/hw';
import { Mm } from '@kdma/mm';

const GiB = 2 ** 30;
const ROUNDS = 7;
const PAIRS = 200_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function bench(name: string, order: number, holding: number): void {
  const hw = new Hardware({ memoryRegions: [{ base: 0, size: GiB }] });
  const mm = new Mm(hw);
  // Some pages held so the lists are not trivially empty (a fragmented, realistic state).
  const held: number[] = [];
  for (let i = 0; i < holding; i++) held.push(mm.allocPages(i % 4) as number);
  for (let i = 0; i < held.length; i += 2) mm.freePages(held[i] as number, i % 4);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < PAIRS; i++) {
      const pfn = mm.allocPages(order) as number;
      mm.freePages(pfn, order);
    }
    rates.push(PAIRS / ((performance.now() - start) / 1000));
  }
  console.log(`${name.padEnd(40)} ${Math.round(median(rates)).toLocaleString('en-US').padStart(12)} pairs/s (median of ${ROUNDS})`);
}

bench('allocPages(0) + freePages(0)', 0, 0);
bench('allocPages(0) + freePages(0), fragmented', 0, 10_000);
bench('allocPages(3) + freePages(3)', 3, 0);
bench('allocPages(3) + freePages(3), fragmented', 3, 10_000);
