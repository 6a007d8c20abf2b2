import { DMA_ATTR_WRITE_BARRIER } from '@kdma/dma-attrs';
import { describe } from '@kdma/hw';
import type { ArchFacts, ArchZone } from '@kdma/dma-mapping/ops';

const GIB = 2 ** 30;

/**
 * The machine vectors (`machvec=`) modelled: which `dma_map_ops` `platform_dma_get_ops(dev)`
 * returns on each. The default is an HP zx1 box: the platform the SBA IOMMU was written for.
 */
export const IA64_PLATFORM_NAMES: readonly string[] = Object.freeze(['hpzx1', 'hpzx1_swiotlb', 'dig', 'sn2']);

/** IOMMU hardware an ia64 machine can have: the zx1 SBA, the SN2 PCI bridges' ATEs, VT-d on DIG. */
export const IA64_IOMMU_NAMES: readonly string[] = Object.freeze(['sba', 'sn-pcibr', 'intel-iommu']);

/**
 * `ZONE_DMA` on ia64 is everything below 4 GiB (`MAX_DMA_ADDRESS = PAGE_OFFSET + 0x100000000`);
 * SN2 has none (`CONFIG_ZONE_DMA` is off for `IA64_SGI_SN2`: its 32-bit devices reach memory
 * through the bridge's windows, not by physical address).
 */
const DMA_ZONES: readonly ArchZone[] = Object.freeze([
  Object.freeze({ name: 'DMA', end: 4 * GIB } as const),
  Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
]);
const NORMAL_ONLY: readonly ArchZone[] = Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const)]);

/** What each machine vector selects. */
interface Ia64PlatformFacts {
  readonly iommus: readonly string[];
  readonly ops: readonly string[];
  readonly zones: readonly ArchZone[];
  readonly honouredAttrs: number;
}

const PLATFORM_FACTS: Readonly<Record<string, Ia64PlatformFacts>> = Object.freeze({
  // machvec hpzx1: platform_dma_init = sba_dma_init, every PCI device on sba_dma_ops.
  hpzx1: { iommus: ['sba'], ops: ['sba_dma_ops'], zones: DMA_ZONES, honouredAttrs: 0 },
  // machvec hpzx1_swiotlb: hwsw_dma_get_ops picks swiotlb_dma_ops for masks the SBA refuses.
  hpzx1_swiotlb: { iommus: ['sba'], ops: ['hwsw_dma_ops', 'sba_dma_ops', 'swiotlb_dma_ops'], zones: DMA_ZONES, honouredAttrs: 0 },
  // machvec dig (and dig_vtd with `iommu: 'intel-iommu'`): swiotlb_dma_ops, or intel_dma_ops.
  dig: { iommus: ['intel-iommu'], ops: ['swiotlb_dma_ops', 'intel_dma_ops'], zones: DMA_ZONES, honouredAttrs: 0 },
  // machvec sn2: sn_dma_ops, the one implementation that reads DMA_ATTR_WRITE_BARRIER.
  sn2: { iommus: ['sn-pcibr'], ops: ['sn_dma_ops'], zones: NORMAL_ONLY, honouredAttrs: DMA_ATTR_WRITE_BARRIER },
});

function makeFacts(platform: Ia64PlatformFacts, all: boolean): ArchFacts {
  return Object.freeze({
    name: 'ia64',
    // PAGE_SIZE: CONFIG_IA64_PAGE_SIZE_{4,8,16,64}KB, 16 KiB the usual choice (64K not on Itanium 1).
    pageSizes: Object.freeze([16384, 4096, 8192, 65536]),
    // IA64_L1_CACHE_SHIFT 7 on McKinley and later.
    cacheLineSize: 128,
    // I/O is cache-coherent: no ARCH_DMA_MINALIGN, dma_get_cache_alignment() is 1.
    dmaMinAlign: 1,
    coherent: 'always',
    // Itanium 2 implements 50 physical address bits.
    physAddrBits: 50,
    zones: platform.zones,
    honouredAttrs: all ? DMA_ATTR_WRITE_BARRIER : platform.honouredAttrs,
    iommus: Object.freeze(all ? [...IA64_IOMMU_NAMES] : [...platform.iommus]),
    platforms: IA64_PLATFORM_NAMES,
    ops: Object.freeze(all ? ['sba_dma_ops', 'hwsw_dma_ops', 'swiotlb_dma_ops', 'sn_dma_ops', 'intel_dma_ops'] : [...platform.ops]),
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze(
  Object.fromEntries(Object.entries(PLATFORM_FACTS).map(([name, facts]) => [name, makeFacts(facts, false)])),
);

/** The facts of one machine vector (what `machine.arch` is on it). */
export function ia64Facts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${IA64_PLATFORM_NAMES.join(', ')}, got ${describe(platform)}`);
  return facts;
}

/**
 * IA-64 (removed from Linux in 6.7) as `ArchFacts`: cache-coherent I/O, 16 KiB pages by default
 * (4/8/16/64 KiB), 128-byte lines, ZONE_DMA below 4 GiB; every machine vector's IOMMUs and ops,
 * and `DMA_ATTR_WRITE_BARRIER`, which SN2 honours (the others ignore it).
 */
export const arch: ArchFacts = makeFacts(PLATFORM_FACTS['hpzx1'] as Ia64PlatformFacts, true);
