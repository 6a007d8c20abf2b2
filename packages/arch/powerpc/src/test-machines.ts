import { dmaBitMask, dmaSetMaskAndCoherent } from '@kdma/dma-mapping';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { createMachine, type PowerpcDeviceOptions } from './index.js';

/** Test helpers shared by the conformance and behaviour tests (not part of the package). */

export const MIB = 2 ** 20;
export const GIB = 2 ** 30;

/**
 * A machine whose devices act as a 64-bit driver does at probe: created with 64 address lines
 * and `dma_set_mask_and_coherent(DMA_BIT_MASK(64))` — unless the caller names `dmaBits`. On a Cell
 * with the fixed window this moves them to `dma_iommu_fixed_ops`.
 */
export function withSixtyFourBitDevices(options: MachineOptions = {}): Machine {
  const m = createMachine(options);
  const create = m.createDevice.bind(m);
  m.createDevice = (deviceOptions: PowerpcDeviceOptions) => {
    if (deviceOptions.dmaBits !== undefined) return create(deviceOptions);
    const dev = create({ ...deviceOptions, dmaBits: 64 });
    if (dmaSetMaskAndCoherent(dev, dmaBitMask(64)) !== 0) throw new Error(`${dev.name}: the 64-bit mask was refused`);
    return dev;
  };
  return m;
}

/** Asserts a value is not null (for allocations the test expects to succeed). */
export function must<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} failed`);
  return value;
}
