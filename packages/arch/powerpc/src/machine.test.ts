import { describe, expect, it } from '@jest/globals';
import { DMA_ATTR_WEAK_ORDERING } from '@kdma/dma-attrs';
import { getDmaOps, type MachineOptions } from '@kdma/dma-mapping/ops';
import { arch, createMachine, POWERPC_OPS, POWERPC_PLATFORM_NAMES, powerpcFacts, PPC32_LOWMEM_SIZE, type PowerpcDeviceOptions } from './index.js';
import { GIB } from './test-machines.js';

describe('powerpc: facts', () => {
  it('lists the platforms with pSeries first, and every ops name', () => {
    expect(arch.name).toBe('powerpc');
    expect(arch.platforms).toEqual(['pseries', 'cell', 'ps3', 'powermac', 'mpc85xx', 'ppc44x']);
    expect(arch.platforms).toEqual(POWERPC_PLATFORM_NAMES);
    expect([...arch.ops].sort()).toEqual([...POWERPC_OPS].sort());
    expect(arch.iommus).toEqual(['tce', 'cell-iommu']);
    expect(arch.honouredAttrs).toBe(DMA_ATTR_WEAK_ORDERING);
    expect(arch.coherent).toBe('per-platform');
  });

  it.each([
    ['pseries', 128, 1, [4096, 65536], 'DMA'],
    ['cell', 128, 1, [4096, 65536], 'DMA'],
    ['ps3', 128, 1, [4096, 65536], 'DMA'],
    ['powermac', 32, 1, [4096], 'DMA,NORMAL'],
    ['mpc85xx', 32, 1, [4096], 'DMA,NORMAL'],
    ['ppc44x', 32, 32, [4096, 16384, 65536], 'DMA,NORMAL'],
  ] as const)('%s: %i-byte lines, ARCH_DMA_MINALIGN %i, pages %j, zones %s', (platform, line, minAlign, pages, zones) => {
    const facts = powerpcFacts(platform);
    expect(facts.cacheLineSize).toBe(line);
    expect(facts.dmaMinAlign).toBe(minAlign);
    expect(facts.pageSizes).toEqual(pages);
    expect(facts.zones.map((zone) => zone.name).join(',')).toBe(zones);
    const m = createMachine({ platform });
    expect(m.arch).toBe(facts);
    expect(m.hw.cacheLineSize).toBe(line);
    expect(m.hw.cache === null).toBe(platform !== 'ppc44x');
  });

  it('makes ZONE_DMA all of lowmem', () => {
    expect(powerpcFacts('ppc44x').zones[0]).toEqual({ name: 'DMA', end: PPC32_LOWMEM_SIZE });
    expect(powerpcFacts('pseries').zones).toEqual([{ name: 'DMA', end: Number.POSITIVE_INFINITY }]);
  });
});

describe('powerpc: ops by platform and bus', () => {
  it.each([
    ['pseries', 'pci', {}, 'dma_iommu_ops'],
    ['pseries', 'vio', {}, 'dma_iommu_ops'],
    ['pseries', 'vio', { cmo: 64 * 2 ** 20 }, 'vio_dma_mapping_ops'],
    ['pseries', 'ibmebus', {}, 'ibmebus_dma_ops'],
    ['cell', 'pci', {}, 'dma_iommu_ops'],
    ['cell', 'of-platform', {}, 'dma_iommu_ops'],
    ['cell', 'pci', { memory: GIB }, 'dma_direct_ops'],
    ['ps3', 'ps3-sb', {}, 'ps3_sb_dma_ops'],
    ['ps3', 'ps3-ioc0', {}, 'ps3_ioc0_dma_ops'],
    ['powermac', 'pci', {}, 'dma_direct_ops'],
    ['mpc85xx', 'pci', {}, 'dma_direct_ops'],
    ['mpc85xx', 'pci', { memory: 5 * GIB }, 'swiotlb_dma_ops'],
    ['ppc44x', 'of-platform', {}, 'dma_direct_ops'],
  ] as const)('%s, %s device %j: %s', (platform, bus, extra, ops) => {
    const m = createMachine({ platform, ...extra } as MachineOptions);
    expect(getDmaOps(m.createDevice({ name: 'dev0', bus })).name).toBe(ops);
  });
});

describe('powerpc: option checks', () => {
  it.each([
    [{ platform: 'chrp' }, RangeError],
    [{ platform: 'cell', defaultBus: 'vio' }, RangeError],
    [{ platform: 'cell', cmo: 2 ** 24 }, RangeError],
    [{ cmo: -1 }, RangeError],
    [{ cmo: 2 ** 20 }, RangeError],
    [{ tceWindowSize: 3 * 2 ** 20 }, RangeError],
    [{ platform: 'cell', iommuFixed: 'sometimes' }, RangeError],
    [{ pciDramOffset: 0x8000_0000 }, RangeError],
    [{ iommu: false }, RangeError],
    [{ iommu: 'dart' }, RangeError],
    [{ platform: 'powermac', pageSize: 65536 }, RangeError],
    [{ cellBridge: 'spider' }, TypeError],
  ] as const)('refuses %j', (options, error) => {
    expect(() => createMachine(options as MachineOptions)).toThrow(error);
  });

  it.each([
    ['pseries', { bus: 'ps3-sb' }, RangeError],
    ['pseries', { vioDesiredDma: 2 ** 22 }, RangeError],
    ['pseries', { bus: 'vio', vioDesiredDma: -5 }, TypeError],
    ['pseries', { iommu: false }, RangeError],
    ['pseries', { coherent: false }, RangeError],
    ['ps3', { ps3DmaPageSize: 13 }, RangeError],
    ['powermac', { ps3DmaPageSize: 16 }, RangeError],
    ['ppc44x', { coherent: true }, RangeError],
  ] as const)('%s refuses device options %j', (platform, options, error) => {
    const m = createMachine({ platform });
    expect(() => m.createDevice({ name: 'dev0', ...(options as Omit<PowerpcDeviceOptions, 'name'>) })).toThrow(error);
  });
});
