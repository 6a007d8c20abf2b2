import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DMA_ATTR_NO_WARN, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type ValidDmaDirection } from '@kdma/dma-attrs';
import { alignUp } from '@kdma/hw';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, SWIOTLB_MAP_ERROR, nrSlots } from './io-tlb.js';
import type { IoTlbPool } from './io-tlb-pool.js';
import { swiotlbTblMapSingle, swiotlbTblUnmapSingle } from './map.js';
import { swiotlbAlignOffset } from './slots.js';
import { KiB, expectBytes, highBuffer, pattern, testPool } from './test-machine.js';
import { swiotlbDevice, type SwiotlbDevice } from './types.js';

interface Live {
  readonly dev: SwiotlbDevice;
  readonly tlb: number;
  readonly orig: number;
  readonly size: number;
  readonly dir: ValidDmaDirection;
  readonly slots: number;
  readonly seed: number;
}

/** The allocator's invariant: every free slot's `list` counts the free run to its segment's end. */
function checkLists(pool: IoTlbPool): number {
  let used = 0;
  for (let i = pool.nslabs - 1; i >= 0; i--) {
    const value = pool.list[i] as number;
    if (value === 0) {
      used++;
      continue;
    }
    const segmentEnd = Math.min(pool.nslabs, (Math.floor(i / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE);
    const next = i + 1 < segmentEnd ? (pool.list[i + 1] as number) : 0;
    if (value !== next + 1) throw new Error(`list[${i}] = ${value}, expected ${next + 1}`);
  }
  let areaUsed = 0;
  for (const u of pool.areaUsed) areaUsed += u;
  expect(areaUsed).toBe(used);
  return used;
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('map' as const),
    size: fc.oneof(fc.integer({ min: 1, max: 4 * KiB }), fc.integer({ min: 1, max: 96 * KiB })),
    offset: fc.integer({ min: 0, max: 8191 }),
    dev: fc.integer({ min: 0, max: 2 }),
    dir: fc.constantFrom(DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL),
    cpu: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('unmap' as const), pick: fc.nat() }),
);

describe('the slot allocator under random map/unmap sequences', () => {
  it('never shares a slot, always round-trips the data, and keeps exact counters', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.constantFrom(1, 2, 4), (ops, areas) => {
        const m = testPool({ size: 1024 * KiB, areas }, { cpus: 4 });
        const pool = m.mem.defpool!;
        const devs = [
          swiotlbDevice(m.mem, { name: 'plain' }),
          swiotlbDevice(m.mem, { name: 'nvme', minAlignMask: 0xfff }),
          swiotlbDevice(m.mem, { name: 'bounded', segmentBoundaryMask: 0xffff }),
        ];
        const arena = highBuffer(m, 128 * KiB);
        const live: Live[] = [];
        let seed = 1;
        let expectedUsed = 0;
        for (const o of ops) {
          if (o.kind === 'map') {
            const dev = devs[o.dev]!;
            const size = Math.min(o.size, 128 * KiB - o.offset);
            const orig = arena + o.offset;
            seed = (seed % 200) + 1;
            m.hw.cpuWrite(orig, pattern(size, seed), 'normal');
            const tlb = m.hw.runOn(o.cpu, () => swiotlbTblMapSingle(dev, orig, size, 0, o.dir, DMA_ATTR_NO_WARN));
            if (tlb === SWIOTLB_MAP_ERROR) continue;
            // Today's map copies the original in whatever the direction.
            expectBytes(m.hw.cpuRead(tlb, size, 'normal'), pattern(size, seed));
            if (dev.minAlignMask !== 0) expect(tlb % 4096).toBe(orig % 4096);
            const slots = nrSlots(alignUp(size + swiotlbAlignOffset(dev, 0, orig), 1));
            live.push({ dev, tlb, orig, size, dir: o.dir, slots, seed });
            expectedUsed += slots;
          } else if (live.length > 0) {
            const [mapping] = live.splice(o.pick % live.length, 1);
            const { dev, tlb, orig, size, dir } = mapping!;
            // The device answers in the slot; the CPU's copy changes meanwhile.
            m.hw.cpuWrite(tlb, pattern(size, mapping!.seed + 100), 'normal');
            m.hw.cpuWrite(orig, pattern(size, 250), 'normal');
            swiotlbTblUnmapSingle(dev, tlb, size, dir, 0);
            const back = dir === DMA_TO_DEVICE ? pattern(size, 250) : pattern(size, mapping!.seed + 100);
            expectBytes(m.hw.cpuRead(orig, size, 'normal'), back);
            expectedUsed -= mapping!.slots;
          }
          // No two live mappings share a slot.
          const owner = new Map<number, number>();
          live.forEach((l, n) => {
            const first = Math.floor((l.tlb - pool.start) / IO_TLB_SIZE);
            for (let s = first; s < first + l.slots; s++) {
              expect(owner.has(s)).toBe(false);
              owner.set(s, n);
              expect(pool.list[s]).toBe(0);
            }
          });
          expect(checkLists(pool)).toBe(expectedUsed);
          expect(m.mem.stats().usedSlots).toBe(expectedUsed);
        }
        for (const l of live) swiotlbTblUnmapSingle(l.dev, l.tlb, l.size, l.dir, 0);
        expect(checkLists(pool)).toBe(0);
        expect(m.mem.stats().usedSlots).toBe(0);
        expect(Array.from(pool.areaUsed).every((u) => u === 0)).toBe(true);
      }),
      { numRuns: 60, seed: 20240607 },
    );
  });

  it('hands back every slot after the pool was exhausted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 * KiB }), { minLength: 1, maxLength: 20 }), fc.nat(), (sizes, order) => {
        const m = testPool({ size: 512 * KiB, areas: 2 });
        const pool = m.mem.defpool!;
        const initial = Array.from(pool.list);
        const dev = swiotlbDevice(m.mem);
        const orig = highBuffer(m, 64 * KiB);
        const live: { tlb: number; size: number }[] = [];
        for (let i = 0; ; i++) {
          const size = sizes[i % sizes.length]!;
          const tlb = swiotlbTblMapSingle(dev, orig, size, 0, DMA_TO_DEVICE, DMA_ATTR_NO_WARN);
          if (tlb === SWIOTLB_MAP_ERROR) break;
          live.push({ tlb, size });
        }
        // Exhausted for this size: every remaining run of free slots is shorter than it needs.
        expect(m.mem.stats().failures).toBe(1);
        while (live.length > 0) {
          const [l] = live.splice((order + live.length) % live.length, 1);
          swiotlbTblUnmapSingle(dev, l!.tlb, l!.size, DMA_TO_DEVICE, 0);
        }
        expect(Array.from(pool.list)).toEqual(initial);
        expect(m.mem.stats().usedSlots).toBe(0);
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});
