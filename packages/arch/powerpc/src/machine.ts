import { describe, type DmaFault } from '@kdma/hw';
import type { Device, DeviceOptions } from '@kdma/dma-mapping';
import { buildMachine, setDmaOps, type ArchDescription, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { powerpcFacts, powerpcPlatform, type PowerpcBus } from './arch.js';
import { CellIommu, CELL_DYNAMIC_WINDOW_SIZE, cellDeviceSetup } from './cell-iommu.js';
import { archData, setIommuTableBase, type PowerpcArchData } from './device.js';
import { dmaDirectOps } from './dma.js';
import { dmaIommuOps } from './dma-iommu.js';
import { CONSISTENT_SIZE, powerpcDirectHooks } from './dma-noncoherent.js';
import { ppcSwiotlbDmaOps } from './dma-swiotlb.js';
import { ibmebusDmaOps, ibmebusWindow } from './ibmebus.js';
import { PowerpcIommu, WindowedTranslation } from './io-page-table.js';
import { Lv1 } from './lv1.js';
import { checkBus, POWERPC_OPTION_NAMES, powerpcConfig, PS3_DMA_16M, PS3_DMA_1M, PS3_DMA_4K, PS3_DMA_64K, type PowerpcDeviceOptions, type PowerpcOptions } from './options.js';
import { ps3DeviceSetup } from './ps3-system-bus.js';
import { pseriesTable } from './pseries-iommu.js';
import { POWERPC_STATE_KEY, powerpcState, type PowerpcState } from './state.js';
import { VioCmo, VioDevCmo, vioDesired, vioDmaMappingOps, VIO_CMO_MIN_ENT } from './vio.js';

const MIB = 2 ** 20;
const FOUR_GIB = 2 ** 32;

/** A PowerPC machine: `createDevice` takes the PowerPC device options (`bus`, …). */
export type PowerpcMachine = Machine & { createDevice(options: PowerpcDeviceOptions): Device };

/**
 * `mpc85xx_ds_setup_arch`: "if (memblock_end_of_DRAM() - 1 > max) { ppc_swiotlb_enable = 1;
 * set_pci_dma_ops(&swiotlb_dma_ops); ... }", with `max` the end of the PCI inbound window — here
 * all of the 32-bit space.
 */
function mpc85xxNeedsSwiotlb(machine: Machine): boolean {
  return machine.maxPhysAddress - 1 > FOUR_GIB - 1;
}

/** `setup_arch` / the platform's `*_iommu_init`: what the platform sets up before devices appear. */
function setupMachine(machine: Machine, options: MachineOptions): void {
  const config = powerpcConfig(options);
  const state: PowerpcState = { config, iommu: null, pseries: null, cell: null, lv1: null, cmo: null, swiotlbEnabled: false, nextDevId: 1 };
  machine.archState.set(POWERPC_STATE_KEY, state);
  switch (config.platform.name) {
    case 'pseries': {
      state.iommu = new PowerpcIommu('tce', machine);
      state.pseries = { iommu: state.iommu, hcalls: { H_PUT_TCE: 0, H_PUT_TCE_INDIRECT: 0, H_STUFF_TCE: 0 }, nextLiobn: 1 };
      machine.iommu = state.iommu;
      if (config.cmo !== false) state.cmo = new VioCmo(config.cmo);
      break;
    }
    case 'cell': {
      // cell_iommu_init: "If IOMMU is disabled or we have little enough RAM to not need to enable
      // it, we setup a direct mapping."
      const off = options.iommu === false;
      const force = options.iommu === 'cell-iommu';
      let enabled = !(off || (!force && machine.maxPhysAddress <= CELL_DYNAMIC_WINDOW_SIZE));
      if (!enabled && machine.maxPhysAddress > CELL_DYNAMIC_WINDOW_SIZE) {
        machine.printk(
          'warn',
          null,
          `iommu: force-enabled, dma window (${CELL_DYNAMIC_WINDOW_SIZE / MIB}MB) smaller than total memory (${Math.floor(machine.maxPhysAddress / MIB)}MB)`,
        );
        enabled = true;
      }
      if (enabled) {
        state.cell = new CellIommu(machine, config.iommuFixed);
        state.iommu = state.cell.iommu;
        machine.iommu = state.iommu;
      } else {
        machine.printk('info', null, 'iommu: disabled, direct DMA offset is 0x0');
      }
      break;
    }
    case 'ps3':
      state.lv1 = new Lv1(machine);
      break;
    case 'mpc85xx':
      state.swiotlbEnabled = mpc85xxNeedsSwiotlb(machine);
      break;
    default:
      break;
  }
}

const PS3_PAGE_SHIFTS = [PS3_DMA_4K, PS3_DMA_64K, PS3_DMA_1M, PS3_DMA_16M];

/** Checks the PowerPC-only device options against the device's bus. */
function checkDeviceOptions(state: PowerpcState, bus: PowerpcBus, options: PowerpcDeviceOptions): void {
  const { vioDesiredDma, ps3DmaPageSize } = options;
  if (vioDesiredDma !== undefined) {
    if (typeof vioDesiredDma !== 'number' || !Number.isSafeInteger(vioDesiredDma) || vioDesiredDma < 0) {
      throw new TypeError(`options.vioDesiredDma must be a non-negative integer, got ${describe(vioDesiredDma)}`);
    }
    if (bus !== 'vio' || state.cmo === null) throw new RangeError('options.vioDesiredDma: only VIO devices of a CMO partition have a desired entitlement');
  }
  if (ps3DmaPageSize !== undefined) {
    if (!PS3_PAGE_SHIFTS.includes(ps3DmaPageSize)) {
      throw new RangeError(`options.ps3DmaPageSize must be PS3_DMA_4K, PS3_DMA_64K, PS3_DMA_1M or PS3_DMA_16M (12, 16, 20, 24), got ${describe(ps3DmaPageSize)}`);
    }
    if (bus !== 'ps3-sb' && bus !== 'ps3-ioc0') throw new RangeError('options.ps3DmaPageSize: only PS3 system-bus devices have a DMA region');
  }
  if (options.iommu === false && state.iommu !== null && bus !== 'ibmebus') {
    throw new RangeError(`options.iommu: every ${bus} device of this ${state.config.platform.name} machine translates through its IOMMU`);
  }
}

/**
 * The bus code that creates a device and picks its ops (`pcibios_setup_bus_devices` /
 * `ppc_md.pci_dma_dev_setup`, `vio_register_device_node`, `ibmebus_create_device`,
 * `ps3_system_bus_device_register`, the 85xx swiotlb bus notifier).
 */
function setupDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  const state = powerpcState(machine);
  const opts = options as PowerpcDeviceOptions;
  const platform = state.config.platform;
  const bus = opts.bus ?? state.config.defaultBus;
  checkBus(bus, platform, 'options.bus');
  checkDeviceOptions(state, bus, opts);
  const data: PowerpcArchData = { bus, dmaOffset: dev.dmaOffset === 0 ? 0 : -dev.dmaOffset, iommuTable: null, vio: null, ps3: null };
  dev.archData = data;
  const direct = platform.name === 'powermac' || platform.name === 'ppc44x' || platform.name === 'mpc85xx' || (platform.name === 'cell' && state.cell === null);
  if (!direct && opts.dmaOffset !== undefined) {
    throw new RangeError(`options.dmaOffset: only dma_direct_ops devices have a dma_offset (this ${platform.name} device gets ${bus} ops)`);
  }
  switch (platform.name) {
    case 'pseries':
      setupPseriesDevice(machine, state, dev, bus, opts);
      break;
    case 'cell':
      cellDeviceSetup(state.cell, dev);
      break;
    case 'ps3':
      ps3DeviceSetup(state.lv1 as Lv1, dev, bus === 'ps3-sb' ? 'sb' : 'ioc0', opts.ps3DmaPageSize ?? PS3_DMA_64K, state.nextDevId++);
      break;
    case 'mpc85xx':
      if (!state.swiotlbEnabled) {
        setDmaOps(dev, dmaDirectOps);
      } else if (bus === 'pci') {
        // pci_dma_dev_setup_swiotlb: max_direct_dma_addr = dma_window_base_cur + dma_window_size.
        dev.busDmaLimit = FOUR_GIB - 1;
        setDmaOps(dev, ppcSwiotlbDmaOps);
      } else {
        // ppc_swiotlb_bus_notify: "if ((dma_get_mask(dev) + 1) < memblock_end_of_DRAM())"
        setDmaOps(dev, dev.dmaMask + 1 < machine.maxPhysAddress ? ppcSwiotlbDmaOps : dmaDirectOps);
      }
      break;
    default:
      setDmaOps(dev, dmaDirectOps);
      break;
  }
}

