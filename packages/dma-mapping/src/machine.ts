import { bitMask, checkInteger, describe, Hardware, type MemoryRegion } from '@kdma/hw';
import { Mm, type KernelCpu, type Process } from '@kdma/mm';
import type { ArchDescription, ArchFacts, DmaDirectHooks } from './arch.js';
import { createDmaDebug } from './debug/create-dma-debug.js';
import type { DmaDebug } from './debug/dma-debug-hooks.js';
import { Device } from './device.js';
import type { DeviceOptions } from './device-options.js';
import { dmaDirectOps } from './dma-direct.js';
import { dmaSetupNeedSync } from './dma-mask.js';
import type { DmaMapOps } from './dma-map-ops.js';
import type { MachineOptions } from './machine-options.js';
import type { SwiotlbBackend } from './swiotlb-backend.js';
import { swiotlbDeviceInit, swiotlbInit } from './swiotlb-init.js';

/** `machine.iommu.stats()` (DESIGN.md). */
export interface IommuStats {
  readonly iotlbHits: number;
  readonly iotlbMisses: number;
  readonly faults: number;
  readonly mappedBytes: number;
  readonly flushes: number;
  readonly pendingFlushes: number;
}

/** The machine's IOMMU as the core sees it; `@kdma/iommu` provides it. */
export interface MachineIommu {
  /** The hardware's name, one of `arch.iommus`. */
  readonly name: string;
  stats(): IommuStats;
}

const GIB = 2 ** 30;
const MAX_RAM = 64 * GIB;

const commonOptions = new Set([
  'memory',
  'memoryRegions',
  'reservedMemory',
  'cpus',
  'seed',
  'dmaDebug',
  'cache',
  'cma',
  'swiotlb',
  'iommu',
  'iommuStrict',
  'platform',
  'pageSize',
]);

/**
 * A simulated machine: hardware, kernel memory, the DMA core and its devices. Built by
 * `buildMachine`, which every arch package's `createMachine` calls with its description.
 */
export class Machine {
  readonly arch: ArchFacts;
  readonly description: ArchDescription;
  readonly options: MachineOptions;
  readonly platform: string;
  readonly pageSize: number;
  readonly hw: Hardware;
  readonly mm: Mm;
  /** CPU accesses by kernel virtual address, on the current CPU (CPU 0 unless `runOn`). */
  readonly cpu: KernelCpu;
  /** dma-debug, when the machine was built with `dmaDebug: true`. */
  readonly dmaDebug: DmaDebug | null;
  /** The swiotlb pool dma-direct bounces through, if any. */
  swiotlb: SwiotlbBackend | null = null;
  /** The IOMMU hardware, if any. */
  iommu: MachineIommu | null = null;
  /** IOMMU strictness (`iommu.strict=`): unmaps invalidate the IOTLB at once. */
  readonly iommuStrict: boolean;
  /** dma-direct as an ops object: what `getDmaOps` returns for devices without their own. */
  readonly directOps: DmaMapOps = dmaDirectOps;
  /** The arch hooks dma-direct calls. */
  readonly directHooks: DmaDirectHooks;
  /** One past the highest RAM byte (`max_pfn << PAGE_SHIFT`). */
  readonly maxPhysAddress: number;
  /** Private state of the arch package and the layers above (platform data, IOMMU domains). */
  readonly archState = new Map<string, unknown>();
  private readonly deviceList: Device[] = [];
  private readonly warned = new Set<string>();

