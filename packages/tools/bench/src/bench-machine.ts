/**
 * The machine and device a path is measured on. The kernel benchmark measures whatever path the
 * device bound to it takes (you pick one by binding a device behind an IOMMU or not, and by booting
 * with `swiotlb=force` or `iommu.strict=`); here each path is a machine built with the options that
 * select it, and one device, as `__map_benchmark_probe` binds one.
 */
import { createMachine as createArmMachine } from '@kdma/arch-arm';
import { createMachine as createX86Machine } from '@kdma/arch-x86';
import { dmaBitMask, dmaSetMask, type Device } from '@kdma/dma-mapping';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { MapBenchmarkError } from './errors.js';
import type { BenchArch, BenchPath } from './options.js';

/** The IOMMU each arch's `iommu-*` paths put the device behind (the arch's usual one). */
const ARCH_IOMMU: Readonly<Record<BenchArch, string>> = { arm: 'arm-smmu', x86: 'intel-iommu' };

/** The device's name: the driver's, as `dma_map_benchmark` is bound through driver_override. */
export const BENCH_DEVICE_NAME = 'dma_map_benchmark';

/** The machine options that make a device take `path` on `arch`. */
export function pathMachineOptions(arch: BenchArch, path: BenchPath): MachineOptions {
  switch (path) {
    case 'direct':
      return { swiotlb: false, iommu: false };
    case 'swiotlb':
      // swiotlb=force: dma-direct bounces every streaming mapping.
      return { swiotlb: { force: true }, iommu: false };
    case 'iommu-strict':
      return { swiotlb: false, iommu: ARCH_IOMMU[arch], iommuStrict: true };
    case 'iommu-lazy':
      return { swiotlb: false, iommu: ARCH_IOMMU[arch], iommuStrict: false };
  }
}

export interface BenchMachine {
  readonly machine: Machine;
  readonly dev: Device;
}

/**
 * A machine with `cpus` simulated CPUs for `path` on `arch`, and the benchmark's device with its
 * DMA mask set to `dmaBits` as map_benchmark_ioctl sets it (`dma_set_mask(DMA_BIT_MASK(dma_bits))`,
 * -EINVAL when the mask is not supported).
 */
export function createBenchMachine(arch: BenchArch, path: BenchPath, cpus: number, seed: number, dmaBits: number): BenchMachine {
  const options: MachineOptions = { cpus, seed, ...pathMachineOptions(arch, path) };
  const machine = arch === 'arm' ? createArmMachine(options) : createX86Machine(options);
  // The hardware can address everything; the mask is what the ioctl sets.
  const dev = machine.createDevice({ name: BENCH_DEVICE_NAME, dmaBits: 64 });
  if (dmaSetMask(dev, dmaBitMask(dmaBits)) !== 0) {
    throw new MapBenchmarkError(`failed to set dma_mask on device ${dev.name} (DMA_BIT_MASK(${dmaBits}) on ${arch}, path ${path})`, 'EINVAL');
  }
  return { machine, dev };
}
