import { describe, expect, it } from '@jest/globals';
import { arch, createMachine, IO_PAGE_SIZE, IommuArena, SPARC_PLATFORM_NAMES, sparcFacts } from './index.js';

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

describe('IommuArena (iommu_range_alloc over lib/iommu-helper)', () => {
  it('allocates from the hint, keeps back the last TSB entry, and wraps once with a flush', () => {
    let flushes = 0;
    const arena = new IommuArena(16, 0, IO_PAGE_SIZE, () => flushes++);
    expect(arena.alloc(null, 6)).toBe(0);
    expect(arena.alloc(null, 6)).toBe(6);
    // Entries 12..15 are free but 15 is "the last of the limit": three fit, four do not.
    expect(arena.alloc(null, 4)).toBe(-1);
    expect(flushes).toBe(1);
    arena.free(0, 6);
    expect(arena.alloc(null, 4)).toBe(0);
    expect(flushes).toBe(2);
    expect(arena.alloc(null, 3)).toBe(12);
    expect(arena.inUse()).toBe(13);
    // From the hint only the kept-back last entry is free: the search wraps to 0, flushing.
    expect(arena.alloc(null, 1)).toBe(4);
    expect(flushes).toBe(3);
  });

  it('never lets a run cross the device segment boundary, and refuses one longer than it', () => {
    const m = createMachine();
    const dev = m.createDevice({ name: 'bounded', segmentBoundaryMask: 4 * IO_PAGE_SIZE - 1 });
    // The arena's first entry is bus page 1: windows of 4 start at entries 3, 7, 11, …
    const arena = new IommuArena(32, 1, IO_PAGE_SIZE, null);
    expect(arena.alloc(dev, 2)).toBe(0);
    expect(arena.alloc(dev, 2)).toBe(3);
    expect(arena.alloc(dev, 4)).toBe(7);
    expect(arena.alloc(dev, 5)).toBe(-1);
    expect(arena.inUse()).toBe(8);
  });
});
