// Test helpers (not published): small machines described inline, because the arch packages depend
// on this one. A coherent PC with a VT-d-like IOMMU and a non-coherent ARM-like board with an
// SMMU-like one, each built with `buildMachine`.
import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
} from '@kdma/dma-attrs';
import { hex } from '@kdma/hw';
import { buildMachine, type ArchDescription, type ArchFacts, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { pgprotNoncached, pgprotWritecombine } from '@kdma/mm';
import type { IommuDriver } from './iommu-device.js';
import { IOMMU_OPTION_NAMES, iommuProbeDevice, iommuSetupMachine } from './iommu-probe.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
export const SZ_4K = 4096;
export const SZ_2M = 2 * MiB;
export const SZ_1G = GiB;
/** 4K | 2M | 1G. */
export const PGSIZES_4K_2M_1G = SZ_4K + SZ_2M + SZ_1G;

/** A VT-d-like IOMMU: second-level tables, PCI devices, the MSI window reserved. */
export const vtdLike: IommuDriver = {
  name: 'test-vtd',
  format: 'INTEL_VTD_SL',
  pgsizeBitmap: PGSIZES_4K_2M_1G,
  ias: 48,
  oas: 46,
  pciDevices: true,
  reservedRegions: [{ start: 0xfee0_0000, length: 0x10_0000, type: 'msi' }],
  formatFault: (f) => `DMAR: [${f.write ? 'DMA Write' : 'DMA Read'} NO_PASID] Request device [00:${f.deviceIndex.toString(16).padStart(2, '0')}.0] fault addr ${hex(f.iova)}`,
};

/** An SMMU-like IOMMU: LPAE stage 1 with a 4K granule, platform devices. */
export const smmuLike: IommuDriver = {
  name: 'test-smmu',
  format: 'ARM_64_LPAE_S1',
  pgsizeBitmap: PGSIZES_4K_2M_1G,
  ias: 48,
  oas: 40,
  formatFault: (f) => `arm-smmu: Unhandled context fault: iova=${hex(f.iova)} ${f.kind}`,
};

const pcFacts: ArchFacts = {
  name: 'test-pc',
  pageSizes: [4096],
  cacheLineSize: 64,
  dmaMinAlign: 1,
  coherent: 'always',
  physAddrBits: 46,
  zones: [
    { name: 'DMA', end: 16 * MiB },
    { name: 'DMA32', end: 4 * GiB },
    { name: 'NORMAL', end: Number.POSITIVE_INFINITY },
  ],
  honouredAttrs: DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
  iommus: ['test-vtd'],
  platforms: ['pc'],
  ops: ['dma-direct', 'iommu_dma_ops'],
};

/** A coherent PC with 64 MiB, dma-direct and an optional VT-d-like IOMMU. */
export const pcDescription: ArchDescription = {
  facts: pcFacts,
  defaultMemory: 64 * MiB,
  defaultCma: 0,
  kmallocMinAlign: 8,
  extraOptions: IOMMU_OPTION_NAMES,
  memoryLayout: (memory) => [{ base: 0, size: memory }],
  needsCacheModel: () => false,
  defaultDeviceCoherent: () => true,
  mmOptions: () => ({ vmallocSize: 64 * MiB }),
  directHooks: () => ({
    honouredAttrs: pcFacts.honouredAttrs,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  }),
  setupMachine: (machine, options) => {
    iommuSetupMachine(machine, options, { 'test-vtd': () => vtdLike });
  },
  setupDevice: (machine, dev, options) => iommuProbeDevice(machine, dev, options),
};

const armFacts: ArchFacts = {
  ...pcFacts,
  name: 'test-arm',
  dmaMinAlign: 64,
  coherent: 'per-device',
  physAddrBits: 40,
  zones: [{ name: 'NORMAL', end: Number.POSITIVE_INFINITY }],
  honouredAttrs:
    DMA_ATTR_WRITE_COMBINE |
    DMA_ATTR_NO_KERNEL_MAPPING |
    DMA_ATTR_SKIP_CPU_SYNC |
    DMA_ATTR_FORCE_CONTIGUOUS |
    DMA_ATTR_ALLOC_SINGLE_PAGES |
    DMA_ATTR_NO_WARN |
    DMA_ATTR_PRIVILEGED,
  iommus: ['test-smmu'],
  platforms: ['board'],
};

/** RAM starts here on the ARM-like board, so physical address 0 is never RAM. */
export const ARM_RAM_BASE = 0x8000_0000;

/**
 * A non-coherent board in the ARM manner (write-back cache the devices do not see, syncs that
 * clean for the device and invalidate for the CPU, coherent memory remapped write-combined or
 * uncached) with an optional SMMU-like IOMMU.
 */
export const armDescription: ArchDescription = {
  ...pcDescription,
  facts: armFacts,
  kmallocMinAlign: 64,
  memoryLayout: (memory) => [{ base: ARM_RAM_BASE, size: memory }],
  needsCacheModel: () => true,
  defaultDeviceCoherent: () => false,
  directHooks: (machine) => ({
    honouredAttrs: armFacts.honouredAttrs,
    syncForDevice: (paddr, size, dir) => (dir === DMA_FROM_DEVICE ? machine.hw.cacheInvalidate(paddr, size) : machine.hw.cacheClean(paddr, size)),
    syncForCpu: (paddr, size, dir) => {
      if (dir !== DMA_TO_DEVICE) machine.hw.cacheInvalidate(paddr, size);
    },
    prepCoherent: (pfn, size) => machine.hw.cacheFlush(pfn * machine.pageSize, size),
    coherentPgprot: (attrs, prot) => ((attrs & DMA_ATTR_WRITE_COMBINE) !== 0 ? pgprotWritecombine(prot) : pgprotNoncached(prot)),
  }),
  setupMachine: (machine, options) => {
    iommuSetupMachine(machine, options, { 'test-smmu': () => smmuLike });
  },
};

/** The PC with its IOMMU on (strict unless `iommuStrict: false`). */
export function createPc(options: MachineOptions = {}): Machine {
  return buildMachine(pcDescription, { iommu: 'test-vtd', ...options });
}

/** The ARM-like board with its IOMMU on. */
export function createBoard(options: MachineOptions = {}): Machine {
  return buildMachine(armDescription, { iommu: 'test-smmu', ...options });
}

/** The kernel log as text, one message a line. */
export function dmesgText(m: Machine): string {
  return m.hw.dmesg
    .entries()
    .map((entry) => entry.message)
    .join('\n');
}
