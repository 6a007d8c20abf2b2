import { DMA_ATTR_WEAK_ORDERING } from '@kdma/dma-attrs';
import type { ArchFacts, ArchZone } from '@kdma/dma-mapping/ops';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * The bus a device sits on, which is what picked its `dma_map_ops` in 2012: PCI devices got the
 * platform's `get_pci_dma_ops()`, the others the ops their bus code installed when it created them.
 */
export type PowerpcBus = 'pci' | 'of-platform' | 'vio' | 'ibmebus' | 'ps3-sb' | 'ps3-ioc0';

/** One PowerPC platform (`ppc_md` machine) and what it fixes for DMA. */
export interface PowerpcPlatform {
  readonly name: string;
  /** What the platform is, as Kconfig and the device tree name it. */
  readonly machine: string;
  /** PPC64 or PPC32 kernel. */
  readonly bits: 32 | 64;
  /** False with `CONFIG_NOT_COHERENT_CACHE` (4xx, 8xx, …): no device snoops the data cache. */
  readonly coherent: boolean;
  /** `L1_CACHE_BYTES`. */
  readonly l1CacheBytes: number;
  readonly pageSizes: readonly number[];
  readonly physAddrBits: number;
  readonly defaultMemory: number;
  /** The buses devices can sit on; the first is where `createDevice` puts them by default. */
  readonly buses: readonly PowerpcBus[];
  /** IOMMU hardware (`machine.iommu`): pSeries TCE tables, the Cell IOMMU. */
  readonly iommus: readonly string[];
  /** The dma_map_ops the platform can select, by the kernel's variable names. */
  readonly ops: readonly string[];
  readonly honouredAttrs: number;
}

/**
 * `CONFIG_LOWMEM_SIZE`'s default on PPC32 (0x30000000): the kernel's linear map. `ZONE_DMA` is
 * all of lowmem on every PowerPC (mm/mem.c); on PPC32 what lies above is `ZONE_HIGHMEM`, which kdma
 * (where every page has a linear alias) calls `NORMAL`: the zone `GFP_KERNEL` tries first and DMA
 * allocations never use.
 */
export const PPC32_LOWMEM_SIZE = 768 * MIB;

const PPC64_ZONES: readonly ArchZone[] = Object.freeze([Object.freeze({ name: 'DMA', end: Number.POSITIVE_INFINITY } as const)]);
const PPC32_ZONES: readonly ArchZone[] = Object.freeze([
  Object.freeze({ name: 'DMA', end: PPC32_LOWMEM_SIZE } as const),
  Object.freeze({ name: 'NORMAL', end: Number.POSITIVE_INFINITY } as const),
]);

/**
 * The platforms modelled, the default first — one for each way 2012 PowerPC did DMA:
 * - `pseries`: IBM POWER LPARs. PCI devices on `dma_iommu_ops` over their partitionable
 *   endpoint's TCE window, VIO devices over their own window (`vio_dma_mapping_ops` when the
 *   firmware does Cooperative Memory Overcommit), eHCA/eHEA on `ibmebus_dma_ops`.
 * - `cell`: a QS22-style Cell blade with Axon bridges: the Cell IOMMU's dynamic window for 32-bit
 *   devices, the fixed linear window for 64-bit ones, `dma_direct_ops` when the IOMMU is off.
 * - `ps3`: the PlayStation 3 under the lv1 hypervisor: `ps3_sb_dma_ops`, `ps3_ioc0_dma_ops`.
 * - `powermac`: a G4 PowerMac: coherent `dma_direct_ops`.
 * - `mpc85xx`: a Freescale MPC85xx/P-series DS board: coherent `dma_direct_ops`, and
 *   `swiotlb_dma_ops` once RAM reaches beyond what 32-bit PCI can address.
 * - `ppc44x`: an AMCC 440 board, `CONFIG_NOT_COHERENT_CACHE`: `dma_direct_ops` with cache
 *   maintenance and coherent memory from the 2 MiB uncached consistent area.
 */
