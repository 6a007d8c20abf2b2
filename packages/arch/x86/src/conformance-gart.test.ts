import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit on the GART: with 4 GiB (RAM up to 5 GiB, past the PCI hole), so that the kit's 32-bit device reaches part of
 * memory directly and the rest through the aperture; and with `iommu=force`, where every mapping
 * and every coherent buffer of a 32-bit device goes through the aperture.
 */

describeDmaConformance({ arch: { ...arch, name: 'x86 + gart (4 GiB: RAM up to 5 GiB)' }, createMachine, machineOptions: { iommu: 'gart', memory: 4 * 2 ** 30 } });

describeDmaConformance({ arch: { ...arch, name: 'x86 + gart (iommu=force)' }, createMachine, machineOptions: { iommu: 'gart', forceIommu: true } });
