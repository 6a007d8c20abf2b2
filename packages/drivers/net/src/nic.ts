import type { Device } from '@kdma/dma-mapping';
import { E1000Hw, type E1000HwOptions } from './e1000-hw.js';
import { e1000Probe, type E1000Adapter, type E1000Options } from './e1000-main.js';

/** The simulated NIC on a device, and the driver bound to it. */
export interface Nic {
  /** The device side: the wire (`receive`), registers, counters. */
  readonly hw: E1000Hw;
  /** The driver: `open`, `startXmit`, `close`, stats. */
  readonly adapter: E1000Adapter;
}

/** Options of both halves. */
export interface NicOptions extends E1000Options {
  readonly hw?: E1000HwOptions;
}

/** Puts a simulated e1000-class NIC on `dev` and probes the driver for it (not yet opened). */
export function createNic(dev: Device, options: NicOptions = {}): Nic {
  const hw = new E1000Hw(dev, options.hw ?? {});
  const adapter = e1000Probe(dev, hw, options);
  return { hw, adapter };
}
