import { DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import type { ArchFacts } from '@kdma/dma-mapping/ops';
import { pow2 } from '@kdma/hw';

const MIB = 2 ** 20;

/** One SuperH CPU family as the DMA code sees it. */
export interface ShPlatform {
  readonly name: string;
  readonly cpu: string;
  /** `L1_CACHE_SHIFT` (`CONFIG_CPU_SH4`: 5; SH-2/SH-2A/SH-3: 4). */
  readonly l1CacheShift: number;
}

/** The CPU families modelled, the default first. All are `DMA_NONCOHERENT` (only SH-X3 selects DMA_COHERENT). */
export const SH_PLATFORMS: Readonly<Record<string, ShPlatform>> = Object.freeze({
  sh4: Object.freeze({ name: 'sh4', cpu: 'SH-4 (SH7750/SH7751, e.g. the R2D boards)', l1CacheShift: 5 }),
  sh3: Object.freeze({ name: 'sh3', cpu: 'SH-3 (SH7709, e.g. the SolutionEngine)', l1CacheShift: 4 }),
});

/** The platform names, the default first. */
export const SH_PLATFORM_NAMES: readonly string[] = Object.freeze(Object.keys(SH_PLATFORMS));

/**
 * `CONFIG_MEMORY_START` of the usual SH-3/SH-4 boards: RAM in area 3 of the 29-bit physical space.
 */
export const MEMORY_START = 0x0c00_0000;

/** Default RAM (`CONFIG_MEMORY_SIZE` of the R2D-PLUS). */
export const MEMORY_SIZE = 64 * MIB;

function platformFacts(platform: ShPlatform): ArchFacts {
  const line = pow2(platform.l1CacheShift);
  return Object.freeze({
    name: 'sh',
    pageSizes: Object.freeze([4096, 8192, 16384, 65536]),
    cacheLineSize: line,
    // asm/cache.h: ARCH_DMA_MINALIGN is L1_CACHE_BYTES.
    dmaMinAlign: line,
    coherent: 'never',
    // 29-bit physical addressing (P1/P2 each alias the low 512 MiB).
    physAddrBits: 29,
    zones: Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const)]),
    // dma_alloc_noncoherent was dma_alloc_coherent on sh: NON_CONSISTENT and WRITE_COMBINE are
    // ignored; NO_KERNEL_MAPPING, SKIP_CPU_SYNC and NO_WARN as today's dma-direct honours them.
    honouredAttrs: DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
    iommus: Object.freeze([]),
    platforms: SH_PLATFORM_NAMES,
    ops: Object.freeze(['nommu_dma_ops']),
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze(
  Object.fromEntries(SH_PLATFORM_NAMES.map((name) => [name, platformFacts(SH_PLATFORMS[name] as ShPlatform)])),
);

/** The SuperH facts of `platform` (a machine's `machine.arch`). */
export function shFacts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${SH_PLATFORM_NAMES.join(', ')}, got ${String(platform)}`);
  return facts;
}

/** SuperH as `ArchFacts`: the default platform's (SH-4) numbers. */
export const arch: ArchFacts = shFacts('sh4');
