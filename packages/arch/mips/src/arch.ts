import { DMA_ATTR_NON_CONSISTENT, DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC } from '@kdma/dma-attrs';
import type { MemoryRegion } from '@kdma/hw';
import type { ArchFacts, ArchZone } from '@kdma/dma-mapping/ops';
import { octeonMemoryLayout } from './dma-octeon.js';
import { pow2 } from '@kdma/hw';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** The CPU families whose DMA behaviour differs (`current_cpu_type()` as dma-default.c asks it). */
export type MipsCpu = 'r4k' | 'r10000' | 'octeon';

/** One MIPS platform (`CONFIG_*` board choice) and what it fixes for DMA. */
export interface MipsPlatform {
  readonly name: string;
  /** The board, as Kconfig names it. */
  readonly board: string;
  readonly cpu: MipsCpu;
  /**
   * `plat_device_is_coherent()`: `CONFIG_DMA_COHERENT` boards answer 1 for every device,
   * `CONFIG_DMA_NONCOHERENT` ones 0; Malta (`DMA_MAYBE_COHERENT`) follows `coherentio`.
   */
  readonly coherent: boolean;
  /** Malta only: `CONFIG_DMA_MAYBE_COHERENT`, an IOCU the `coherentio` option switches on. */
  readonly maybeCoherent: boolean;
  /** `CONFIG_MIPS_L1_CACHE_SHIFT`. */
  readonly l1CacheShift: number;
  /** `ARCH_DMA_MINALIGN` (the board's kmalloc.h); 1 where it is not defined (coherent boards). */
  readonly dmaMinAlign: number;
  /** `ARCH_KMALLOC_MINALIGN`: `ARCH_DMA_MINALIGN` when defined, else `__alignof__(unsigned long long)`. */
  readonly kmallocMinAlign: number;
  /** 32-bit kernels reach uncached memory through KSEG1, 64-bit ones through XKPHYS. */
  readonly kernelBits: 32 | 64;
  readonly physAddrBits: number;
  readonly zones: readonly ArchZone[];
  /** RAM bytes when the machine options do not say. */
  readonly defaultMemory: number;
  /** Where the board puts `memory` bytes of RAM. */
  memoryLayout(memory: number): MemoryRegion[];
}

const NORMAL_ONLY: readonly ArchZone[] = Object.freeze([Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const)]);

/**
 * The platforms modelled, the default first: enough to show every DMA behaviour MIPS had —
 * non-coherent with 64- and 32-byte lines, coherent (no maintenance, no `ARCH_DMA_MINALIGN`), and
 * non-coherent with a speculating R10000 that needs the post-DMA invalidate, and Octeon's
 * coherent I/O over swiotlb with its own ops.
 */
export const MIPS_PLATFORMS: Readonly<Record<string, MipsPlatform>> = Object.freeze({
  // MIPS_MALTA: MIPS32 24K/34K cores, DMA_MAYBE_COHERENT (non-coherent unless an IOCU and
  // `coherentio`), MIPS_CPU_SCACHE hence L1_CACHE_SHIFT 6, ISA (ZONE_DMA below 16 MiB).
  malta: Object.freeze({
    name: 'malta',
    board: 'MIPS Malta (MIPS_MALTA)',
    cpu: 'r4k',
    coherent: false,
    maybeCoherent: true,
    l1CacheShift: 6,
    dmaMinAlign: 128,
    kmallocMinAlign: 128,
    kernelBits: 32,
    physAddrBits: 32,
    zones: Object.freeze([
      Object.freeze({ name: 'DMA', end: 16 * MIB } as const),
      Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
    ]),
    defaultMemory: 256 * MIB,
    memoryLayout: (memory: number) => [{ base: 0, size: memory }],
  }),
  // SGI_IP27 (Origin 200/2000): R10000 behind the Hub, which keeps I/O coherent (DMA_COHERENT);
  // L1_CACHE_SHIFT 7; mach-ip27/kmalloc.h: "All happy, no need to define ARCH_DMA_MINALIGN".
  ip27: Object.freeze({
    name: 'ip27',
    board: 'SGI Origin 200/2000 (SGI_IP27)',
    cpu: 'r10000',
    coherent: true,
    maybeCoherent: false,
    l1CacheShift: 7,
    dmaMinAlign: 1,
    kmallocMinAlign: 8,
    kernelBits: 64,
    physAddrBits: 40,
    zones: NORMAL_ONLY,
    defaultMemory: GIB,
    memoryLayout: (memory: number) => [{ base: 0, size: memory }],
  }),
  // SGI_IP28 (Indigo2 R10000): non-coherent with a CPU that speculatively fills lines, so
  // unmap and sync-for-CPU invalidate again (cpu_needs_post_dma_flush); 128-byte lines; RAM from
  // SGIMC_SEG0_BADDR = 0x20000000.
  ip28: Object.freeze({
    name: 'ip28',
    board: 'SGI Indigo2 R10000 (SGI_IP28)',
    cpu: 'r10000',
    coherent: false,
    maybeCoherent: false,
    l1CacheShift: 7,
    dmaMinAlign: 128,
    kmallocMinAlign: 128,
    kernelBits: 64,
    physAddrBits: 40,
    zones: NORMAL_ONLY,
    defaultMemory: 256 * MIB,
    memoryLayout: (memory: number) => [{ base: 0x2000_0000, size: memory }],
  }),
  // SGI_IP32 (O2) with an R5000: non-coherent (CRIME), 32-byte lines, and mach-ip32/kmalloc.h
  // sets ARCH_DMA_MINALIGN to 32 for the R5000/RM7000.
  ip32: Object.freeze({
    name: 'ip32',
    board: 'SGI O2 R5000 (SGI_IP32)',
    cpu: 'r4k',
    coherent: false,
    maybeCoherent: false,
    l1CacheShift: 5,
    dmaMinAlign: 32,
    kmallocMinAlign: 32,
    kernelBits: 64,
    physAddrBits: 36,
    zones: NORMAL_ONLY,
    defaultMemory: 256 * MIB,
    memoryLayout: (memory: number) => [{ base: 0, size: memory }],
  }),
  // CPU_CAVIUM_OCTEON: coherent I/O (DMA_COHERENT), 128-byte lines, ZONE_DMA32, and swiotlb under
  // Octeon's own dma_map_ops (plat_swiotlb_setup). DRAM beyond 256 MiB starts at 0x410000000.
  octeon: Object.freeze({
    name: 'octeon',
    board: 'Cavium Octeon (CAVIUM_OCTEON_SOC)',
    cpu: 'octeon',
    coherent: true,
    maybeCoherent: false,
    l1CacheShift: 7,
    dmaMinAlign: 1,
    kmallocMinAlign: 8,
    kernelBits: 64,
    physAddrBits: 49,
    zones: Object.freeze([
      Object.freeze({ name: 'DMA32', end: 4 * GIB } as const),
      Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
    ]),
    defaultMemory: 512 * MIB,
    memoryLayout: octeonMemoryLayout,
  }),
});

