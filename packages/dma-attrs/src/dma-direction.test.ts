import { describe, expect, it } from '@jest/globals';
import {
  DMA_BIDIRECTIONAL,
  DMA_DIRECTION_NAMES,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  checkDmaDirection,
  checkValidDmaDirection,
  dmaDirectionName,
  validDmaDirection,
} from './index.js';
import type { DmaDataDirection } from './index.js';

describe('DMA data directions', () => {
  it('have the kernel enum values and dma-debug names', () => {
    expect([DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE]).toEqual([0, 1, 2, 3]);
    expect(DMA_DIRECTION_NAMES).toEqual(['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE']);
    expect(dmaDirectionName(DMA_TO_DEVICE)).toBe('DMA_TO_DEVICE');
    expect(dmaDirectionName(DMA_NONE)).toBe('DMA_NONE');
    expect(() => dmaDirectionName(7 as DmaDataDirection)).toThrow(RangeError);
  });

  it('validDmaDirection accepts what valid_dma_direction accepts', () => {
    expect([0, 1, 2, 3, 4, -1, 1.5, NaN, '1', null].map(validDmaDirection)).toEqual([
      true, true, true, false, false, false, false, false, false, false,
    ]);
  });

  it('checkDmaDirection accepts the four values and names the argument otherwise', () => {
    for (const dir of [0, 1, 2, 3]) expect(checkDmaDirection(dir)).toBe(dir);
    for (const bad of [4, -1, 0.5, NaN, Infinity]) {
      expect(() => checkDmaDirection(bad)).toThrow(RangeError);
      expect(() => checkDmaDirection(bad, 'direction')).toThrow(/^direction must be DMA_BIDIRECTIONAL/);
    }
    for (const bad of ['1', null, undefined, {}]) {
      expect(() => checkDmaDirection(bad)).toThrow(TypeError);
      expect(() => checkDmaDirection(bad)).toThrow(/^dir must be a DMA data direction/);
    }
  });

  it('checkValidDmaDirection also rejects DMA_NONE, as map and sync calls BUG_ON it', () => {
    for (const dir of [0, 1, 2]) expect(checkValidDmaDirection(dir)).toBe(dir);
    expect(() => checkValidDmaDirection(DMA_NONE)).toThrow(new RangeError(
      'dir must be DMA_BIDIRECTIONAL (0), DMA_TO_DEVICE (1) or DMA_FROM_DEVICE (2), got DMA_NONE (3), which no mapping may take',
    ));
    expect(() => checkValidDmaDirection(9, 'd')).toThrow(/^d must be/);
    expect(() => checkValidDmaDirection('0')).toThrow(TypeError);
  });
});
