import type { DeviceOptions } from '@kdma/dma-mapping';
import type { MachineOptions } from '@kdma/dma-mapping/ops';
import { checkInteger, describe, isPowerOfTwo } from '@kdma/hw';
import { powerpcPlatform, POWERPC_PLATFORM_NAMES, type PowerpcBus, type PowerpcPlatform } from './arch.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** `iommu_fixed=` on the Cell kernel command line. */
export type IommuFixed = 'strong' | 'weak' | 'off';

/** PowerPC's own `createMachine` options. */
export interface PowerpcOptions {
  /**
   * The bus of devices whose `createDevice` options do not name one (default: the platform's
   * first bus, `pci` on most, `ps3-sb` on the PS3). The conformance kit creates plain devices;
   * this is how a machine hands them to vio, ibmebus or the PS3's IOC0.
   */
  readonly defaultBus?: PowerpcBus;
  /**
   * pSeries: the partition's I/O entitlement in bytes under Cooperative Memory Overcommit
   * (`FW_FEATURE_CMO`, `h_get_mpp`'s `entitled_mem`); VIO devices then get
   * `vio_dma_mapping_ops`. `false` (default): a dedicated-memory partition, VIO devices on
   * `dma_iommu_ops`.
   */
  readonly cmo?: number | false;
  /**
   * pSeries: bytes of the DMA window (`ibm,dma-window`, `ibm,my-dma-window`) each PCI endpoint
   * and each VIO device gets — its own TCE table (default 256 MiB).
   */
  readonly tceWindowSize?: number;
  /** Cell: `iommu_fixed=` (default `'strong'`; `'off'` disables the fixed 64-bit window). */
  readonly iommuFixed?: IommuFixed;
  /**
   * PPC32: `PCI_DRAM_OFFSET` (`pci_dram_offset`, from the host bridge's `dma-ranges`): where RAM
   * appears to PCI devices, given to each PCI device as its `archdata.dma_offset` (default 0).
   */
  readonly pciDramOffset?: number;
}

export const POWERPC_OPTION_NAMES = ['defaultBus', 'cmo', 'tceWindowSize', 'iommuFixed', 'pciDramOffset'] as const;

/** The PS3's DMA region page sizes (`enum ps3_dma_page_size`): the IO page shift. */
export const PS3_DMA_4K = 12;
export const PS3_DMA_64K = 16;
export const PS3_DMA_1M = 20;
export const PS3_DMA_16M = 24;

/** `machine.createDevice` options on a PowerPC machine. */
export interface PowerpcDeviceOptions extends DeviceOptions {
  /**
   * The bus (default: the machine's `defaultBus`): `pci` (the platform's PCI ops: TCE, Cell,
   * direct or swiotlb), `of-platform` (an OF platform device), `vio` (pSeries virtual I/O),
   * `ibmebus` (pSeries GX-bus eHCA/eHEA: 64 address lines unless `dmaBits` says otherwise),
   * `ps3-sb` / `ps3-ioc0` (a PS3 system-bus device of `PS3_DEVICE_TYPE_SB` / `_IOC0`).
   */
  readonly bus?: PowerpcBus;
  /** VIO under CMO: the driver's `get_desired_dma()` in bytes (at least `VIO_CMO_MIN_ENT`). */
  readonly vioDesiredDma?: number;
  /** PS3: the page size of the device's DMA region, `PS3_DMA_4K`..`PS3_DMA_16M` (default 64K). */
  readonly ps3DmaPageSize?: number;
}

/** The checked PowerPC options of a machine. */
export interface PowerpcConfig {
  readonly platform: PowerpcPlatform;
  readonly defaultBus: PowerpcBus;
  readonly cmo: number | false;
  readonly tceWindowSize: number;
  readonly iommuFixed: IommuFixed;
  readonly pciDramOffset: number;
}

/** Reads and checks the PowerPC options of a machine's options. */
export function powerpcConfig(options: MachineOptions): PowerpcConfig {
  const name = options.platform ?? POWERPC_PLATFORM_NAMES[0];
  if (typeof name !== 'string' || !POWERPC_PLATFORM_NAMES.includes(name)) {
    throw new RangeError(`options.platform must be one of ${POWERPC_PLATFORM_NAMES.join(', ')}, got ${describe(name)}`);
  }
  const platform = powerpcPlatform(name);
  const defaultBus = options['defaultBus'] ?? platform.buses[0];
  checkBus(defaultBus, platform, 'options.defaultBus');
  const cmo = options['cmo'] ?? false;
  if (cmo !== false) {
    checkInteger(cmo, 'options.cmo', 0, 64 * GIB);
    if (name !== 'pseries') throw new RangeError(`options.cmo: Cooperative Memory Overcommit is a pSeries feature, not ${name}'s`);
  }
  const tceWindowSize = options['tceWindowSize'] ?? 256 * MIB;
  checkInteger(tceWindowSize, 'options.tceWindowSize', 64 * 1024, 64 * GIB);
  if (!isPowerOfTwo(tceWindowSize)) throw new RangeError(`options.tceWindowSize must be a power of two, got ${tceWindowSize}`);
  const iommuFixed = options['iommuFixed'] ?? 'strong';
  if (iommuFixed !== 'strong' && iommuFixed !== 'weak' && iommuFixed !== 'off') {
    throw new RangeError(`options.iommuFixed must be 'strong', 'weak' or 'off', got ${describe(iommuFixed)}`);
  }
  const pciDramOffset = options['pciDramOffset'] ?? 0;
  checkInteger(pciDramOffset, 'options.pciDramOffset', 0, 2 ** 36);
  if (pciDramOffset !== 0 && platform.bits !== 32) {
    throw new RangeError(`options.pciDramOffset: PCI_DRAM_OFFSET is 0 on PPC64 (${name})`);
  }
  return Object.freeze({ platform, defaultBus, cmo: cmo as number | false, tceWindowSize, iommuFixed, pciDramOffset });
}

/** Throws unless `bus` is one of the platform's buses. */
export function checkBus(bus: unknown, platform: PowerpcPlatform, name: string): asserts bus is PowerpcBus {
  if (typeof bus !== 'string' || !(platform.buses as readonly string[]).includes(bus)) {
    throw new RangeError(`${name} must be one of ${platform.buses.join(', ')} on ${platform.name}, got ${describe(bus)}`);
  }
}
