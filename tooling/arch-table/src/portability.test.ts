import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_WRITE_COMBINE } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';
import { firstDifference, pattern } from '@kdma/testkit';
import { discoverArchPackages, findWorkspaceRoot, loadArchModule } from './arch-packages.js';
import { captureThroughMmap } from './pcm-capture.js';

/*
 * The portability the seed was after: one ALSA-style capture (pcm-capture.ts, consumer API only)
 * on every arch package found under packages/arch, on each of its platforms (and, where coherence
 * is per device, on a coherent and a non-coherent device), with dma-debug on. Every run must hand
 * the process the same bytes; the user mapping's memory type is each arch's own.
 */

const packages = discoverArchPackages(findWorkspaceRoot());

// 48 kHz, 16-bit stereo, 25 ms periods, four of them: 19200 bytes, a whole number of pages nowhere.
const PERIOD_BYTES = 4800;
const periods = [1, 2, 3, 4].map((seed) => pattern(PERIOD_BYTES, seed));
const stream = new Uint8Array(PERIOD_BYTES * periods.length);
periods.forEach((period, i) => stream.set(period, i * PERIOD_BYTES));

/** The user pgprot each run got, by `arch platform [device]`: the snapshot records them. */
const userPgprots: Record<string, string> = {};
const captured = new Map<string, Uint8Array>();

function coherenceVariants(arch: ArchFacts): (boolean | undefined)[] {
  return arch.coherent === 'per-device' ? [true, false] : [undefined];
}

/**
 * The user mapping's memory type, from the facts: plain cacheable pages for a coherent device;
 * for a non-coherent one write-combined where the arch honours DMA_ATTR_WRITE_COMBINE, else its
 * pgprot_dmacoherent, which the facts do not give — uncached or write-combined.
 */
function expectedUserPgprots(arch: ArchFacts, deviceCoherent: boolean): readonly string[] {
  if (deviceCoherent) return ['normal'];
  if ((arch.honouredAttrs & DMA_ATTR_WRITE_COMBINE) !== 0) return ['wc'];
  return ['uncached', 'wc'];
}

describe('an ALSA-style capture written once against the consumer API', () => {
  it('finds the arch packages by folder', () => {
    expect(packages.map((pkg) => pkg.name)).toContain('@kdma/arch-x86');
    expect(packages.map((pkg) => pkg.name)).toContain('@kdma/arch-arm');
  });

  for (const pkg of packages) {
    it(`${pkg.folder}: allocate WC → mmap → device writes → process reads, on every platform`, async () => {
      const { arch, createMachine } = await loadArchModule(pkg);
      for (const platform of arch.platforms) {
        for (const coherent of coherenceVariants(arch)) {
          const label = `${arch.name} ${platform}${coherent === undefined ? '' : coherent ? ' (coherent device)' : ' (non-coherent device)'}`;
          const m = createMachine({ dmaDebug: true, platform });
          const dev = m.createDevice({ name: 'pcm0', ...(coherent === undefined ? {} : { coherent }) });
          if (arch.coherent === 'always') expect({ label, coherent: dev.dmaCoherent }).toEqual({ label, coherent: true });
          if (arch.coherent === 'never') expect({ label, coherent: dev.dmaCoherent }).toEqual({ label, coherent: false });

          const result = captureThroughMmap(dev, m.createProcess(), periods);

          expect({ label, silence: firstDifference(result.before, new Uint8Array(stream.length)) }).toEqual({ label, silence: -1 });
          expect({ label, firstWrongByte: firstDifference(result.captured, stream) }).toEqual({ label, firstWrongByte: -1 });
          expect({ label, userPgprot: expectedUserPgprots(arch, dev.dmaCoherent).includes(result.userPgprot) }).toEqual({
            label,
            userPgprot: true,
          });
          expect(m.dmaDebug).not.toBeNull();
          expect({ label, reports: m.dmaDebug?.errors() }).toEqual({ label, reports: [] });
          userPgprots[label] = result.userPgprot;
          captured.set(label, result.captured);
        }
      }
    });
  }

  it('gave every architecture the same bytes, and records each one’s user pgprot', () => {
    const arches = new Set(Object.keys(userPgprots).map((label) => label.split(' ')[0]));
    expect(arches.size).toBe(packages.length);
    const [first, ...rest] = [...captured.values()];
    expect(first).toBeDefined();
    for (const bytes of rest) expect(first !== undefined && firstDifference(bytes, first)).toBe(-1);
    expect(userPgprots).toMatchSnapshot();
  });
});
