import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';
import { MachineSwiotlb } from '@kdma/dma-mapping/ops';
import { swiotlbFreePool, swiotlbInit, type SwiotlbInitOptions } from '@kdma/swiotlb';
import { PCI_DMA_THRESHOLD } from './arch.js';

/**
 * `swiotlb_init` on PKUnity-3: the pool came from `alloc_bootmem_low_pages`, the lowest free
 * memory after the kernel image, so it lies inside the 128 MiB PCI window and bounce buffers are
 * reachable. The core places the default pool below 4 GiB from the highest zone down, which here
 * is above 128 MiB; until the core takes an arch low-address limit, the pool is moved: the core's
 * pool is given back and made again below `PCI_DMA_THRESHOLD` with the same options.
 */
export function puv3SwiotlbInit(machine: Machine, options: MachineOptions): void {
  const backend = machine.swiotlb;
  if (!(backend instanceof MachineSwiotlb) || backend.defaultMem === null) return;
  const old = backend.defaultMem;
  const pool = old.defpool;
  if (pool === null || pool.end - 1 <= PCI_DMA_THRESHOLD) return;
  for (const each of old.pools) swiotlbFreePool(old, each);
  const given = typeof options.swiotlb === 'object' && options.swiotlb !== null ? options.swiotlb : {};
  const init: SwiotlbInitOptions = {
    ...(given.size === undefined ? {} : { size: given.size }),
    ...(given.areas === undefined ? {} : { areas: given.areas }),
    ...(given.force === undefined ? {} : { force: given.force }),
    ...(given.dynamic === undefined ? {} : { dynamic: given.dynamic }),
    ...(given.leakyBounce === undefined ? {} : { leakyBounce: given.leakyBounce }),
    physLimit: PCI_DMA_THRESHOLD,
    zones: machine.arch.zones,
  };
  const mem = swiotlbInit(machine.hw, machine.mm, init);
  machine.swiotlb = mem === null ? null : new MachineSwiotlb(machine, mem);
}
