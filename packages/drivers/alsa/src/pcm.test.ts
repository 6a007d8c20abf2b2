import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import { firstDifference } from '@kdma/testkit';
import {
  createPcmDmaCard,
  sndDmaTypeName,
  SNDRV_DMA_TYPE_DEV,
  SNDRV_DMA_TYPE_DEV_SG,
  SNDRV_DMA_TYPE_DEV_WC,
  SNDRV_DMA_TYPE_NONCONTIG,
  SNDRV_PCM_INFO_EXPLICIT_SYNC,
  SndPcmUser,
  type SndDmaType,
} from './index.js';
import { runCapture, runPlayback, teardown } from './__tests__/stream.js';

const KIB = 1024;
const arches: [string, () => Machine][] = [
  ['arm', () => createArm({ dmaDebug: true })],
  ['x86', () => createX86({ dmaDebug: true })],
];

describe.each(arches)('%s: a DEV_WC playback stream', (name, create) => {
  it('delivers every sample the process wrote, in order, to the device', () => {
    const m = create();
    const result = runPlayback(m, { type: SNDRV_DMA_TYPE_DEV_WC, totalBytes: 200 * 4 * KIB });
    expect(result.actual.length).toBe(result.expected.length);
    expect(firstDifference(result.actual, result.expected)).toBe(-1);
    // The same driver; the DMA API picks the mapping: write-combine on ARM, cached on x86 (a
    // coherent device keeps the cached protection; no x86-only code in the shim).
    expect(result.pgprot).toBe(name === 'arm' ? 'wc' : 'normal');
    expect(result.card.playback?.runtime?.xruns).toBe(0);
    // 200 periods of 1024 frames at 48 kHz, plus the ring's worth played out by the drain.
    expect(result.elapsedNs).toBeGreaterThanOrEqual(Math.floor((196 * 1024 * 1e9) / 48000));
    teardown(m, result);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('records a capture stream the process reads back intact', () => {
    const m = create();
    const result = runCapture(m, { type: SNDRV_DMA_TYPE_DEV_WC, totalBytes: 100 * 4 * KIB });
    expect(firstDifference(result.actual, result.expected)).toBe(-1);
    expect(result.pgprot).toBe(name === 'arm' ? 'wc' : 'normal');
    teardown(m, result);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

const kinds: [string, SndDmaType, Record<string, unknown>][] = [
  [sndDmaTypeName(SNDRV_DMA_TYPE_DEV), SNDRV_DMA_TYPE_DEV, {}],
  [sndDmaTypeName(SNDRV_DMA_TYPE_DEV_WC), SNDRV_DMA_TYPE_DEV_WC, {}],
  [sndDmaTypeName(SNDRV_DMA_TYPE_NONCONTIG), SNDRV_DMA_TYPE_NONCONTIG, {}],
  // A large preallocation with no CMA: DEV_SG falls back to scattered pages, one segment each.
  ['SNDRV_DMA_TYPE_DEV_SG (sg fallback)', SNDRV_DMA_TYPE_DEV_SG, { cma: false, preallocBytes: 6 * 1024 * KIB }],
];

describe.each(kinds)('arm: streams through %s', (_name, type, extra) => {
  const machine = () => createArm({ dmaDebug: true, ...(extra['cma'] === false ? { cma: false } : {}) });
  const prealloc = typeof extra['preallocBytes'] === 'number' ? { preallocBytes: extra['preallocBytes'] } : {};

  it('plays intact', () => {
    const m = machine();
    const result = runPlayback(m, { type, totalBytes: 64 * 4 * KIB, ...prealloc });
    expect(firstDifference(result.actual, result.expected)).toBe(-1);
    const runtime = result.card.playback?.runtime;
    expect(((runtime?.info ?? 0) & SNDRV_PCM_INFO_EXPLICIT_SYNC) !== 0).toBe(type === SNDRV_DMA_TYPE_NONCONTIG || type === SNDRV_DMA_TYPE_DEV_SG);
    teardown(m, result);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('captures intact', () => {
    const m = machine();
    const result = runCapture(m, { type, totalBytes: 64 * 4 * KIB, ...prealloc });
    expect(firstDifference(result.actual, result.expected)).toBe(-1);
    teardown(m, result);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('arm with an IOMMU (arm-smmu)', () => {
  it.each([
    [sndDmaTypeName(SNDRV_DMA_TYPE_DEV_WC), SNDRV_DMA_TYPE_DEV_WC],
    [sndDmaTypeName(SNDRV_DMA_TYPE_NONCONTIG), SNDRV_DMA_TYPE_NONCONTIG],
  ] as const)('%s plays and captures intact, with no IOVA left behind', (_name, type) => {
    const m = createArm({ dmaDebug: true, iommu: 'arm-smmu' });
    const play = runPlayback(m, { type, totalBytes: 32 * 4 * KIB, iommu: true });
    expect(firstDifference(play.actual, play.expected)).toBe(-1);
    teardown(m, play);
    const cap = runCapture(m, { type, totalBytes: 32 * 4 * KIB, iommu: true });
    expect(firstDifference(cap.actual, cap.expected)).toBe(-1);
    teardown(m, cap);
    expect(m.iommu?.stats().faults).toBe(0);
    expect(m.iommu?.stats().mappedBytes).toBe(0);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('the bugs option: what the machine catches', () => {
  it("'no-wmb': on ARM the last samples are still in the write buffer when the device reads them", () => {
    const m = createArm({ dmaDebug: true });
    const result = runPlayback(m, { type: SNDRV_DMA_TYPE_DEV_WC, totalBytes: 32 * 4 * KIB, bugs: ['no-wmb'] });
    const diff = firstDifference(result.actual, result.expected);
    expect(diff).not.toBe(-1);
    // Only the tail the write-combine buffer held (8 entries of 64 bytes) went missing.
    expect(diff).toBeGreaterThanOrEqual(result.expected.length - 8 * 64);
    teardown(m, result);
  });

  it("'no-wmb' is harmless on x86, where the ring is mapped cached", () => {
    const m = createX86({ dmaDebug: true });
    const result = runPlayback(m, { type: SNDRV_DMA_TYPE_DEV_WC, totalBytes: 32 * 4 * KIB, bugs: ['no-wmb'] });
    expect(firstDifference(result.actual, result.expected)).toBe(-1);
    teardown(m, result);
  });

  it("'no-sync-for-device': the device plays stale memory and dma-debug sees it read a CPU-owned buffer", () => {
    const m = createArm({ dmaDebug: true });
    const result = runPlayback(m, { type: SNDRV_DMA_TYPE_NONCONTIG, totalBytes: 16 * 4 * KIB, bugs: ['no-sync-for-device'] });
    expect(firstDifference(result.actual, result.expected)).not.toBe(-1);
    expect(m.dmaDebug?.errors().map((e) => e.kind)).toContain('device-access-cpu-owned');
    teardown(m, result);
  });

  it("'no-sync-for-cpu': dma-debug sees the process read captured samples the device still owns", () => {
    const m = createArm({ dmaDebug: true });
    const result = runCapture(m, { type: SNDRV_DMA_TYPE_NONCONTIG, totalBytes: 16 * 4 * KIB, bugs: ['no-sync-for-cpu'] });
    expect(m.dmaDebug?.errors().map((e) => e.kind)).toContain('cpu-access-device-owned');
    teardown(m, result);
  });

  it('rejects unknown bugs by name', () => {
    const m = createArm();
    const dev = m.createDevice({ name: 'snd0' });
    expect(() => createPcmDmaCard(dev, { bugs: ['no-barrier' as never] })).toThrow(/no-barrier/);
  });
});

describe('the PCM state machine', () => {
  it('follows the kernel: hw_params before prepare, start from PREPARED, an xrun when the process stops feeding', () => {
    const m = createArm({ dmaDebug: true });
    const dev = m.createDevice({ name: 'snd0' });
    const card = createPcmDmaCard(dev, { capture: false });
    const sub = card.playback;
    if (sub === null) throw new Error('no playback');
    expect(sub.prepare()).toBe(-77);
    expect(sub.open()).toBe(0);
    expect(sub.open()).toBe(-16);
    expect(sub.prepare()).toBe(-77);
    expect(sub.hwParams({ rate: 48000, channels: 2, format: 'S16_LE', periodBytes: 4096, periods: 4 })).toBe(0);
    expect(() => sub.hwParams({ rate: 48000, channels: 2, format: 'S16_LE', periodBytes: 4094, periods: 4 })).toThrow(/periodBytes/);
    expect(() => sub.hwParams({ rate: 48000, channels: 2, format: 'S99' as never, periodBytes: 4096, periods: 4 })).toThrow(/format/);
    // More than the buffer may grow to.
    expect(sub.hwParams({ rate: 48000, channels: 2, format: 'S16_LE', periodBytes: 4 * KIB * KIB, periods: 4 })).toBe(-22);
    expect(sub.prepare()).toBe(0);
    expect(sub.state).toBe('PREPARED');
    // Nothing queued: START is refused with -EPIPE.
    expect(sub.trigger('start')).toBe(-32);
    const user = new SndPcmUser(sub, m.createProcess(), { cpu: 1 });
    expect(user.writeFrames(new Uint8Array(2 * 4096))).toBe(2048);
    expect(user.start()).toBe(0);
    expect(sub.state).toBe('RUNNING');
    let periods = 0;
    sub.onPeriodElapsed(() => periods++);
    const periodNs = Math.ceil((1024 * 1e9) / 48000);
    m.clock.advance(periodNs);
    expect(periods).toBe(1);
    expect(sub.pointer()).toBe(1024);
    m.clock.advance(periodNs);
    // Both queued periods played and no more came: the kernel stops the stream with an xrun.
    expect(sub.state).toBe('XRUN');
    expect(sub.runtime?.xruns).toBe(1);
    expect(user.availUpdate()).toBe(-32);
    expect(sub.prepare()).toBe(0);
    user.unmap();
    card.free();
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});
