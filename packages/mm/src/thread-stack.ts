/**
 * Kernel thread stacks (kernel/fork.c alloc_thread_stack_node(), THREAD_SIZE): pages from the buddy
 * allocator, used through the linear map as before CONFIG_VMAP_STACK. dma-debug asks whether an
 * address is on a stack ("device driver maps memory from stack"): on a non-coherent machine a
 * stack buffer shares cache lines with live locals.
 */
import { checkInteger, checkSize, getOrder, hex, pow2 } from '@kdma/hw';
import { GFP_KERNEL } from './gfp.js';
import type { PageAllocator } from './page-alloc.js';
import { PAGE_OFFSET } from './layout.js';

/** THREAD_SIZE of x86-64 since 3.15 (16 KiB); 2011 ARM had 8 KiB. */
export const DEFAULT_THREAD_SIZE = 16 * 1024;

export class ThreadStacks {
  readonly threadSize: number;
  private readonly pages: PageAllocator;
  private readonly pageSize: number;
  /** First pfn of each stack → its order. */
  private readonly stacks = new Map<number, number>();
  /** How many stacks of each order are live (isStackAddress checks only those orders). */
  private readonly perOrder = new Int32Array(64);
  /** The largest order any stack has had, so the lookup tries no order that cannot match. */
  private highestOrder = 0;

  constructor(pages: PageAllocator, pageSize: number, threadSize: number) {
    this.pages = pages;
    this.pageSize = pageSize;
    this.threadSize = threadSize;
  }

  /** Live stacks. */
  get count(): number {
    return this.stacks.size;
  }

  /** A new kernel stack of `size` bytes (rounded up to 2^order pages): its lowest kva, or null. */
  alloc(size: number = this.threadSize, gfp: number = GFP_KERNEL): number | null {
    checkSize(size, 'size');
    const order = getOrder(size, this.pageSize);
    const pfn = this.pages.allocPages(order, gfp);
    if (pfn === null) return null;
    this.stacks.set(pfn, order);
    this.perOrder[order] = (this.perOrder[order] as number) + 1;
    if (order > this.highestOrder) this.highestOrder = order;
    return PAGE_OFFSET + pfn * this.pageSize;
  }

  /** Frees a stack from alloc(); throws for anything else. */
  free(kva: number): void {
    checkInteger(kva, 'kva');
    const pfn = (kva - PAGE_OFFSET) / this.pageSize;
    const order = this.stacks.get(pfn);
    if (order === undefined) throw new Error(`stackFree(${hex(kva)}): not the base of a kernel stack`);
    this.pages.freePages(pfn, order);
    this.stacks.delete(pfn);
    this.perOrder[order] = (this.perOrder[order] as number) - 1;
  }

  /**
   * object_is_on_stack() for any live stack. Kept tiny (the lookup is out of line) so that callers
   * on hot paths, such as dma-debug's map-time check, inline it and pay nothing without stacks.
   */
  isStackAddress(kva: number): boolean {
    return this.stacks.size !== 0 && this.isOnLiveStack(kva);
  }

  private isOnLiveStack(kva: number): boolean {
    if (!(kva >= PAGE_OFFSET)) return false;
    const pfn = Math.floor((kva - PAGE_OFFSET) / this.pageSize);
    for (let order = 0; order <= this.highestOrder; order++) {
      if (this.perOrder[order] === 0) continue;
      const head = pfn - (pfn % pow2(order));
      if (this.stacks.get(head) === order) return true;
    }
    return false;
  }
}