/** pSeries: a PE's TCE table for PCI, the device's own window for VIO, the GX bus for ibmebus. */
function setupPseriesDevice(machine: Machine, state: PowerpcState, dev: Device, bus: PowerpcBus, opts: PowerpcDeviceOptions): void {
  const tce = state.pseries;
  if (tce === null) throw new Error('pSeries machine without TCE state');
  const report = (source: string) => (fault: DmaFault) => tce.iommu.reportFault(fault, source);
  if (bus === 'ibmebus') {
    setDmaOps(dev, ibmebusDmaOps);
    dev.hw.translation = new WindowedTranslation([ibmebusWindow(machine.maxPhysAddress)], report('ibmebus'));
    return;
  }
  const tbl = pseriesTable(machine, tce, 0, state.config.tceWindowSize, 0);
  setIommuTableBase(dev, tbl);
  dev.hw.translation = new WindowedTranslation([tbl.hw], report(bus === 'vio' ? 'vio' : 'EEH'));
  if (bus === 'vio' && state.cmo !== null) {
    // vio_cmo_bus_probe, then vio_dma_mapping_ops.
    const viodev = new VioDevCmo(dev, vioDesired(opts.vioDesiredDma ?? VIO_CMO_MIN_ENT));
    if (state.cmo.busProbe(viodev) !== 0) throw new Error(`${dev.name}: vio_cmo_bus_probe: insufficient free entitlement to add device`);
    archData(dev).vio = viodev;
    setDmaOps(dev, vioDmaMappingOps);
    return;
  }
  setDmaOps(dev, dmaIommuOps);
}

