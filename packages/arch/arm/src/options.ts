import { checkInteger, describe } from '@kdma/hw';
import type { MachineOptions } from '@kdma/dma-mapping/ops';

/** ARM's own `createMachine` options. */
export interface ArmOptions {
  /**
   * Bytes of the fixed consistent DMA area of the 2011 kernels (`CONSISTENT_DMA_SIZE`, 2 MiB by
   * default there); used for coherent remaps when `cma: false`. 0: remap into vmalloc, as later.
   */
  readonly consistentDmaSize?: number;
  /** `CONFIG_ARM_DMA_MEM_BUFFERABLE` (default true): coherent memory is bufferable, not strongly ordered. */
  readonly dmaMemBufferable?: boolean;
}

export const ARM_OPTION_NAMES = ['consistentDmaSize', 'dmaMemBufferable'] as const;

/** Reads and checks the ARM options of a machine's options. */
export function armOptions(options: MachineOptions): Required<ArmOptions> {
  const consistentDmaSize = options['consistentDmaSize'] ?? 0;
  checkInteger(consistentDmaSize, 'options.consistentDmaSize', 0, 2 ** 30);
  const dmaMemBufferable = options['dmaMemBufferable'] ?? true;
  if (typeof dmaMemBufferable !== 'boolean') {
    throw new TypeError(`options.dmaMemBufferable must be a boolean, got ${describe(dmaMemBufferable)}`);
  }
  return { consistentDmaSize, dmaMemBufferable };
}
