/**
 * `swiotlb_bounce`: the copy between a bounce slot and the original buffer, done by the CPU as
 * the kernel's `memcpy` through the linear map (normal, cacheable accesses), so a non-coherent
 * machine sees the same cache effects as the real thing.
 */
import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import { INVALID_PHYS_ADDR, IO_TLB_SIZE } from './io-tlb.js';
import type { IoTlbMem } from './io-tlb-mem.js';
import type { IoTlbPool } from './io-tlb-pool.js';
import { swiotlbAlignOffset } from './slots.js';
import type { SwiotlbDevice } from './types.js';
import { addrMod } from '@kdma/hw';

/**
 * Copies `size` bytes between the slot at `tlbAddr` and the original buffer it stands for:
 * original → slot for `DMA_TO_DEVICE`, slot → original otherwise. `tlbAddr` may point anywhere
 * inside a mapping (a partial sync), even before its first byte (v6.10 allows that); padding
 * slots hold no original and are skipped; a copy running past the allocation is cut short with
 * the kernel's warning.
 */
export function swiotlbBounce(dev: SwiotlbDevice, mem: IoTlbMem, tlbAddr: number, size: number, dir: DmaDataDirection, pool: IoTlbPool): void {
  const index = Math.floor((tlbAddr - pool.start) / IO_TLB_SIZE);
  let origAddr = pool.origAddr[index] as number;
  if (origAddr === INVALID_PHYS_ADDR) return;
  let allocSize = pool.allocSize[index] as number;
  const tlbOffset = addrMod(tlbAddr - pool.start, IO_TLB_SIZE) - swiotlbAlignOffset(dev, 0, origAddr);
  origAddr += tlbOffset;
  allocSize -= tlbOffset;
  if (size > allocSize) {
    mem.warnOnce(dev.name, 'swiotlb-bounce-overflow', `Buffer overflow detected. Allocation size: ${allocSize}. Mapping size: ${size}.`);
    size = allocSize;
  }
  if (size <= 0) return;
  if (dir === DMA_TO_DEVICE) {
    mem.hw.cpuCopy(tlbAddr, origAddr, size, 'normal');
    mem.bouncedToDevice += size;
  } else {
    mem.hw.cpuCopy(origAddr, tlbAddr, size, 'normal');
    mem.bouncedFromDevice += size;
  }
}
