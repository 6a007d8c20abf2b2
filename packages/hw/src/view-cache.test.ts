import { describe, expect, it } from '@jest/globals';
import { PhysicalMemory } from './physical-memory.js';
import { ViewCache } from './view-cache.js';

describe('ViewCache', () => {
  it('returns the same view for the same window of the same array, a new one otherwise', () => {
    const cache = new ViewCache();
    const a = new Uint8Array(64).map((_, i) => i);
    const b = new Uint8Array(64).map((_, i) => 100 + i);
    const v = cache.view(a, 0, 8, 4);
    expect(v).toEqual(new Uint8Array([8, 9, 10, 11]));
    expect(cache.view(a, 0, 8, 4)).toBe(v);
    // Same window of another array: never the first array's bytes.
    expect(cache.view(b, 0, 8, 4)).toEqual(new Uint8Array([108, 109, 110, 111]));
    expect(cache.view(a, 0, 8, 5)).toEqual(new Uint8Array([8, 9, 10, 11, 12]));
    expect(cache.view(a, 0, 9, 4)).toEqual(new Uint8Array([9, 10, 11, 12]));
    // A view is the memory, not a copy: later writes show through it.
    a[8] = 77;
    expect(cache.view(a, 0, 8, 4)[0]).toBe(77);
  });

  it('stays correct when many windows share slots', () => {
    const cache = new ViewCache();
    const arrays = Array.from({ length: 8 }, (_, k) => new Uint8Array(4096).fill(k));
    const wrong: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < arrays.length; k++) {
        for (let from = 0; from < 4096; from += 16) {
          const view = cache.view(arrays[k]!, k, from, 16);
          if (view.buffer !== arrays[k]!.buffer || view.byteOffset !== from || view.length !== 16) wrong.push(`${k}:${from}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('never reads a re-homed RAM chunk through the old view', () => {
    const ram = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
    ram.writeAt(100, new Uint8Array([1, 2, 3, 4]), 0, 4);
    const out = new Uint8Array(4);
    ram.readAt(100, out, 0, 4);
    expect(out).toEqual(new Uint8Array([1, 2, 3, 4]));
    // The cache moves chunk 0 into a pair buffer; RAM keeps its bytes and takes new writes there.
    ram.setWriteWatcher(() => {});
    ram.shadowedChunk(0);
    ram.writeAt(100, new Uint8Array([5, 6, 7, 8]), 0, 4);
    ram.readAt(100, out, 0, 4);
    expect(out).toEqual(new Uint8Array([5, 6, 7, 8]));
  });
});
