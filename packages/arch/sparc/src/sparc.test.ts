import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { arch, bitmapFindNextZeroArea, createMachine, iommuAreaAlloc, SPARC_PLATFORM_NAMES, sparcFacts } from './index.js';

describe('sparc facts and machines', () => {
  it('describes SPARC: coherence per platform, 8 KiB pages on sparc64, 4 KiB on sparc32', () => {
    expect(arch).toMatchObject({ name: 'sparc', coherent: 'per-platform', cacheLineSize: 32, pageSizes: [8192, 4096], honouredAttrs: 0 });
    expect(arch.platforms).toEqual(['sun4u', 'sun4v', 'sparc32-leon']);
    expect(arch.ops).toEqual(['sun4u_dma_ops', 'sun4v_dma_ops', 'pci32_dma_ops']);
    expect(SPARC_PLATFORM_NAMES.map((p) => sparcFacts(p).pageSizes)).toEqual([[8192], [8192], [4096]]);
    expect(() => createMachine({ platform: 'sun4m' })).toThrow(RangeError);
    expect(() => createMachine({ platform: 'sparc32-leon', pageSize: 8192 })).toThrow(RangeError);
    expect(() => createMachine({ leonSnooping: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('iommu_area_alloc', () => {
  it('finds the first free run from the start, never overlapping what it handed out', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean()), { maxLength: 60 }), (ops) => {
        const size = 128;
        const map = new Uint8Array(size);
        const live: [number, number][] = [];
        for (const [nr, free] of ops) {
          if (free && live.length > 0) {
            const [start, n] = live.shift() as [number, number];
            map.fill(0, start, start + n);
            continue;
          }
          const expected = bitmapFindNextZeroArea(map, size, 0, nr, 0);
          const got = iommuAreaAlloc(map, size, 0, nr, 0, 2 ** 40, 0);
          if (expected >= size) {
            expect(got).toBe(-1);
            continue;
          }
          expect(got).toBe(expected);
          for (const [start, n] of live) expect(got + nr <= start || start + n <= got).toBe(true);
          live.push([got, nr]);
        }
      }),
    );
  });

  it('does not let a run cross a segment boundary it fits in', () => {
    const map = new Uint8Array(16);
    map.fill(1, 0, 3);
    // Boundary every 4 entries: 2 entries at 3 would cross 4, so they go to 4.
    expect(iommuAreaAlloc(map, 16, 0, 2, 0, 4, 0)).toBe(4);
  });
});
