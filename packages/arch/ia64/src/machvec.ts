import type { DmaDataDirection } from '@kdma/dma-attrs';
import type { Device } from '@kdma/dma-mapping';
import type { Scatterlist } from '@kdma/scatterlist';

/*
 * arch/ia64/kernel/machvec.c: the sync hooks of the ia64 ops. I/O is cache-coherent, so handing a
 * buffer over is only a matter of ordering the CPU's accesses against the device's.
 */

/** `machvec_dma_sync_single`: a memory barrier, nothing more ("DMA is cache-coherent"). */
export function machvecDmaSyncSingle(dev: Device, _addr: number, _size: number, _dir: DmaDataDirection): void {
  dev.machine.cpu.mb();
}

/** `machvec_dma_sync_sg`: the same for a list. */
export function machvecDmaSyncSg(dev: Device, _sgl: Scatterlist[], _nents: number, _dir: DmaDataDirection): void {
  dev.machine.cpu.mb();
}
