import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, createMachine } from './index.js';

/*
 * alpha_pci_ops on a 4 GiB Tsunami. The kit's 32-bit devices get low memory (the page allocator
 * hands it out first), so they go through the direct window; devices that come up with a 31-bit
 * mask cannot reach 2 GiB + anything and go through the sg_pci arena, 24-bit ones through the
 * ISA window's arena.
 */
describe('tsunami: the direct window', () => {
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami' }, createMachine, machineOptions: { platform: 'tsunami' } });
});

function narrow(bits: number) {
  return (options: MachineOptions = {}): Machine => {
    const m = createMachine({ ...options, platform: 'tsunami' });
    const create = m.createDevice.bind(m);
    m.createDevice = (deviceOptions) => create({ dmaBits: bits, ...deviceOptions });
    return m;
  };
}

describe('tsunami: the sg_pci arena (31-bit devices)', () => {
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami (31-bit devices)' }, createMachine: narrow(31) });
});
describe('tsunami: the sg_isa arena (24-bit devices)', () => {
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami (24-bit devices)' }, createMachine: narrow(24) });
});
