/**
 * Access observers: how the dma-debug ownership sanitizer (and tracing) sees every CPU and device
 * access as a physical range. Emitters test `active` first, so with no subscriber no event object
 * is ever made.
 */

import { describe } from './address.js';
import type { MemoryType } from './types.js';

export interface AccessEvent {
  readonly source: 'cpu' | 'device';
  readonly write: boolean;
  /** Physical address (for a device: after bus offset and IOMMU translation). */
  readonly paddr: number;
  readonly length: number;
  /** The bus master's name for a device access, else null. */
  readonly device: string | null;
  /** The CPU for a CPU access, -1 for a device access. */
  readonly cpu: number;
  /** The page's memory type for a CPU access, null for a device access. */
  readonly memoryType: MemoryType | null;
}

export type AccessListener = (event: AccessEvent) => void;

export class AccessObservers {
  /** Replaced, never mutated, so that a listener may unsubscribe while events are delivered. */
  private listeners: readonly AccessListener[] = [];

  /** True when at least one listener is subscribed. */
  get active(): boolean {
    return this.listeners.length !== 0;
  }

  /** Subscribes `listener`; returns the function that unsubscribes it. */
  subscribe(listener: AccessListener): () => void {
    if (typeof listener !== 'function') throw new TypeError(`listener must be a function, got ${describe(listener)}`);
    this.listeners = [...this.listeners, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners = [...this.listeners.slice(0, i), ...this.listeners.slice(i + 1)];
    };
  }

  emit(event: AccessEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Builds and delivers an event; callers check `active` first. Not frozen: with dma-debug on this
   * runs for every access, and freezing costs more than building (the fields are readonly in type).
   */
  emitAccess(
    source: 'cpu' | 'device',
    write: boolean,
    paddr: number,
    length: number,
    device: string | null,
    cpu: number,
    memoryType: MemoryType | null,
  ): void {
    this.emit({ source, write, paddr, length, device, cpu, memoryType });
  }
}
