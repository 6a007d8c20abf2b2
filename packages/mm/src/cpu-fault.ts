/**
 * CpuFault: what the MMU raises on a CPU access that the page tables do not allow. In the kernel
 * an oops ("Unable to handle kernel paging request") or, for user space, SIGSEGV/SIGBUS; here an
 * exception, thrown before any byte moves: an access is checked over its whole range first.
 */
import { hex } from '@kdma/hw';

/** Why the MMU refused the access. */
export type CpuFaultReason =
  /** No page table entry: a freed or never-mapped kernel address, an unpopulated user page. */
  | 'unmapped'
  /** The unmapped page that follows every vmalloc/vmap area. */
  | 'guard-page'
  /** A DMA_ATTR_NO_KERNEL_MAPPING cookie: the range that is never mapped. */
  | 'no-kernel-mapping'
  /** A linear-map address with no RAM behind it. */
  | 'not-ram'
  /** A store through a read-only mapping (PAGE_KERNEL_RO, kernel text and rodata, PAGE_READONLY). */
  | 'read-only';

/** Thrown by any CPU access to an address its page tables do not map (or map read-only). */
export class CpuFault extends Error {
  override readonly name = 'CpuFault';
  /** The first faulting address. */
  readonly address: number;
  /** True for a store. */
  readonly write: boolean;
  readonly reason: CpuFaultReason;
  /** True for an access through a user page table. */
  readonly user: boolean;

  constructor(address: number, write: boolean, reason: CpuFaultReason, user = false) {
    super(
      user
        ? `segfault at ${hex(address)} (${write ? 'write' : 'read'}, ${reason})`
        : `Unable to handle kernel paging request at virtual address ${hex(address)} (${write ? 'write' : 'read'}, ${reason})`,
    );
    this.address = address;
    this.write = write;
    this.reason = reason;
    this.user = user;
  }
}
