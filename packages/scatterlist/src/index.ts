export {
  SG_UINT_MAX,
  sgEntry,
  sgAllocTable,
  sgFreeTable,
  sgInitTable,
  sgSetPage,
  sgPhys,
  sgDmaAddress,
  sgDmaLen,
  forEachSg,
  sgEntries,
  forEachSgtableSg,
  forEachSgtableDmaSg,
  sgNents,
  sgNentsForLen,
  sgLast,
  sgDmaLenTotal,
} from './scatterlist.js';
export type { Scatterlist, SgTable } from './scatterlist.js';
export {
  SG_DEFAULT_PAGE_SIZE,
  SG_DEFAULT_MAX_SEGMENT,
  createSgAppendTable,
  sgFreeAppendTable,
  sgAllocAppendTableFromPages,
  sgAllocTableFromPagesSegment,
  sgAllocTableFromPages,
} from './sg-alloc-table-from-pages.js';
export type { SgAppendTable } from './sg-alloc-table-from-pages.js';
export {
  sgCopyFromBuffer,
  sgCopyToBuffer,
  sgPcopyFromBuffer,
  sgPcopyToBuffer,
  sgSetBuf,
  sgInitOne,
} from './sg-copy.js';
export type { SgCpu, SgMm, SgVirtMm } from './sg-copy.js';
