import { describe, pow2 } from '@kdma/hw';
import type { ArchFacts, ArchZone } from '@kdma/dma-mapping/ops';

/*
 * SPARC (arch/sparc): sparc64 machines, whose PCI and SBus DMA is coherent with the CPU caches
 * and always goes through an IOMMU (sun4u's own, or the sun4v hypervisor's), and 32-bit LEON
 * systems, whose write-through D-cache does not snoop DMA unless told to.
 */

/** The platforms modelled, the default first. */
export const SPARC_PLATFORM_NAMES: readonly string[] = Object.freeze(['sun4u', 'sun4v', 'sparc32-leon']);

/** The sun4u PCI controller's IOMMU (psycho/schizo) and the sun4v hypervisor's. */
export const SPARC_IOMMU_NAMES: readonly string[] = Object.freeze(['sun4u-iommu', 'sun4v-iommu']);

/** `IO_PAGE_SHIFT`: sparc64 IOMMUs map 8 KiB pages. */
export const IO_PAGE_SHIFT = 13;
export const IO_PAGE_SIZE = pow2(IO_PAGE_SHIFT);

const NORMAL_ONLY: readonly ArchZone[] = Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const)]);

interface SparcPlatformFacts {
  readonly pageSizes: readonly number[];
  readonly physAddrBits: number;
  readonly iommus: readonly string[];
  readonly ops: readonly string[];
}

const PLATFORM_FACTS: Readonly<Record<string, SparcPlatformFacts>> = Object.freeze({
  // UltraSPARC II/III with a psycho/schizo PCI controller: sun4u_dma_ops (kernel/iommu.c).
  sun4u: { pageSizes: [8192], physAddrBits: 43, iommus: ['sun4u-iommu'], ops: ['sun4u_dma_ops'] },
  // Niagara under the hypervisor: sun4v_dma_ops (kernel/pci_sun4v.c).
  sun4v: { pageSizes: [8192], physAddrBits: 40, iommus: ['sun4v-iommu'], ops: ['sun4v_dma_ops'] },
  // LEON3/4: "LEON sets dma_ops = &pci32_dma_ops" (kernel/ioport.c), 4 KiB pages.
  'sparc32-leon': { pageSizes: [4096], physAddrBits: 32, iommus: [], ops: ['pci32_dma_ops'] },
});

function makeFacts(platform: SparcPlatformFacts, all: boolean): ArchFacts {
  return Object.freeze({
    name: 'sparc',
    pageSizes: Object.freeze(all ? [8192, 4096] : [...platform.pageSizes]),
    // L1_CACHE_BYTES 32 (sparc64's L1 D-cache and the LEON3's default line).
    cacheLineSize: 32,
    // No ARCH_DMA_MINALIGN on sparc: kmalloc aligns to 8.
    dmaMinAlign: 1,
    coherent: 'per-platform',
    physAddrBits: platform.physAddrBits,
    zones: NORMAL_ONLY,
    // The sparc ops read no attribute.
    honouredAttrs: 0,
    iommus: Object.freeze(all ? [...SPARC_IOMMU_NAMES] : [...platform.iommus]),
    platforms: SPARC_PLATFORM_NAMES,
    ops: Object.freeze(all ? ['sun4u_dma_ops', 'sun4v_dma_ops', 'pci32_dma_ops'] : [...platform.ops]),
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze(
  Object.fromEntries(Object.entries(PLATFORM_FACTS).map(([name, facts]) => [name, makeFacts(facts, false)])),
);

/** The facts of one platform (what `machine.arch` is on it). */
export function sparcFacts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${SPARC_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  return facts;
}

/**
 * SPARC as `ArchFacts`: coherence per platform (sparc64 yes, LEON no), 8 KiB pages on sparc64 and
 * 4 KiB on sparc32, 32-byte lines, no ZONE_DMA, no attribute honoured; both IOMMUs and all ops.
 */
export const arch: ArchFacts = makeFacts(PLATFORM_FACTS['sun4u'] as SparcPlatformFacts, true);
