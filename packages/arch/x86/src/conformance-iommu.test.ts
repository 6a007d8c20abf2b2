import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit with VT-d (strict) and AMD-Vi (lazy, the x86 default in the kernel) on, the
 * kit's devices behind them with iommu_dma_ops; and a device outside the IOMMU on a VT-d machine.
 */

describeDmaConformance({ arch: { ...arch, name: 'x86 + intel-iommu' }, createMachine, machineOptions: { iommu: 'intel-iommu' } });

describeDmaConformance({ arch: { ...arch, name: 'x86 + amd-iommu (lazy)' }, createMachine, machineOptions: { iommu: 'amd-iommu', iommuStrict: false } });

/** The machine, with every device it creates left out of the IOMMU unless it says otherwise. */
function withDirectDevices(options: MachineOptions = {}): Machine {
  const m = createMachine({ ...options, iommu: 'intel-iommu' });
  const create = m.createDevice.bind(m);
  m.createDevice = (deviceOptions) => create({ iommu: false, ...deviceOptions });
  return m;
}

describeDmaConformance({ arch: { ...arch, name: 'x86 (VT-d machine, device outside it)' }, createMachine: withDirectDevices });

/* iommu=pt: VT-d's identity-mapped devices (intel_dma_ops; with RAM above 4 GiB the kit's 32-bit device moves to a DMA domain). */

describeDmaConformance({ arch: { ...arch, name: 'x86 + intel-iommu (iommu=pt, 4 GiB)' }, createMachine, machineOptions: { iommu: 'intel-iommu', iommuPassthrough: true, memory: 4 * 2 ** 30 } });
