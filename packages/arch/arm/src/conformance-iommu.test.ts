import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit on a machine with an SMMU: once with the kit's devices behind it
 * (iommu_dma_ops, the default for every device the SMMU covers), once with the same machine's
 * devices created `iommu: false` (dma-direct beside the SMMU).
 */

describeDmaConformance({ arch, createMachine, machineOptions: { iommu: 'arm-smmu' }, dmacoherentType: 'wc' });

/** The machine, with every device it creates left out of the SMMU unless it says otherwise. */
function withDirectDevices(options: MachineOptions = {}): Machine {
  const m = createMachine({ ...options, iommu: 'arm-smmu' });
  const create = m.createDevice.bind(m);
  m.createDevice = (deviceOptions) => create({ iommu: false, ...deviceOptions });
  return m;
}

describeDmaConformance({ arch: { ...arch, name: 'arm (SMMU machine, device outside it)' }, createMachine: withDirectDevices, dmacoherentType: 'wc' });
