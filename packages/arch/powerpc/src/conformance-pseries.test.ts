import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';
import { MIB } from './test-machines.js';

/*
 * The conformance kit on pSeries, for each way a device gets its ops. A TCE table allocates with
 * iommu_area_alloc, which never lets a mapping cross the device's segment boundary: the kit's
 * dma-debug scene for a segment longer than the boundary expects the mapping to succeed and be
 * reported, but dma_iommu_ops refuse it ("iommu_alloc failed") — pseries.test.ts asserts that.
 * An ibmebus adapter accepts only a 64-bit mask (ibmebus_dma_supported), so the kit's 32-bit
 * device gets -EIO — asserted in pseries.test.ts.
 */

const REFUSES_BOUNDARY = '[kernel refuses: reports sg-segment-across-boundary]';

describe(`pseries, PCI on dma_iommu_ops ${REFUSES_BOUNDARY}`, () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'pseries' } });
});

describe(`pseries, VIO on vio_dma_mapping_ops (CMO) ${REFUSES_BOUNDARY}`, () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'pseries', defaultBus: 'vio', cmo: 64 * MIB } });
});

describe('pseries, GX bus on ibmebus_dma_ops [kernel refuses: serves a 32-bit device only memory it can reach]', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'pseries', defaultBus: 'ibmebus' } });
});
