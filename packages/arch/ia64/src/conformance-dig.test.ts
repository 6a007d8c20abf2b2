import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

describe('dig: swiotlb_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 dig' }, createMachine, machineOptions: { platform: 'dig' } });
});
describe('dig_vtd: intel_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 dig + intel-iommu' }, createMachine, machineOptions: { platform: 'dig', iommu: 'intel-iommu' } });
});
