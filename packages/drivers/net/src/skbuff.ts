import type { Machine } from '@kdma/dma-mapping';
import { GFP_ATOMIC } from '@kdma/mm';
import { checkInt, describeValue } from './args.js';
import type { PagePool } from './page-pool.js';

/*
 * A minimal `struct sk_buff` (include/linux/skbuff.h): a kmalloc'd data buffer and its length —
 * all a NIC driver needs to map a frame for the device or hand a received one up.
 */

export class SkBuff {
  readonly machine: Machine;
  /** `skb->data`: the kernel address of the frame. */
  readonly data: number;
  /** `skb->len`. */
  len: number;
  /** Bytes allocated at `data`. */
  readonly size: number;
  private freed = false;
  /** The page pool the data buffer goes back to (`skb->pp_recycle`), and its bus address there. */
  private readonly pool: PagePool | null;
  private readonly poolDma: number;

  /**
   * An skb over `size` bytes at `data`, `len` of them in use. With `pool`, the buffer is a
   * page-pool buffer mapped at `poolDma`: freeing the skb gives it back to the pool.
   */
  constructor(machine: Machine, data: number, size: number, len: number, pool: PagePool | null = null, poolDma = 0) {
    this.machine = machine;
    this.data = data;
    this.size = size;
    this.len = len;
    this.pool = pool;
    this.poolDma = poolDma;
  }

  /** The stack reads the frame: a CPU copy out of the buffer. */
  read(): Uint8Array {
    return this.machine.cpu.read(this.data, this.len);
  }

  /** As `read`, into `target` (its first `len` bytes). */
  readInto(target: Uint8Array): void {
    if (!(target instanceof Uint8Array) || target.length < this.len) throw new TypeError(`target must be a Uint8Array of at least ${this.len} bytes`);
    this.machine.cpu.readInto(this.data, target, 0, this.len);
  }

  /** `dev_kfree_skb_any`: the data buffer is freed, or recycled into its page pool. */
  free(): void {
    if (this.freed) throw new Error('BUG: double free of an skb');
    this.freed = true;
    if (this.pool === null) this.machine.mm.kfree(this.data);
    else this.pool.put(this.data, this.poolDma);
  }

  /** Whether `free` was called. */
  get isFreed(): boolean {
    return this.freed;
  }
}

/** `netdev_alloc_skb`: room for `size` bytes, empty; null when memory runs out. */
export function allocSkb(machine: Machine, size: number): SkBuff | null {
  checkInt(size, 'size', 1);
  const data = machine.mm.kmalloc(size, GFP_ATOMIC);
  return data === null ? null : new SkBuff(machine, data, size, 0);
}

/** `netdev_alloc_skb` + `skb_put_data`: an skb holding `bytes` (the stack's frame to send). */
export function allocSkbWithData(machine: Machine, bytes: Uint8Array): SkBuff | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new TypeError(`bytes must be a non-empty Uint8Array, got ${describeValue(bytes)}`);
  const skb = allocSkb(machine, bytes.length);
  if (skb === null) return null;
  machine.cpu.write(skb.data, bytes);
  skb.len = bytes.length;
  return skb;
}
