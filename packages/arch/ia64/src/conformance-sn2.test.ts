import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

// sn_dma_ops: the kit's 32-bit devices reach node memory through the direct32 window.
describe('sn2: sn_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 sn2' }, createMachine, machineOptions: { platform: 'sn2' } });
});
