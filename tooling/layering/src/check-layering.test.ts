import { describe, expect, it } from '@jest/globals';
import { checkLayering, layerOf } from './check-layering.js';

const folders = new Map([
  ['@kdma/hw', 'packages/hw'],
  ['@kdma/mm', 'packages/mm'],
  ['@kdma/dma-attrs', 'packages/dma-attrs'],
  ['@kdma/scatterlist', 'packages/scatterlist'],
  ['@kdma/swiotlb', 'packages/swiotlb'],
  ['@kdma/dma-mapping', 'packages/dma-mapping'],
  ['@kdma/iommu', 'packages/iommu'],
  ['@kdma/arch-arm', 'packages/arch/arm'],
  ['@kdma/arch-x86', 'packages/arch/x86'],
  ['@kdma/v4l2', 'packages/drivers/v4l2'],
  ['@kdma/alsa', 'packages/drivers/alsa'],
  ['@kdma/cli', 'packages/tools/cli'],
  ['@kdma/tsconfig', 'tooling/tsconfig'],
]);

const check = (path: string, text: string) => checkLayering([{ path, text }], folders);

describe('checkLayering', () => {
  it('accepts imports the table allows', () => {
    expect(check('packages/mm/src/buddy.ts', "import { alignUp } from '@kdma/hw';")).toEqual([]);
    expect(check('packages/drivers/v4l2/src/vb2.ts', "import { dmaAllocAttrs } from '@kdma/dma-mapping';")).toEqual([]);
    expect(check('packages/arch/arm/src/index.ts', "export { buildMachine } from '@kdma/dma-mapping/ops';")).toEqual([]);
    expect(check('packages/tools/cli/src/main.ts', "import { createMachine } from '@kdma/arch-arm';")).toEqual([]);
    expect(check('packages/hw/src/index.ts', "import { readFileSync } from 'node:fs';")).toEqual([]);
  });

  it('rejects an import of a higher layer', () => {
    const violations = check('packages/hw/src/ram.ts', "import { kmalloc } from '@kdma/mm';\n");
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ file: 'packages/hw/src/ram.ts', line: 1, specifier: '@kdma/mm' });
    expect(violations[0]?.reason).toContain('layer hw may not import layer mm');
  });

  it('rejects a driver that reaches for the provider API, even a type-only import', () => {
    const text = "// drivers use the consumer API\nimport type { DmaMapOps } from '@kdma/dma-mapping/ops';\n";
    const violations = check('packages/drivers/alsa/src/pcm.ts', text);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.line).toBe(2);
    expect(violations[0]?.reason).toContain('only the consumer API');
  });

  it('rejects drivers importing swiotlb, iommu or an arch, and arches importing each other', () => {
    for (const specifier of ['@kdma/swiotlb', '@kdma/iommu', '@kdma/arch-x86']) {
      expect(check('packages/drivers/v4l2/src/q.ts', `export * from '${specifier}';`)).toHaveLength(1);
    }
    expect(check('packages/arch/arm/src/x.ts', "const x = require('@kdma/arch-x86');")).toHaveLength(1);
    expect(check('packages/arch/arm/src/x.ts', "const x = await import('@kdma/arch-x86');")).toHaveLength(1);
  });

  it('rejects relative imports that leave the package', () => {
    const violations = check('packages/mm/src/vmalloc.ts', "import { ram } from '../../hw/src/ram.js';");
    expect(violations[0]?.reason).toContain('relative import leaves packages/mm');
    expect(check('packages/mm/src/vmalloc.ts', "import { x } from './page-alloc.js';")).toEqual([]);
  });

  it('ignores tests, comments and tooling imports outside the table', () => {
    expect(check('packages/hw/src/ram.test.ts', "import { createMachine } from '@kdma/arch-arm';")).toEqual([]);
    expect(check('packages/dma-mapping/src/test-machine.ts', "import { createMachine } from '@kdma/arch-arm';")).toEqual([]);
    expect(check('packages/drivers/net/src/__tests__/rig.ts', "import { pattern } from '@kdma/testkit';")).toEqual([]);
    expect(check('packages/hw/src/ram.ts', "/* import { x } from '@kdma/mm'; */\n// require('@kdma/iommu')")).toEqual([]);
    expect(check('packages/hw/src/ram.ts', "import cfg from '@kdma/tsconfig';")[0]?.reason).toContain('not importable');
  });

  it('places grouped folders in their layer', () => {
    expect(layerOf('packages/arch/mips')?.name).toBe('arch');
    expect(layerOf('packages/drivers/net')?.name).toBe('drivers');
    expect(layerOf('packages/dma-mapping')?.name).toBe('dma-mapping');
    expect(layerOf('packages/unknown')).toBeUndefined();
  });
});
