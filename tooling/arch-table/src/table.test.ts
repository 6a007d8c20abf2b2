import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_WRITE_COMBINE } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';
import { conformanceCell, parseConformanceRecord, type ConformanceRecord } from './conformance-record.js';
import { BEGIN_MARKER, END_MARKER, extractSection, formatBytes, renderSection, replaceSection, rowCells } from './table.js';

const facts: ArchFacts = {
  name: 'toy',
  pageSizes: [16384, 4096],
  cacheLineSize: 128,
  dmaMinAlign: 128,
  coherent: 'per-platform',
  physAddrBits: 40,
  zones: [],
  honouredAttrs: DMA_ATTR_WRITE_COMBINE | DMA_ATTR_NO_KERNEL_MAPPING,
  iommus: [],
  platforms: ['a', 'b'],
  ops: ['dma_direct_ops', 'toy_iommu_ops'],
};

const record = (...blocks: [title: string, passed: number, failed: number, skipped: number][]): ConformanceRecord => ({
  files: [{ file: 'src/conformance.test.ts', failedToRun: false, blocks: blocks.map(([title, passed, failed, skipped]) => ({ title, passed, failed, skipped })) }],
});

describe('conformanceCell', () => {
  it('says "not run" without a record or without a kit test in it', () => {
    expect(conformanceCell(null)).toBe('not run');
    expect(conformanceCell({ files: [] })).toBe('not run');
    expect(conformanceCell(record(['toy: DMA API conformance', 0, 0, 7]))).toBe('not run');
  });

  it('says "passes" only when every kit test ran and passed', () => {
    expect(conformanceCell(record(['a › toy: DMA API conformance', 10, 0, 0], ['a › toy: dma-debug', 3, 0, 0], ['b › toy: DMA API conformance', 10, 0, 0]))).toBe(
      'passes (23 tests on 2 configurations)',
    );
    expect(conformanceCell(record(['toy: DMA API conformance', 1, 0, 2]))).toBe('passes (1 test on 1 configuration, 2 skipped)');
  });

  it('says "fails" when a kit test failed or a test file did not run', () => {
    expect(conformanceCell(record(['toy: DMA API conformance', 9, 1, 0]))).toBe('fails (1 of 10 tests)');
    const crashed: ConformanceRecord = { files: [...record(['toy: DMA API conformance', 9, 0, 0]).files, { file: 'src/x.test.ts', failedToRun: true, blocks: [] }] };
    expect(conformanceCell(crashed)).toBe('fails (src/x.test.ts did not run)');
  });

  it('refuses a record of the wrong shape, naming it', () => {
    expect(() => parseConformanceRecord({}, 'x.json')).toThrow(/x\.json: "files"/);
    expect(() => parseConformanceRecord({ files: [{ file: 'f', failedToRun: false, blocks: [{ title: 't', passed: -1, failed: 0, skipped: 0 }] }] }, 'y.json')).toThrow(
      /y\.json: files\[0\]\.blocks\[0\]/,
    );
  });
});

describe('the table', () => {
  it('formats sizes', () => {
    expect([formatBytes(32), formatBytes(4096), formatBytes(2 ** 21), formatBytes(1536)]).toEqual(['32 B', '4 KiB', '2 MiB', '1536 B']);
  });

  it('fills a row from the facts and the record', () => {
    expect(rowCells({ folder: 'packages/arch/toy', facts, conformance: null })).toEqual([
      '[toy](packages/arch/toy)',
      'per platform',
      '16 KiB, 4 KiB',
      '128 B',
      '`dma_direct_ops`, `toy_iommu_ops`',
      '`DMA_ATTR_WRITE_COMBINE`, `DMA_ATTR_NO_KERNEL_MAPPING`',
      'not run',
    ]);
    expect(rowCells({ folder: 'f', facts: { ...facts, honouredAttrs: 0, ops: [] }, conformance: null }).slice(4, 6)).toEqual(['none', 'none']);
  });

  it('puts the section after the Packages section, then replaces it in place', () => {
    const readme = '# x\n\n## Packages\n\n| a |\n\n## Working on it\n\ntext\n';
    const section = renderSection([{ folder: 'packages/arch/toy', facts, conformance: null }]);
    const first = replaceSection(readme, section);
    expect(first.indexOf(BEGIN_MARKER)).toBeGreaterThan(first.indexOf('| a |'));
    expect(first.indexOf(END_MARKER)).toBeLessThan(first.indexOf('## Working on it'));
    expect(extractSection(first)).toBe(section);
    const other = `${BEGIN_MARKER}\nold\n${END_MARKER}`;
    const second = replaceSection(first, other);
    expect(extractSection(second)).toBe(other);
    expect(replaceSection(second, section)).toBe(first);
    expect(() => replaceSection(`${END_MARKER}\n${BEGIN_MARKER}`, section)).toThrow(/broken arch table/);
  });
});
