/**
 * `@kdma/net`: an e1000-class NIC driver on the consumer DMA API — descriptor rings in coherent
 * memory, streaming RX/TX buffer mappings, copybreak — and the simulated NIC it drives.
 */
export { checkNetBugs, type NetBug } from './bugs.js';
export * from './e1000-hw-regs.js';
export { E1000Hw, E1000_RX_BUFFER_SIZE, type E1000HwOptions, type E1000HwStats, type E1000TransmitSink } from './e1000-hw.js';
export {
  E1000Adapter,
  E1000_RXBUFFER_2048,
  e1000Probe,
  NETDEV_TX_BUSY,
  NETDEV_TX_OK,
  type E1000Options,
  type E1000Stats,
  type NetifReceive,
} from './e1000-main.js';
export { allocSkb, allocSkbWithData, SkBuff } from './skbuff.js';
export { PagePool, type PagePoolStats } from './page-pool.js';
export { createNic, type Nic, type NicOptions } from './nic.js';
