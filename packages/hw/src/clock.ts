/**
 * The machine's simulated clock, in nanoseconds: it drives device completions, IOMMU flush-queue
 * timeouts and benchmark costs. Time moves only when someone calls `advance`, so runs are
 * reproducible; timers (the kernel's `timer_list`/hrtimers) fire during `advance`, in time order,
 * ties in the order they were set.
 */

import { checkInteger, describe } from './address.js';

interface Timer {
  readonly due: number;
  readonly id: number;
  readonly callback: () => void;
}

export class Clock {
  private time = 0;
  private nextId = 1;
  /** Binary min-heap on (due, id). */
  private readonly heap: Timer[] = [];
  /** Armed timers by id; a cancelled timer stays in the heap until it surfaces. */
  private readonly armed = new Set<number>();

  /** Machine time in ns since power-on. */
  now(): number {
    return this.time;
  }

  /** Timers armed and not yet fired. */
  get pendingTimers(): number {
    return this.armed.size;
  }

  /** The time the next armed timer is due, or null. */
  nextTimerAt(): number | null {
    this.dropCancelled();
    return this.heap[0]?.due ?? null;
  }

  /**
   * Moves time forward by `ns`, firing every timer due by then: each sees `now()` equal to its due
   * time. A timer set by a callback fires in the same call if it falls due within it.
   */
  advance(ns: number): void {
    checkInteger(ns, 'ns');
    const target = this.time + ns;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (top === undefined || top.due > target) break;
      this.pop();
      this.armed.delete(top.id);
      if (top.due > this.time) this.time = top.due;
      top.callback();
    }
    if (target > this.time) this.time = target;
  }

  /** Arms a one-shot timer `delayNs` from now; returns its id (for `cancelTimer`). */
  setTimer(delayNs: number, callback: () => void): number {
    checkInteger(delayNs, 'delayNs');
    if (typeof callback !== 'function') throw new TypeError(`callback must be a function, got ${describe(callback)}`);
    const id = this.nextId++;
    this.push({ due: this.time + delayNs, id, callback });
    this.armed.add(id);
    return id;
  }

  /** Disarms a timer (`del_timer`): true if it was armed, false if it had fired or was unknown. */
  cancelTimer(id: number): boolean {
    return this.armed.delete(id);
  }

  private dropCancelled(): void {
    for (let top = this.heap[0]; top !== undefined && !this.armed.has(top.id); top = this.heap[0]) this.pop();
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.id < b.id);
}
