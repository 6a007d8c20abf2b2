import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaSetMaxSegSize } from '@kdma/dma-mapping';
import type { Machine } from '@kdma/dma-mapping';
import { firstDifference, pattern } from '@kdma/testkit';
import fc from 'fast-check';
import {
  sndDmaAllocDirPages,
  sndDmaBufferMmap,
  sndDmaBufferSync,
  sndDmaFreePages,
  sndDmaTypeName,
  sndSgbufGetAddr,
  sndSgbufGetChunkSize,
  SNDRV_DMA_SYNC_CPU,
  SNDRV_DMA_SYNC_DEVICE,
  SNDRV_DMA_TYPE_CONTINUOUS,
  SNDRV_DMA_TYPE_DEV,
  SNDRV_DMA_TYPE_DEV_SG,
  SNDRV_DMA_TYPE_DEV_WC,
  SNDRV_DMA_TYPE_NONCONTIG,
  SNDRV_DMA_TYPES,
  type SndDmaBuffer,
} from './index.js';

const KIB = 1024;
const MIB = 1024 * KIB;

const arches: [string, (options?: Record<string, unknown>) => Machine][] = [
  ['arm', (options = {}) => createArm({ dmaDebug: true, ...options })],
  ['x86', (options = {}) => createX86({ dmaDebug: true, ...options })],
];

/** Device reads of the whole buffer, following its bus segments. */
function deviceRead(dmab: SndDmaBuffer, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; ) {
    const n = sndSgbufGetChunkSize(dmab, offset, length - offset);
    dmab.dev.hw.dmaReadInto(sndSgbufGetAddr(dmab, offset), out, offset, n);
    offset += n;
  }
  return out;
}

function deviceWrite(dmab: SndDmaBuffer, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) {
    const n = sndSgbufGetChunkSize(dmab, offset, bytes.length - offset);
    dmab.dev.hw.dmaWrite(sndSgbufGetAddr(dmab, offset), bytes, offset, n);
    offset += n;
  }
}

