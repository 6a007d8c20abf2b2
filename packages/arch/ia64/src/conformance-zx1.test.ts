import { describe } from '@jest/globals';
import { describeDmaConformance, type KernelRefusals } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

// sba_dma_ops on an HP zx1: the kit's 32-bit devices bypass for low memory and go through the
// pdir above 4 GiB; once with the default IOVP size (16 KiB, the page size) and once with 4 KiB.
// sba_search_bitmap skips every pdir range that would cross the device's segment boundary
// (iommu_is_span_boundary), so a segment longer than the boundary window that must go through the
// pdir is refused ("out of mapping resources"); a bypassed one is mapped as it is.
const kernelRefuses: KernelRefusals = { segmentAcrossBoundary: { sba_dma_ops: 'when-remapped' } };
describe('hpzx1: sba_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1' }, createMachine, machineOptions: { platform: 'hpzx1' }, kernelRefuses });
});
describe('hpzx1 with sbapagesize=4k', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1 (4K IOVP)' }, createMachine, machineOptions: { platform: 'hpzx1', sbaPageSize: 4096 }, kernelRefuses });
});