const DESCRIPTIONS = new Map<string, ArchDescription>();

/** How `buildMachine` assembles a PowerPC machine of `platform`. */
export function powerpcDescription(platformName: string): ArchDescription {
  const known = DESCRIPTIONS.get(platformName);
  if (known !== undefined) return known;
  const platform = powerpcPlatform(platformName);
  const description: ArchDescription = {
    facts: powerpcFacts(platformName),
    defaultMemory: platform.defaultMemory,
    defaultCma: 0,
    // ARCH_KMALLOC_MINALIGN: ARCH_DMA_MINALIGN with NOT_COHERENT_CACHE, else 8.
    kmallocMinAlign: platform.coherent ? 8 : platform.l1CacheBytes,
    extraOptions: POWERPC_OPTION_NAMES,
    memoryLayout: (memory) => [{ base: 0, size: memory }],
    needsCacheModel: () => !platform.coherent,
    defaultDeviceCoherent: () => platform.coherent,
    mmOptions: () => ({
      // PPC64: the vmalloc region is vast; PPC32: VMALLOC_START..VMALLOC_END below the ioremap area.
      vmallocSize: platform.bits === 64 ? 2 ** 40 : 512 * MIB,
      consistentSize: platform.coherent ? 0 : CONSISTENT_SIZE,
    }),
    directHooks: powerpcDirectHooks,
    ...(platformName === 'mpc85xx' ? { swiotlbByDefault: mpc85xxNeedsSwiotlb } : {}),
    setupMachine,
    setupDevice,
  };
  DESCRIPTIONS.set(platformName, description);
  return description;
}

/** The device options a PowerPC bus implies: 64 address lines on the GX bus, PCI_DRAM_OFFSET on PCI. */
function deviceDefaults(state: PowerpcState, options: PowerpcDeviceOptions): PowerpcDeviceOptions {
  if (typeof options !== 'object' || options === null) return options;
  const bus = options.bus ?? state.config.defaultBus;
  const extra: { dmaBits?: number; dmaOffset?: number } = {};
  if (bus === 'ibmebus' && options.dmaBits === undefined) extra.dmaBits = 64;
  const direct = state.config.platform.bits === 32;
  if (direct && bus === 'pci' && options.dmaOffset === undefined && state.config.pciDramOffset !== 0) {
    // pcibios_setup_bus_devices: set_dma_offset(&dev->dev, PCI_DRAM_OFFSET).
    extra.dmaOffset = -state.config.pciDramOffset;
  }
  return { ...options, bus, ...extra };
}

/**
 * A PowerPC machine of `platform` ('pseries' by default; 'cell', 'ps3', 'powermac', 'mpc85xx',
 * 'ppc44x'), with its devices' ops chosen by bus as the 2012 kernel chose them.
 */
export function createMachine(options: MachineOptions & PowerpcOptions = {}): PowerpcMachine {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const config = powerpcConfig(options);
  if (config.platform.name === 'pseries' && options.iommu === false) {
    throw new RangeError('options.iommu: a pSeries LPAR cannot turn its TCE tables off (the hypervisor translates every DMA)');
  }
  const machine = buildMachine(powerpcDescription(config.platform.name), options);
  const state = powerpcState(machine);
  const create = machine.createDevice.bind(machine);
  machine.createDevice = (deviceOptions: PowerpcDeviceOptions) => create(deviceDefaults(state, deviceOptions));
  return machine as PowerpcMachine;
}
