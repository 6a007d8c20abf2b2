/*
 * The register map and descriptor layouts the driver and the simulated NIC share, with the
 * values of drivers/net/ethernet/intel/e1000/e1000_hw.h (legacy descriptors).
 */

import { lower32Bits, upper32Bits } from '@kdma/hw';

/** Interrupt cause read (read to clear). */
export const E1000_ICR = 0x000c0;
/** Interrupt mask set (write 1s to enable causes). */
export const E1000_IMS = 0x000d0;
/** Interrupt mask clear. */
export const E1000_IMC = 0x000d8;
/** Receive control. */
export const E1000_RCTL = 0x00100;
/** Transmit control. */
export const E1000_TCTL = 0x00400;
/** RX descriptor ring: base (low, high), length in bytes, head, tail. */
export const E1000_RDBAL = 0x02800;
export const E1000_RDBAH = 0x02804;
export const E1000_RDLEN = 0x02808;
export const E1000_RDH = 0x02810;
export const E1000_RDT = 0x02818;
/** TX descriptor ring: base (low, high), length in bytes, head, tail. */
export const E1000_TDBAL = 0x03800;
export const E1000_TDBAH = 0x03804;
export const E1000_TDLEN = 0x03808;
export const E1000_TDH = 0x03810;
export const E1000_TDT = 0x03818;

/** ICR/IMS: transmit descriptor written back. */
export const E1000_ICR_TXDW = 0x00000001;
/** ICR/IMS: receiver overrun (a frame dropped: no descriptor, FIFO full). */
export const E1000_ICR_RXO = 0x00000040;
/** ICR/IMS: receiver timer interrupt (frames written back). */
export const E1000_ICR_RXT0 = 0x00000080;
/** The causes the driver enables (`IMS_ENABLE_MASK`). */
export const IMS_ENABLE_MASK = E1000_ICR_TXDW | E1000_ICR_RXO | E1000_ICR_RXT0;

/** RCTL: receiver enable. */
export const E1000_RCTL_EN = 0x00000002;
/** TCTL: transmitter enable. */
export const E1000_TCTL_EN = 0x00000002;

/** Both descriptor kinds are 16 bytes. */
export const E1000_DESC_SIZE = 16;

/*
 * struct e1000_rx_desc: buffer_addr (le64, 0), length (le16, 8), csum (le16, 10), status (u8, 12),
 * errors (u8, 13), special (le16, 14). The NIC writes back bytes 8..15.
 */
export const RX_DESC_LENGTH = 8;
export const RX_DESC_STATUS = 12;
export const RX_DESC_ERRORS = 13;
/** RX status: descriptor done. */
export const E1000_RXD_STAT_DD = 0x01;
/** RX status: end of packet. */
export const E1000_RXD_STAT_EOP = 0x02;
/** RX errors: RX data error (here: the NIC's DMA write of the frame faulted). */
export const E1000_RXD_ERR_RXE = 0x80;

/*
 * struct e1000_tx_desc (legacy): buffer_addr (le64, 0), length (le16, 8), cso (u8, 10), cmd (u8,
 * 11), status (u8, 12), css (u8, 13), special (le16, 14). The NIC writes back the status byte.
 */
export const TX_DESC_LENGTH = 8;
export const TX_DESC_CMD = 11;
export const TX_DESC_STATUS = 12;
/** TX command: end of packet. */
export const E1000_TXD_CMD_EOP = 0x01;
/** TX command: insert FCS. */
export const E1000_TXD_CMD_IFCS = 0x02;
/** TX command: report status (write back DD). */
export const E1000_TXD_CMD_RS = 0x08;
/** TX status: descriptor done. */
export const E1000_TXD_STAT_DD = 0x01;

/** Reads the 64-bit little-endian bus address at `offset` of a descriptor (< 2^52, no bigint). */
export function descAddr(view: DataView, offset = 0): number {
  return view.getUint32(offset + 4, true) * 2 ** 32 + view.getUint32(offset, true);
}

/** Writes a bus address as a 64-bit little-endian field. */
export function setDescAddr(view: DataView, addr: number, offset = 0): void {
  view.setUint32(offset, lower32Bits(addr), true);
  view.setUint32(offset + 4, upper32Bits(addr), true);
}

/** What the driver sees of the NIC: its register block (BAR 0) and its interrupt line. */
export interface E1000Mmio {
  /** A 32-bit register load. */
  readReg(reg: number): number;
  /** A 32-bit register store (`writel_relaxed`: the store alone, no barrier). */
  writeReg(reg: number, value: number): void;
  /** `request_irq`. */
  requestIrq(handler: () => void): void;
}
