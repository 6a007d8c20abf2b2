/**
 * The kernel log (`printk` into the log buffer that `dmesg` reads), stamped with machine time so
 * that a run's log is reproducible.
 */

import { describe } from './address.js';
import type { Clock } from './clock.js';

/** The `KERN_*` levels kdma uses. */
export type DmesgLevel = 'err' | 'warn' | 'info' | 'debug';

export interface DmesgEntry {
  /** Machine time in ns (`clock.now()`) when it was printed. */
  readonly time: number;
  readonly level: DmesgLevel;
  readonly message: string;
}

const LEVELS: ReadonlySet<string> = new Set(['err', 'warn', 'info', 'debug']);

export class Dmesg {
  private readonly log: DmesgEntry[] = [];

  constructor(private readonly clock: Clock) {}

  /** `printk(KERN_<level> message)`. */
  printk(level: DmesgLevel, message: string): void {
    if (typeof level !== 'string' || !LEVELS.has(level)) {
      throw new RangeError(`level must be 'err', 'warn', 'info' or 'debug', got ${describe(level)}`);
    }
    if (typeof message !== 'string') throw new TypeError(`message must be a string, got ${describe(message)}`);
    this.log.push(Object.freeze({ time: this.clock.now(), level, message }));
  }

  /** Every entry since power-on or the last `clear`, oldest first (a snapshot). */
  entries(): readonly DmesgEntry[] {
    return this.log.slice();
  }

  /** `dmesg -C`. */
  clear(): void {
    this.log.length = 0;
  }
}
