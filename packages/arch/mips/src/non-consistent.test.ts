import { describe, expect, it } from '@jest/globals';
import { createMachine as createX86Machine } from '@kdma/arch-x86';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaAllocNoncoherent, dmaCacheSync, dmaFreeNoncoherent, type Device } from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping/ops';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine } from './index.js';

const SIZE = 4096;

/**
 * A 2011-style driver, written once against the consumer API: a command block in
 * `dma_alloc_noncoherent` memory that it hands to the device and takes back, with
 * `dma_cache_sync` at each hand-over unless `sync` is false.
 */
function exchange(m: Machine, dev: Device, sync: boolean): { deviceSaw: Uint8Array; cpuSaw: Uint8Array; command: Uint8Array; reply: Uint8Array } {
  const buf = dmaAllocNoncoherent(dev, SIZE);
  if (buf === null) throw new Error('dmaAllocNoncoherent failed');
  const command = pattern(SIZE, 11);
  m.cpu.write(buf.cpuAddr, command);
  if (sync) dmaCacheSync(dev, buf.cpuAddr, SIZE, DMA_TO_DEVICE);
  const deviceSaw = dev.hw.dmaRead(buf.dmaHandle, SIZE);
  const reply = pattern(SIZE, 12);
  dev.hw.dmaWrite(buf.dmaHandle, reply);
  if (sync) dmaCacheSync(dev, buf.cpuAddr, SIZE, DMA_FROM_DEVICE);
  const cpuSaw = m.cpu.read(buf.cpuAddr, SIZE);
  dmaFreeNoncoherent(dev, SIZE, buf.cpuAddr, buf.dmaHandle);
  return { deviceSaw, cpuSaw, command, reply };
}

function cacheOps(m: Machine): number {
  const c = m.hw.counters;
  return c.cacheCleans + c.cacheInvalidates + c.cacheFlushes;
}

describe('DMA_ATTR_NON_CONSISTENT: honoured on mips, ignored on x86', () => {
  it('gives mips cacheable memory: without dma_cache_sync the device and the CPU read stale bytes', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'sgiseeq' });
    const run = exchange(m, dev, false);
    expect(firstDifference(run.deviceSaw, run.command)).not.toBe(-1);
    expect(firstDifference(run.cpuSaw, run.reply)).not.toBe(-1);
    // What the CPU sees is its own command, still in the cache.
    expect(firstDifference(run.cpuSaw, run.command)).toBe(-1);
  });

  it('gives mips the right bytes in both directions with dma_cache_sync', () => {
    const m = createMachine({ dmaDebug: true });
    const dev = m.createDevice({ name: 'sgiseeq' });
    const before = cacheOps(m);
    const run = exchange(m, dev, true);
    expect(firstDifference(run.deviceSaw, run.command)).toBe(-1);
    expect(firstDifference(run.cpuSaw, run.reply)).toBe(-1);
    expect(cacheOps(m)).toBeGreaterThan(before);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('gives x86 coherent memory, where the same driver is right with or without the sync, which does nothing', () => {
    for (const sync of [false, true]) {
      const m = createX86Machine({ dmaDebug: true });
      const dev = m.createDevice({ name: 'e1000' });
      const before = cacheOps(m);
      const run = exchange(m, dev, sync);
      expect(firstDifference(run.deviceSaw, run.command)).toBe(-1);
      expect(firstDifference(run.cpuSaw, run.reply)).toBe(-1);
      expect(cacheOps(m)).toBe(before);
      expect(m.dmaDebug?.errors()).toEqual([]);
    }
  });

  it('makes dma_cache_sync a no-op for a coherent MIPS board too', () => {
    const m = createMachine({ platform: 'ip27' });
    const dev = m.createDevice({ name: 'ioc3' });
    const before = cacheOps(m);
    for (const sync of [false, true]) {
      const run = exchange(m, dev, sync);
      expect(firstDifference(run.deviceSaw, run.command)).toBe(-1);
      expect(firstDifference(run.cpuSaw, run.reply)).toBe(-1);
    }
    expect(cacheOps(m)).toBe(before);
  });
});
