/**
 * DESIGN.md's layering table. A package's layer comes from its folder; `mayImport` lists the
 * layers its `src/**` (tests excluded) may import. Entries are checked in order, so a
 * sub-path rule (drivers may take `@kdma/dma-mapping` but not `@kdma/dma-mapping/ops`) is
 * expressed by `forbiddenSubpaths`.
 */
export interface Layer {
  /** The layer's name: the package folder, or `arch`/`drivers`/`tools` for the groups. */
  readonly name: string;
  /** Folder (relative to the repository root) whose packages form this layer; `*` for a group. */
  readonly folder: string;
  readonly mayImport: readonly string[];
  /** Sub-path imports forbidden even though their package's layer is allowed. */
  readonly forbiddenSubpaths?: readonly string[];
}

const base = ['hw', 'dma-attrs', 'mm', 'scatterlist', 'swiotlb', 'dma-mapping'] as const;

export const layers: readonly Layer[] = [
  { name: 'hw', folder: 'packages/hw', mayImport: [] },
  { name: 'dma-attrs', folder: 'packages/dma-attrs', mayImport: [] },
  { name: 'mm', folder: 'packages/mm', mayImport: ['hw'] },
  { name: 'scatterlist', folder: 'packages/scatterlist', mayImport: ['hw', 'mm'] },
  { name: 'swiotlb', folder: 'packages/swiotlb', mayImport: ['hw', 'mm', 'dma-attrs'] },
  {
    name: 'dma-mapping',
    folder: 'packages/dma-mapping',
    mayImport: ['hw', 'mm', 'scatterlist', 'dma-attrs', 'swiotlb'],
  },
  { name: 'iommu', folder: 'packages/iommu', mayImport: [...base] },
  { name: 'arch', folder: 'packages/arch/*', mayImport: [...base, 'iommu'] },
  {
    name: 'drivers',
    folder: 'packages/drivers/*',
    mayImport: ['dma-mapping', 'dma-attrs', 'mm', 'scatterlist', 'hw'],
    forbiddenSubpaths: ['@kdma/dma-mapping/ops'],
  },
  { name: 'tools', folder: 'packages/tools/*', mayImport: [...base, 'iommu', 'arch', 'drivers', 'tools'] },
];
