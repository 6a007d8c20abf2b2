import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine, MIPS_PLATFORM_NAMES } from './index.js';

for (const platform of MIPS_PLATFORM_NAMES.filter((name) => name !== 'octeon')) {
  describe(`platform ${platform}, dma-direct`, () => {
    describeDmaConformance({ arch, createMachine, machineOptions: { platform } });
  });
}
