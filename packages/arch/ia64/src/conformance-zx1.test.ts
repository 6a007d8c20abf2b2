import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

// sba_dma_ops on an HP zx1: the kit's 32-bit devices bypass for low memory and go through the
// pdir above 4 GiB; once with the default IOVP size (16 KiB, the page size) and once with 4 KiB.
describe('hpzx1: sba_dma_ops', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1' }, createMachine, machineOptions: { platform: 'hpzx1' } });
});
describe('hpzx1 with sbapagesize=4k', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1 (4K IOVP)' }, createMachine, machineOptions: { platform: 'hpzx1', sbaPageSize: 4096 } });
});