  constructor(description: ArchDescription, options: MachineOptions) {
    const facts = description.facts;
    checkOptions(description, options);
    this.arch = facts;
    this.description = description;
    this.options = options;
    this.platform = options.platform ?? (facts.platforms[0] as string);
    this.pageSize = options.pageSize ?? (facts.pageSizes[0] as number);
    this.iommuStrict = options.iommuStrict ?? true;
    const regions = options.memoryRegions ?? description.memoryLayout(options.memory ?? description.defaultMemory, this.platform);
    this.maxPhysAddress = Math.max(...regions.map((region) => region.base + region.size));
    this.hw = new Hardware({
      memoryRegions: regions,
      cacheLineSize: facts.cacheLineSize,
      cacheModel: description.needsCacheModel(this.platform),
      ...(options.cache === undefined ? {} : { cache: options.cache }),
      ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    const archMm = description.mmOptions?.(options, this.platform) ?? {};
    const cma = options.cma === false ? 0 : (options.cma ?? description.defaultCma);
    this.mm = new Mm(this.hw, {
      pageSize: this.pageSize,
      zones: facts.zones,
      cmaBytes: cma,
      kmallocMinAlign: description.kmallocMinAlign,
      ...(options.reservedMemory === undefined ? {} : { reserved: options.reservedMemory }),
      ...archMm,
    });
    this.cpu = this.mm.cpu;
    this.directHooks = description.directHooks(this);
    this.dmaDebug = options.dmaDebug === true ? createDmaDebug(this) : null;
    this.swiotlb = swiotlbInit(this, options);
    description.setupMachine?.(this, options);
  }

  /** The simulated clock (ns). */
  get clock() {
    return this.hw.clock;
  }

  /** The devices created and not removed. */
  get devices(): readonly Device[] {
    return this.deviceList;
  }

  /** Runs `fn` on simulated CPU `cpuId` (per-CPU IOVA caches, swiotlb areas, WC buffers). */
  runOn<T>(cpuId: number, fn: () => T): T {
    return this.hw.runOn(cpuId, fn);
  }

  /** A DMA-capable device on this machine, with its ops chosen as the arch chooses them. */
  createDevice(options: DeviceOptions): Device {
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const { name } = options;
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`options.name must be a non-empty string, got ${describe(name)}`);
    if (this.deviceList.some((dev) => dev.name === name)) throw new Error(`a device named ${name} already exists on this machine`);
    const dmaBits = options.dmaBits ?? 32;
    checkInteger(dmaBits, 'options.dmaBits', 1, 64);
    const coherent = this.deviceCoherence(options);
    const optional = (value: number | undefined, argName: string, fallback: number, min = 0): number => {
      if (value === undefined) return fallback;
      checkInteger(value, argName, min);
      return value;
    };
    const busDmaLimit = optional(options.busDmaLimit, 'options.busDmaLimit', 0);
    const dmaOffset = options.dmaOffset ?? 0;
    // Negative too: a bus that sees RAM above its physical address (Loongson: +0x80000000).
    checkInteger(dmaOffset, 'options.dmaOffset', -(2 ** 52) + 1, 2 ** 52 - 1);
    const dmaParms = {
      maxSegmentSize: optional(options.maxSegmentSize, 'options.maxSegmentSize', 65536, 1),
      segmentBoundaryMask: optional(options.segmentBoundaryMask, 'options.segmentBoundaryMask', Number.MAX_SAFE_INTEGER),
      minAlignMask: optional(options.minAlignMask, 'options.minAlignMask', 0),
    };
    if (options.restrictedPool !== undefined) checkInteger(options.restrictedPool, 'options.restrictedPool', 1);
    if (options.iommu === true && this.iommu === null) {
      throw new RangeError(`options.iommu: this ${this.arch.name} machine has no IOMMU (createMachine({ iommu: '${this.arch.iommus[0] ?? 'none'}' }))`);
    }
    const hw = this.hw.createBusMaster({ name, addressBits: Math.min(dmaBits, 52), coherent, dmaOffset });
    const dev = new Device({
      name,
      machine: this,
      hw,
      dmaMask: bitMask(dmaBits),
      coherent,
      busDmaLimit,
      dmaOffset,
      untrusted: options.untrusted === true,
      dmaParms,
    });
    swiotlbDeviceInit(this, dev, options);
    this.description.setupDevice?.(this, dev, options);
    dmaSetupNeedSync(dev);
    this.deviceList.push(dev);
    return dev;
  }

  private deviceCoherence(options: DeviceOptions): boolean {
    const byPlatform = this.description.defaultDeviceCoherent(this.platform, options);
    if (options.coherent === undefined) return byPlatform;
    if (typeof options.coherent !== 'boolean') throw new TypeError(`options.coherent must be a boolean, got ${describe(options.coherent)}`);
    const mode = this.arch.coherent;
    if (mode !== 'per-device' && options.coherent !== byPlatform) {
      throw new RangeError(
        `options.coherent: devices on ${this.arch.name}/${this.platform} are ${byPlatform ? 'always' : 'never'} coherent (coherent: '${mode}')`,
      );
    }
    return options.coherent;
  }

  /** Unbinds the driver: dma-debug reports whatever it left mapped or allocated. */
  removeDevice(dev: Device): void {
    const index = this.deviceList.indexOf(dev);
    if (index < 0) throw new Error(`dev is not a device of this machine`);
    this.dmaDebug?.deviceRemoved(dev);
    this.description.releaseDevice?.(this, dev);
    this.deviceList.splice(index, 1);
    dev.bound = false;
  }

  /** A user process whose VMAs drivers fill in their mmap handlers. */
  createProcess(): Process {
    return this.mm.createProcess();
  }

  /** `printk` with the device's name, as `dev_err`/`dev_warn` print it. */
  printk(level: 'err' | 'warn' | 'info' | 'debug', dev: Device | null, message: string): void {
    this.hw.dmesg.printk(level, dev === null ? message : `${dev.name}: ${message}`);
  }

  /** `dev_WARN_ONCE`: printed once per device and call site. */
  warnOnce(dev: Device, site: string, message: string): void {
    const key = `${dev.name}\u0000${site}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.printk('warn', dev, message);
  }
}

function checkOptions(description: ArchDescription, options: MachineOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  const facts = description.facts;
  const extra = new Set(description.extraOptions ?? []);
  for (const key of Object.keys(options)) {
    if (!commonOptions.has(key) && !extra.has(key)) {
      throw new TypeError(`options.${key} is not an option of a ${facts.name} machine`);
    }
  }
  if (options.memory !== undefined) {
    checkInteger(options.memory, 'options.memory', 1, MAX_RAM);
  }
  if (options.memoryRegions !== undefined) checkRegions(options.memoryRegions);
  if (options.platform !== undefined && !facts.platforms.includes(options.platform)) {
    throw new RangeError(`options.platform must be one of ${facts.platforms.join(', ')}, got ${describe(options.platform)}`);
  }
  if (options.pageSize !== undefined && !facts.pageSizes.includes(options.pageSize)) {
    throw new RangeError(`options.pageSize must be one of ${facts.pageSizes.join(', ')}, got ${describe(options.pageSize)}`);
  }
  if (options.iommu !== undefined && options.iommu !== false && !facts.iommus.includes(options.iommu)) {
    throw new RangeError(`options.iommu must be false or one of ${facts.iommus.join(', ') || '(none on this arch)'}, got ${describe(options.iommu)}`);
  }
  if (options.cpus !== undefined) checkInteger(options.cpus, 'options.cpus', 1, 256);
  if (options.seed !== undefined) checkInteger(options.seed, 'options.seed', 0, 2 ** 32 - 1);
  if (options.cma !== undefined && options.cma !== false) checkInteger(options.cma, 'options.cma', 0, MAX_RAM);
  for (const flag of ['dmaDebug', 'iommuStrict'] as const) {
    const value = options[flag];
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`options.${flag} must be a boolean, got ${describe(value)}`);
  }
}

function checkRegions(regions: readonly MemoryRegion[]): void {
  if (!Array.isArray(regions) || regions.length === 0) throw new TypeError('options.memoryRegions must be a non-empty array of { base, size }');
  regions.forEach((region, i) => {
    checkInteger(region?.base, `options.memoryRegions[${i}].base`);
    checkInteger(region?.size, `options.memoryRegions[${i}].size`, 1);
  });
}

/** `buildMachine`: assembles a machine for an arch, so no arch repeats the assembly. */
export function buildMachine(description: ArchDescription, options: MachineOptions = {}): Machine {
  return new Machine(description, options);
}
