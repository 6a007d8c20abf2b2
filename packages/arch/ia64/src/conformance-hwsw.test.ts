import { describe, expect, it } from '@jest/globals';
import { countBounces, describeDmaConformance, type KernelRefusals } from '@kdma/testkit';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, createMachine } from './index.js';

// hwsw_dma_ops: the kit's devices are 32-bit, so the SBA serves them; a machine whose devices
// come up with a 30-bit mask puts them on swiotlb_dma_ops through the same dispatcher, and with
// 2 GiB the kit's buffers above 1 GiB bounce. Either path refuses a segment longer than the
// device's segment boundary window when it remaps it: the SBA's pdir search and swiotlb's slot
// search (swiotlb_tbl_map_single) both skip ranges across the boundary (iommu_is_span_boundary).
// dma-debug's device-access scene uses a buffer the device reaches in place, since a device
// writing a bounce slot touches no mapped buffer.
const kernelRefuses: KernelRefusals = { segmentAcrossBoundary: { hwsw_dma_ops: 'when-remapped' } };

describe('hpzx1_swiotlb: hwsw_dma_ops on the SBA', () => {
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1_swiotlb' }, createMachine, machineOptions: { platform: 'hpzx1_swiotlb' }, kernelRefuses });
});

function narrowDevices(options: MachineOptions = {}): Machine {
  const m = createMachine({ ...options, platform: 'hpzx1_swiotlb', memory: 2 * 2 ** 30 });
  const create = m.createDevice.bind(m);
  m.createDevice = (deviceOptions) => create({ dmaBits: 30, ...deviceOptions });
  return m;
}

let bounced = (): number => 0;

describe('hpzx1_swiotlb: hwsw_dma_ops on swiotlb (2 GiB, 30-bit devices)', () => {
  const count = countBounces(narrowDevices);
  bounced = count.bytes;
  describeDmaConformance({ arch: { ...arch, name: 'ia64 hpzx1_swiotlb (30-bit devices)' }, createMachine: count.createMachine, kernelRefuses });
});

describe('the swiotlb kit run above', () => {
  it('bounced the kit’s buffers above 1 GiB', () => {
    expect(bounced()).toBeGreaterThan(64 * 1024);
  });
});
