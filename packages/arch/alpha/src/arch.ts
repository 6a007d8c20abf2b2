import { describe } from '@kdma/hw';
import type { ArchFacts, ArchZone } from '@kdma/dma-mapping/ops';

const GIB = 2 ** 30;

/** The machines modelled, the default first: a DP264-class Tsunami (21272) box and the EISA Jensen. */
export const ALPHA_PLATFORM_NAMES: readonly string[] = Object.freeze(['tsunami', 'jensen']);

/** The PCI scatter-gather windows of `arch/alpha/kernel/pci_iommu.c`. */
export const ALPHA_IOMMU_NAMES: readonly string[] = Object.freeze(['pci-iommu']);

/** `ALPHA_MAX_ISA_DMA_ADDRESS`: ZONE_DMA is the memory below 4 GiB (the default machine value). */
const ZONES: readonly ArchZone[] = Object.freeze([
  Object.freeze({ name: 'DMA', end: 4 * GIB } as const),
  Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
]);

function makeFacts(iommus: readonly string[], ops: readonly string[]): ArchFacts {
  return Object.freeze({
    name: 'alpha',
    pageSizes: Object.freeze([8192]),
    // EV6 (21264), Tsunami's CPU: 64-byte lines (EV4/EV5 had 32).
    cacheLineSize: 64,
    dmaMinAlign: 1,
    // PCI DMA is coherent with the caches: dma_cache_sync is a no-op.
    coherent: 'always',
    physAddrBits: 44,
    zones: ZONES,
    honouredAttrs: 0,
    iommus: Object.freeze([...iommus]),
    platforms: ALPHA_PLATFORM_NAMES,
    ops: Object.freeze([...ops]),
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze({
  tsunami: makeFacts(ALPHA_IOMMU_NAMES, ['alpha_pci_ops']),
  jensen: makeFacts([], ['alpha_noop_ops']),
});

/** The facts of one machine (what `machine.arch` is on it). */
export function alphaFacts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${ALPHA_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  return facts;
}

/**
 * Alpha as `ArchFacts`: coherent, 8 KiB pages, 64-byte lines, ZONE_DMA below 4 GiB, no attribute
 * honoured; `alpha_pci_ops` (direct window, DAC, scatter-gather arenas) and Jensen's `alpha_noop_ops`.
 */
export const arch: ArchFacts = makeFacts(ALPHA_IOMMU_NAMES, ['alpha_pci_ops', 'alpha_noop_ops']);
