import { describeDmaConformance } from '@kdma/testkit';
import type { KernelRefusals } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit on the GART: with 4 GiB (RAM up to 5 GiB, past the PCI hole), so that the kit's 32-bit device reaches part of
 * memory directly and the rest through the aperture; and with `iommu=force`, where every mapping
 * and every coherent buffer of a 32-bit device goes through the aperture.
 *
 * The aperture is allocated by alloc_iommu → iommu_area_alloc under the device's segment boundary,
 * so a segment longer than the boundary window cannot go through it. gart_map_sg then retries
 * "in a dumb way" (dma_map_sg_nonforce): a segment the device reaches is mapped as it is, one it
 * does not is refused (gart_map_sg returns 0) — even with iommu=force.
 */

const kernelRefuses: KernelRefusals = { segmentAcrossBoundary: { gart_dma_ops: 'when-remapped' } };

describeDmaConformance({ arch: { ...arch, name: 'x86 + gart (4 GiB: RAM up to 5 GiB)' }, createMachine, machineOptions: { iommu: 'gart', memory: 4 * 2 ** 30 }, kernelRefuses });

describeDmaConformance({ arch: { ...arch, name: 'x86 + gart (iommu=force)' }, createMachine, machineOptions: { iommu: 'gart', forceIommu: true }, kernelRefuses });
