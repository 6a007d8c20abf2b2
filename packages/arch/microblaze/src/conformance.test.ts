import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

for (const platform of arch.platforms) {
  describe(`platform ${platform}`, () => {
    describeDmaConformance({ arch, createMachine, machineOptions: { platform } });
  });
}
describe('mmu with 32 KiB pages', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { pageSize: 32768 } });
});
