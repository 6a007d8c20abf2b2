import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from '@kdma/dma-attrs';
import type { Device } from '../device.js';
import { ActiveCachelines } from './cacheline-tracking.js';
import { MAP_ERR_CHECK_NOT_APPLICABLE, makeEntry, type DmaDebugEntry } from './dma-debug-entry.js';
import { createTestMachine } from '../test-machine.js';

let dev: Device;
let warnings: string[];
let lines: ActiveCachelines;

beforeEach(() => {
  dev = createTestMachine().createDevice({ name: 'dev0' });
  warnings = [];
  lines = new ActiveCachelines(64, (message) => warnings.push(message));
});

function entry(paddr: number | null, dir: DmaDataDirection = DMA_FROM_DEVICE, attrs = 0): DmaDebugEntry {
  const ref = { dev, devAddr: paddr ?? 0, size: 32, type: 'single' as const, direction: dir, sgCallEnts: 0, paddr, cpuAddr: null };
  return makeEntry(ref, 0, MAP_ERR_CHECK_NOT_APPLICABLE, attrs, null);
}

describe('ActiveCachelines', () => {
  it('keys the first line of a mapping by paddr / line size', () => {
    expect(lines.cachelineOf(0)).toBe(0);
    expect(lines.cachelineOf(63)).toBe(0);
    expect(lines.cachelineOf(2 ** 40 + 64)).toBe(2 ** 34 + 1);
  });

  it('reports a second device-writable mapping of a line; TO_DEVICE and unknown addresses are not tracked', () => {
    expect(lines.insert(entry(0x1000))).toBe('inserted');
    expect(lines.insert(entry(0x1020, DMA_BIDIRECTIONAL))).toBe('overlap');
    expect(lines.insert(entry(0x1010, DMA_TO_DEVICE))).toBe('skipped');
    expect(lines.insert(entry(null))).toBe('skipped');
    expect(lines.insert(entry(0x1040))).toBe('inserted');
  });

  it('exempts DMA_ATTR_SKIP_CPU_SYNC, and overlaps both sides declare clean', () => {
    lines.insert(entry(0x2000));
    expect(lines.insert(entry(0x2000, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC))).toBe('exempt-overlap');
    expect(lines.insert(entry(0x2000, DMA_FROM_DEVICE, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES))).toBe('overlap');
    lines.insert(entry(0x3000, DMA_FROM_DEVICE, DMA_ATTR_REQUIRE_COHERENT));
    expect(lines.insert(entry(0x3000, DMA_FROM_DEVICE, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES))).toBe('exempt-overlap');
  });

  it('frees a line when unmaps balance maps', () => {
    const a = entry(0x1000);
    const b = entry(0x1000);
    lines.insert(a);
    lines.insert(b);
    lines.remove(a);
    expect(lines.size).toBe(1);
    lines.remove(b);
    expect(lines.size).toBe(0);
    expect(lines.insert(entry(0x1000))).toBe('inserted');
  });

  it('saturates at 7 overlaps and warns once', () => {
    const all = Array.from({ length: 10 }, () => entry(0x1000));
    for (const e of all) lines.insert(e);
    expect(warnings).toEqual(['exceeded 7 overlapping mappings of cacheline 0x0000000000000040']);
    // As in the kernel, the saturated line is released after 8 unmaps.
    for (let i = 0; i < 8; i++) lines.remove(all[i] as DmaDebugEntry);
    expect(lines.size).toBe(0);
  });

  it('after an early release, a late unmap counts against the line mapped again, as the kernel\'s lookup by line does', () => {
    const all = Array.from({ length: 10 }, () => entry(0x1000));
    for (const e of all) lines.insert(e);
    for (let i = 0; i < 8; i++) lines.remove(all[i] as DmaDebugEntry);
    expect(lines.size).toBe(0);
    expect(lines.insert(entry(0x1000))).toBe('inserted');
    expect(lines.size).toBe(1);
    // One of the two mappings the saturated counter lost track of.
    lines.remove(all[8] as DmaDebugEntry);
    expect(lines.size).toBe(0);
    expect(lines.insert(entry(0x1000))).toBe('inserted');
    // Removing the same entry twice changes nothing.
    lines.remove(all[8] as DmaDebugEntry);
    expect(lines.size).toBe(1);
  });

  it('keeps working across the sweep of idle lines', () => {
    const keep = entry(0x100000);
    lines.insert(keep);
    const many = Array.from({ length: 3000 }, (_, i) => entry(0x200000 + i * 64));
    for (const e of many) lines.insert(e);
    for (const e of many) lines.remove(e);
    expect(lines.size).toBe(1);
    expect(lines.insert(entry(0x100000))).toBe('overlap');
    expect(lines.insert(entry(0x200000))).toBe('inserted');
  });
});
