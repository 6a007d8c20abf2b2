import { describe } from '@jest/globals';
import { describeDmaConformance, type KernelRefusals } from '@kdma/testkit';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, createMachine } from './index.js';

/*
 * alpha_pci_ops on a 4 GiB Tsunami. The kit's 32-bit devices get low memory (the page allocator
 * hands it out first), so they go through the direct window; devices that come up with a 31-bit
 * mask cannot reach 2 GiB + anything and go through the sg_pci arena, 24-bit ones through the
 * ISA window's arena.
 *
 * An arena allocates with iommu_arena_find_pages, which skips every run that would cross the
 * device's segment boundary (iommu_is_span_boundary): a segment longer than the boundary window is
 * never placed, and pci_map_sg fails ("could not allocate dma page tables"). The direct window maps
 * such a segment as it is, for dma-debug to report.
 */
const kernelRefuses: KernelRefusals = { segmentAcrossBoundary: { alpha_pci_ops: 'when-remapped' } };
describe('tsunami: the direct window', () => {
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami' }, createMachine, machineOptions: { platform: 'tsunami' }, kernelRefuses });
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
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami (31-bit devices)' }, createMachine: narrow(31), kernelRefuses });
});
describe('tsunami: the sg_isa arena (24-bit devices)', () => {
  describeDmaConformance({ arch: { ...arch, name: 'alpha tsunami (24-bit devices)' }, createMachine: narrow(24), kernelRefuses });
});