/** The platform names, the default first. */
export const MIPS_PLATFORM_NAMES: readonly string[] = Object.freeze(Object.keys(MIPS_PLATFORMS));

/**
 * The facts shared by every MIPS platform. What differs per board (line size, minimum alignment,
 * zones, address width) is in `MIPS_PLATFORMS` and in `machine.arch` of a machine built for it.
 * NON_CONSISTENT is honoured as the kernels from v4.9 to v5.9 honoured it (cached memory the
 * driver keeps consistent with `dma_cache_sync`; v3.4 had the separate `dma_alloc_noncoherent`);
 * NO_KERNEL_MAPPING, SKIP_CPU_SYNC and NO_WARN as today's dma-direct honours them; the rest
 * (WRITE_COMBINE among them) is ignored.
 */
function platformFacts(platform: MipsPlatform): ArchFacts {
  return Object.freeze({
    name: 'mips',
    pageSizes: Object.freeze([4096, 8192, 16384, 32768, 65536]),
    cacheLineSize: pow2(platform.l1CacheShift),
    dmaMinAlign: platform.dmaMinAlign,
    coherent: 'per-platform',
    physAddrBits: platform.physAddrBits,
    zones: platform.zones,
    // Octeon's swiotlb-based ops read no attribute (its memory is coherent, so NON_CONSISTENT
    // changes nothing anyway); the core's 2012 swiotlb functions honour SKIP_CPU_SYNC.
    honouredAttrs:
      platform.cpu === 'octeon'
        ? DMA_ATTR_NON_CONSISTENT | DMA_ATTR_SKIP_CPU_SYNC
        : DMA_ATTR_NON_CONSISTENT | DMA_ATTR_NO_KERNEL_MAPPING | DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN,
    iommus: Object.freeze([]),
    platforms: MIPS_PLATFORM_NAMES,
    ops: Object.freeze(['dma-direct', 'octeon_linear_dma_map_ops', 'octeon_pci_dma_map_ops']),
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze(
  Object.fromEntries(MIPS_PLATFORM_NAMES.map((name) => [name, platformFacts(MIPS_PLATFORMS[name] as MipsPlatform)])),
);

/** The MIPS facts of `platform` (a machine's `machine.arch`). */
export function mipsFacts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${MIPS_PLATFORM_NAMES.join(', ')}, got ${String(platform)}`);
  return facts;
}

/** The MIPS platform record of `platform`. */
export function mipsPlatform(platform: string): MipsPlatform {
  const record = MIPS_PLATFORMS[platform];
  if (record === undefined) throw new RangeError(`platform must be one of ${MIPS_PLATFORM_NAMES.join(', ')}, got ${String(platform)}`);
  return record;
}

/** MIPS as `ArchFacts`: the default platform's (Malta) numbers. */
export const arch: ArchFacts = mipsFacts('malta');
