import type { Machine } from './machine.js';
import type { MachineOptions } from './machine-options.js';
import type { SwiotlbBackend } from './swiotlb-backend.js';

/**
 * `swiotlb_init`: the machine's default bounce pool, from the `swiotlb` option (`swiotlb=` on the
 * command line) or the arch's default. No pool yet: `@kdma/swiotlb` brings it.
 */
export function swiotlbInit(_machine: Machine, options: MachineOptions): SwiotlbBackend | null {
  if (options.swiotlb === undefined || options.swiotlb === false) return null;
  throw new RangeError('options.swiotlb: swiotlb is not built yet');
}
