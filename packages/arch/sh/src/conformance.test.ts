import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine, SH_PLATFORM_NAMES } from './index.js';

for (const platform of SH_PLATFORM_NAMES) {
  describe(`platform ${platform}`, () => {
    describeDmaConformance({ arch, createMachine, machineOptions: { platform } });
  });
}
describe('sh4 with 8 KiB pages', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { pageSize: 8192 } });
});
