// Test helpers (not published): a small x86-like machine built inline, so that dma-debug's tests
// need no arch package (the arch packages depend on this one).
import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import { pgprotNoncached } from '@kdma/mm';
import type { ArchDescription, ArchFacts } from './arch.js';
import { buildMachine, type Machine } from './machine.js';
import type { MachineOptions } from './machine-options.js';

const MiB = 2 ** 20;

const facts: ArchFacts = {
  name: 'test-x86',
  pageSizes: [4096],
  cacheLineSize: 64,
  dmaMinAlign: 1,
  coherent: 'always',
  physAddrBits: 46,
  zones: [
    { name: 'DMA', end: 16 * MiB },
    { name: 'DMA32', end: 2 ** 32 },
    { name: 'NORMAL', end: Number.POSITIVE_INFINITY },
  ],
  honouredAttrs: DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
  iommus: [],
  platforms: ['pc'],
  ops: ['dma-direct'],
};

/** A coherent PC with 64 MiB of RAM and plain dma-direct (no swiotlb, no IOMMU). */
export const testDescription: ArchDescription = {
  facts,
  defaultMemory: 64 * MiB,
  defaultCma: 0,
  kmallocMinAlign: 8,
  memoryLayout: (memory) => [{ base: 0, size: memory }],
  needsCacheModel: () => false,
  defaultDeviceCoherent: () => true,
  mmOptions: () => ({ vmallocSize: 64 * MiB }),
  directHooks: () => ({
    honouredAttrs: facts.honouredAttrs,
    syncForDevice: () => {},
    syncForCpu: () => {},
    prepCoherent: () => {},
    coherentPgprot: (_attrs, prot) => prot,
  }),
};

export function createTestMachine(options: MachineOptions = {}): Machine {
  return buildMachine(testDescription, options);
}

/** `0x%016llx`, written out independently of the code under test. */
export function a16(value: number): string {
  return '0x' + value.toString(16).padStart(16, '0');
}

/** `%p` as printed unhashed. */
export function p16(value: number): string {
  return value.toString(16).padStart(16, '0');
}

/**
 * A non-coherent machine in the ARM manner: a write-back cache devices do not see, syncs that
 * clean for the device and invalidate for the CPU, coherent memory remapped uncached.
 */
export const nonCoherentDescription: ArchDescription = {
  ...testDescription,
  facts: { ...facts, name: 'test-noncoherent', coherent: 'per-device', dmaMinAlign: 64, zones: [{ name: 'NORMAL', end: Number.POSITIVE_INFINITY }] },
  kmallocMinAlign: 64,
  needsCacheModel: () => true,
  defaultDeviceCoherent: () => false,
  directHooks: (machine) => ({
    honouredAttrs: facts.honouredAttrs,
    syncForDevice: (paddr, size, dir) => (dir === 2 ? machine.hw.cacheInvalidate(paddr, size) : machine.hw.cacheClean(paddr, size)),
    syncForCpu: (paddr, size, dir) => {
      if (dir !== 1) machine.hw.cacheInvalidate(paddr, size);
    },
    prepCoherent: (pfn, size) => machine.hw.cacheFlush(pfn * machine.pageSize, size),
    coherentPgprot: (_attrs, prot) => pgprotNoncached(prot),
  }),
};

export function createNonCoherentMachine(options: MachineOptions = {}): Machine {
  return buildMachine(nonCoherentDescription, options);
}