export const POWERPC_PLATFORMS: Readonly<Record<string, PowerpcPlatform>> = Object.freeze({
  pseries: Object.freeze({
    name: 'pseries',
    machine: 'IBM pSeries LPAR (PPC_PSERIES)',
    bits: 64,
    coherent: true,
    l1CacheBytes: 128,
    pageSizes: Object.freeze([4096, 65536]),
    physAddrBits: 50,
    defaultMemory: 2 * GIB,
    buses: Object.freeze(['pci', 'vio', 'ibmebus'] as const),
    iommus: Object.freeze(['tce']),
    ops: Object.freeze(['dma_iommu_ops', 'vio_dma_mapping_ops', 'ibmebus_dma_ops']),
    honouredAttrs: 0,
  }),
  cell: Object.freeze({
    name: 'cell',
    machine: 'IBM Cell blade with Axon bridges (PPC_CELL_NATIVE)',
    bits: 64,
    coherent: true,
    l1CacheBytes: 128,
    pageSizes: Object.freeze([4096, 65536]),
    physAddrBits: 42,
    defaultMemory: 4 * GIB,
    buses: Object.freeze(['pci', 'of-platform'] as const),
    iommus: Object.freeze(['cell-iommu']),
    ops: Object.freeze(['dma_iommu_ops', 'dma_iommu_fixed_ops', 'dma_direct_ops']),
    honouredAttrs: DMA_ATTR_WEAK_ORDERING,
  }),
  ps3: Object.freeze({
    name: 'ps3',
    machine: 'Sony PlayStation 3 (PPC_PS3)',
    bits: 64,
    coherent: true,
    l1CacheBytes: 128,
    pageSizes: Object.freeze([4096, 65536]),
    physAddrBits: 42,
    defaultMemory: 256 * MIB,
    buses: Object.freeze(['ps3-sb', 'ps3-ioc0'] as const),
    iommus: Object.freeze([]),
    ops: Object.freeze(['ps3_sb_dma_ops', 'ps3_ioc0_dma_ops']),
    honouredAttrs: 0,
  }),
  powermac: Object.freeze({
    name: 'powermac',
    machine: 'Apple PowerMac G4 (PPC_PMAC, 6xx)',
    bits: 32,
    coherent: true,
    l1CacheBytes: 32,
    pageSizes: Object.freeze([4096]),
    physAddrBits: 32,
    defaultMemory: 512 * MIB,
    buses: Object.freeze(['pci', 'of-platform'] as const),
    iommus: Object.freeze([]),
    ops: Object.freeze(['dma_direct_ops']),
    honouredAttrs: 0,
  }),
  mpc85xx: Object.freeze({
    name: 'mpc85xx',
    machine: 'Freescale MPC85xx DS (PPC_85xx, e500)',
    bits: 32,
    coherent: true,
    l1CacheBytes: 32,
    pageSizes: Object.freeze([4096]),
    physAddrBits: 36,
    defaultMemory: 1 * GIB,
    buses: Object.freeze(['pci', 'of-platform'] as const),
    iommus: Object.freeze([]),
    ops: Object.freeze(['dma_direct_ops', 'swiotlb_dma_ops']),
    honouredAttrs: 0,
  }),
  ppc44x: Object.freeze({
    name: 'ppc44x',
    machine: 'AMCC PowerPC 440 board (44x, NOT_COHERENT_CACHE)',
    bits: 32,
    coherent: false,
    l1CacheBytes: 32,
    pageSizes: Object.freeze([4096, 16384, 65536]),
    physAddrBits: 36,
    defaultMemory: 256 * MIB,
    buses: Object.freeze(['of-platform', 'pci'] as const),
    iommus: Object.freeze([]),
    ops: Object.freeze(['dma_direct_ops']),
    honouredAttrs: 0,
  }),
});

/** The platform names, the default first. */
export const POWERPC_PLATFORM_NAMES: readonly string[] = Object.freeze(Object.keys(POWERPC_PLATFORMS));

/** Every ops name a PowerPC machine can give a device. */
export const POWERPC_OPS: readonly string[] = Object.freeze([
  'dma_direct_ops',
  'dma_iommu_ops',
  'swiotlb_dma_ops',
  'ibmebus_dma_ops',
  'vio_dma_mapping_ops',
  'dma_iommu_fixed_ops',
  'ps3_sb_dma_ops',
  'ps3_ioc0_dma_ops',
]);

/** The PowerPC platform record of `platform`. */
export function powerpcPlatform(platform: string): PowerpcPlatform {
  const record = POWERPC_PLATFORMS[platform];
  if (record === undefined) throw new RangeError(`platform must be one of ${POWERPC_PLATFORM_NAMES.join(', ')}, got ${String(platform)}`);
  return record;
}

/**
 * The facts of one platform (a machine's `machine.arch`). `ARCH_DMA_MINALIGN` is `L1_CACHE_BYTES`
 * only with `CONFIG_NOT_COHERENT_CACHE` (asm/page_32.h); elsewhere it is not defined, so
 * `dma_get_cache_alignment()` is 1. No 2012 PowerPC ops read an attribute except the Cell IOMMU,
 * which reads `DMA_ATTR_WEAK_ORDERING` (the IOPTE strong-ordering bits and the fixed-window
 * switch); everything else — WRITE_COMBINE, NON_CONSISTENT, NO_KERNEL_MAPPING — is ignored.
 */
function platformFacts(platform: PowerpcPlatform): ArchFacts {
  return Object.freeze({
    name: 'powerpc',
    pageSizes: platform.pageSizes,
    cacheLineSize: platform.l1CacheBytes,
    dmaMinAlign: platform.coherent ? 1 : platform.l1CacheBytes,
    coherent: 'per-platform',
    physAddrBits: platform.physAddrBits,
    zones: platform.bits === 64 ? PPC64_ZONES : PPC32_ZONES,
    honouredAttrs: platform.honouredAttrs,
    iommus: platform.iommus,
    platforms: POWERPC_PLATFORM_NAMES,
    ops: platform.ops,
  } satisfies ArchFacts);
}

const FACTS: Readonly<Record<string, ArchFacts>> = Object.freeze(
  Object.fromEntries(POWERPC_PLATFORM_NAMES.map((name) => [name, platformFacts(powerpcPlatform(name))])),
);

/** The PowerPC facts of `platform`. */
export function powerpcFacts(platform: string): ArchFacts {
  const facts = FACTS[platform];
  if (facts === undefined) throw new RangeError(`platform must be one of ${POWERPC_PLATFORM_NAMES.join(', ')}, got ${String(platform)}`);
  return facts;
}

/**
 * PowerPC as `ArchFacts`: the default platform's (pSeries) numbers, with every IOMMU, op and
 * honoured attribute any platform has. Per-platform facts are in `powerpcFacts(platform)` and in
 * `machine.arch`.
 */
export const arch: ArchFacts = Object.freeze({
  ...powerpcFacts('pseries'),
  iommus: Object.freeze(['tce', 'cell-iommu']),
  ops: POWERPC_OPS,
  honouredAttrs: DMA_ATTR_WEAK_ORDERING,
} satisfies ArchFacts);
