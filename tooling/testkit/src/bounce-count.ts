import { afterEach } from '@jest/globals';
import type { Machine, MachineOptions } from '@kdma/dma-mapping/ops';

/** A `createMachine` that counts what swiotlb bounced on the machines it made. */
export interface BounceCount {
  readonly createMachine: (options?: MachineOptions) => Machine;
  /** Bytes bounced to and from devices by the machines of the tests finished so far. */
  bytes(): number;
}

/**
 * Wraps an arch's `createMachine` so that a kit run meant to bounce can show it did: after each
 * test (an `afterEach` of the describe block this is called in) the bytes the test's machines
 * bounced are added up and the machines let go.
 */
export function countBounces(createMachine: (options?: MachineOptions) => Machine): BounceCount {
  const machines: Machine[] = [];
  let bytes = 0;
  afterEach(() => {
    for (const m of machines.splice(0)) {
      const stats = m.swiotlb?.stats();
      if (stats !== undefined) bytes += stats.bouncedToDevice + stats.bouncedFromDevice;
    }
  });
  return {
    createMachine: (options) => {
      const m = createMachine(options);
      machines.push(m);
      return m;
    },
    bytes: () => bytes,
  };
}
