/**
 * A one-line progress bar on standard error, drawn only when it is a terminal and only once the
 * work has taken more than a second (short runs print nothing extra). Redrawn at most 10 times a
 * second; `done()` erases it.
 */
import type { CliIo } from './io.js';

const WIDTH = 30;
const DELAY_MS = 1000;
const INTERVAL_MS = 100;

export class ProgressBar {
  private readonly start: number;
  private lastDraw = -Infinity;
  private drawn = false;
  private readonly now: () => number;

  constructor(
    private readonly io: CliIo,
    private readonly title: string,
  ) {
    this.now = io.now ?? (() => performance.now());
    this.start = this.now();
  }

  get enabled(): boolean {
    return this.io.stderrIsTTY === true;
  }

  update(fraction: number, detail = ''): void {
    if (!this.enabled) return;
    const t = this.now();
    if (t - this.start < DELAY_MS || t - this.lastDraw < INTERVAL_MS) return;
    this.lastDraw = t;
    const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    const filled = Math.round(f * WIDTH);
    const line = `${this.title} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%${detail === '' ? '' : ` ${detail}`}`;
    this.io.stderr(`\r\x1b[K${line}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.io.stderr('\r\x1b[K');
    this.drawn = false;
  }
}