describe.each(arches)('%s: every SNDRV_DMA_TYPE_* allocates, mmaps and frees', (_name, create) => {
  it.each(SNDRV_DMA_TYPES.map((type) => [sndDmaTypeName(type), type] as const))('%s', (_typeName, type) => {
    const m = create();
    const dev = m.createDevice({ name: 'snd0' });
    const before = m.mm.stats();
    const size = 3 * m.pageSize + 100;
    const dmab = sndDmaAllocDirPages(type, dev, DMA_TO_DEVICE, size);
    if (dmab === null) throw new Error('allocation failed');
    expect(dmab.bytes).toBe(4 * m.pageSize);
    // DEV_SG gets contiguous coherent memory when it can, and then is a DEV buffer.
    expect(dmab.type).toBe(type === SNDRV_DMA_TYPE_DEV_SG ? SNDRV_DMA_TYPE_DEV : type);

    // The kernel side writes; the device reads it (after the hand-over the kind needs).
    const fromCpu = pattern(dmab.bytes, type);
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_CPU);
    m.cpu.write(dmab.area, fromCpu);
    m.cpu.wmb();
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_DEVICE);
    if (type !== SNDRV_DMA_TYPE_CONTINUOUS || m.arch.name === 'x86') {
      // CONTINUOUS memory is cached and never synced: only a snooping device sees it.
      expect(firstDifference(deviceRead(dmab, dmab.bytes), fromCpu)).toBe(-1);
    }

    // A process maps it and its stores reach the device too.
    const process = m.createProcess();
    const uva = process.mmap(dmab.bytes, (vma) => sndDmaBufferMmap(dmab, vma));
    const fromUser = pattern(dmab.bytes, type + 50);
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_CPU);
    process.write(uva, fromUser);
    m.cpu.wmb();
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_DEVICE);
    expect(firstDifference(m.cpu.read(dmab.area, dmab.bytes), fromUser)).toBe(-1);
    if (type !== SNDRV_DMA_TYPE_CONTINUOUS || m.arch.name === 'x86') {
      expect(firstDifference(deviceRead(dmab, dmab.bytes), fromUser)).toBe(-1);
    }
    process.munmap(uva, dmab.bytes);

    sndDmaFreePages(dmab);
    expect(m.mm.stats()).toEqual(before);
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });

  it('maps DEV and DEV_WC with the page attributes the arch chooses, with no arch code in the shim', () => {
    const m = create();
    const dev = m.createDevice({ name: 'snd0' });
    const process = m.createProcess();
    const types = { dev: 'normal', wc: 'normal' };
    for (const type of [SNDRV_DMA_TYPE_DEV, SNDRV_DMA_TYPE_DEV_WC] as const) {
      const dmab = sndDmaAllocDirPages(type, dev, DMA_TO_DEVICE, 8 * KIB);
      if (dmab === null) throw new Error('allocation failed');
      const uva = process.mmap(dmab.bytes, (vma) => sndDmaBufferMmap(dmab, vma));
      types[type === SNDRV_DMA_TYPE_DEV ? 'dev' : 'wc'] = process.pgprotAt(uva);
      process.munmap(uva, dmab.bytes);
      sndDmaFreePages(dmab);
    }
    // ARM: pgprot_writecombine for DEV_WC and bufferable pgprot_dmacoherent for DEV; x86: the
    // coherent device keeps the cached protection (dma_pgprot), WRITE_COMBINE ignored.
    expect(types).toEqual(m.arch.name === 'arm' ? { dev: 'wc', wc: 'wc' } : { dev: 'normal', wc: 'normal' });
  });

  it('syncs NONCONTIG in the stream direction: captured bytes reach the CPU after SYNC_CPU', () => {
    const m = create();
    const dev = m.createDevice({ name: 'snd0' });
    const dmab = sndDmaAllocDirPages(SNDRV_DMA_TYPE_NONCONTIG, dev, DMA_FROM_DEVICE, 16 * KIB);
    if (dmab === null) throw new Error('allocation failed');
    expect(dmab.needSync).toBe(true);
    const process = m.createProcess();
    const uva = process.mmap(dmab.bytes, (vma) => sndDmaBufferMmap(dmab, vma));
    expect(process.pgprotAt(uva)).toBe('normal');
    for (let lap = 0; lap < 3; lap++) {
      const captured = pattern(dmab.bytes, 10 + lap);
      sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_DEVICE);
      deviceWrite(dmab, captured);
      sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_CPU);
      expect(firstDifference(process.read(uva, dmab.bytes), captured)).toBe(-1);
    }
    process.munmap(uva, dmab.bytes);
    sndDmaFreePages(dmab);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('DEV_SG falls back to scattered pages behind an sg table', () => {
  it.each(arches)('%s: 8 MiB with no contiguous block that large', (name, create) => {
    // Beyond the buddy allocator's largest block (MAX_ORDER 10: 4 MiB) and with no CMA.
    const m = create(name === 'arm' ? { cma: false } : {});
    const dev = m.createDevice({ name: 'snd0' });
    const before = m.mm.stats();
    const dmab = sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV_SG, dev, DMA_TO_DEVICE, 8 * MIB);
    if (dmab === null) throw new Error('allocation failed');
    expect(dmab.type).toBe(SNDRV_DMA_TYPE_DEV_SG);
    expect(dmab.privateData?.kind).toBe('sg-fallback');
    const sgt = dmab.privateData?.sgt;
    expect(sgt?.origNents).toBeGreaterThan(1);
    expect(sgt?.sgl.every((sg) => sg.length <= 65536)).toBe(true);
    expect(sndSgbufGetAddr(dmab, 0)).toBe(dmab.addr);

    const process = m.createProcess();
    const uva = process.mmap(dmab.bytes, (vma) => sndDmaBufferMmap(dmab, vma));
    const data = pattern(dmab.bytes, 7);
    process.write(uva, data);
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_DEVICE);
    expect(firstDifference(deviceRead(dmab, dmab.bytes), data)).toBe(-1);
    sndDmaBufferSync(dmab, SNDRV_DMA_SYNC_CPU);
    expect(firstDifference(m.cpu.read(dmab.area, dmab.bytes), data)).toBe(-1);
    process.munmap(uva, dmab.bytes);
    sndDmaFreePages(dmab);
    expect(m.mm.stats()).toEqual(before);
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('the allocator, for any kind and size', () => {
  it('gives page-aligned buffers whose bus segments cover them exactly, and takes everything back', () => {
    const m = createArm({ dmaDebug: true, cma: false });
    const dev = m.createDevice({ name: 'snd0' });
    // A NONCONTIG buffer is one DMA segment: a device must declare it takes segments that long,
    // or dma-debug reports it (CONFIG_DMA_API_DEBUG_SG), as in the kernel.
    dmaSetMaxSegSize(dev, 2 ** 32 - 1);
    const before = m.mm.stats();
    fc.assert(
      fc.property(
        fc.constantFrom(...SNDRV_DMA_TYPES),
        fc.constantFrom(DMA_TO_DEVICE, DMA_FROM_DEVICE),
        fc.integer({ min: 1, max: 6 * MIB }),
        (type, dir, size) => {
          const dmab = sndDmaAllocDirPages(type, dev, dir, size);
          // Only DEV_SG can do without a contiguous block beyond MAX_ORDER (4 MiB) with no CMA.
          if (dmab === null) return type !== SNDRV_DMA_TYPE_DEV_SG && size > 4 * MIB;
          expect(dmab.bytes).toBe(Math.ceil(size / m.pageSize) * m.pageSize);
          let covered = 0;
          while (covered < dmab.bytes) {
            const n = sndSgbufGetChunkSize(dmab, covered, dmab.bytes - covered);
            expect(n).toBeGreaterThan(0);
            expect(sndSgbufGetAddr(dmab, covered + n - 1)).toBe(sndSgbufGetAddr(dmab, covered) + n - 1);
            covered += n;
          }
          expect(covered).toBe(dmab.bytes);
          sndDmaFreePages(dmab);
          return true;
        },
      ),
      { numRuns: 60, seed: 7 },
    );
    expect(m.mm.stats()).toEqual(before);
    m.removeDevice(dev);
    expect(m.dmaDebug?.errors()).toEqual([]);
  });
});

describe('sndDmaAllocDirPages arguments', () => {
  it('rejects bad values by name and returns null when memory runs out', () => {
    const m = createArm();
    const dev = m.createDevice({ name: 'snd0' });
    expect(() => sndDmaAllocDirPages(4 as never, dev, DMA_TO_DEVICE, 4096)).toThrow(/type/);
    expect(() => sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV, dev, 7 as never, 4096)).toThrow(/dir/);
    expect(() => sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV, dev, DMA_TO_DEVICE, 0)).toThrow(/size/);
    expect(() => sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV, dev, DMA_TO_DEVICE, 1.5)).toThrow(/size/);
    expect(() => sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV, null as never, DMA_TO_DEVICE, 4096)).toThrow(/dev/);
    const before = m.mm.stats();
    expect(sndDmaAllocDirPages(SNDRV_DMA_TYPE_DEV_WC, dev, DMA_TO_DEVICE, 2 * 1024 * MIB)).toBeNull();
    expect(m.mm.stats()).toEqual(before);
  });
});
