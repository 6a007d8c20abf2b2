import { formatTable, type Measurement } from './measure.js';

/** One benchmark figure against the copies its path inherently makes. */
export interface BenchRow {
  readonly m: Measurement;
  /** How many baseline copies the path cannot avoid (0: report the time only). */
  readonly copies: number;
  /** The goal, as the largest allowed multiple of those copies (e.g. 2: "≤ 2× the copies"). */
  readonly maxMultiple?: number;
  /**
   * The copies this path makes when they are not the table's baseline: a path over scattered
   * pages makes a page-sized copy per page, which costs the host more than one long copy.
   */
  readonly baseline?: Measurement;
}

/**
 * Prints medians with each figure's multiple of the baseline copies it makes, so every goal
 * reads the same way: `× copies` at most the stated multiple.
 */
export function printBench(title: string, baseline: Measurement, rows: readonly BenchRow[]): void {
  const cells = rows.map(({ m, copies, maxMultiple, baseline: own }) => {
    const multiple = copies > 0 ? m.medianNs / ((own ?? baseline).medianNs * copies) : Number.NaN;
    const goal = maxMultiple === undefined ? '' : `≤ ${maxMultiple} ${multiple <= maxMultiple ? 'ok' : 'MISSED'}`;
    return [m.name, `${m.medianNs.toFixed(0)} ns`, copies > 0 ? `${multiple.toFixed(2)}×` : '', goal];
  });
  console.log(`\n${title}`);
  console.log(formatTable(['path', 'median', '× its copies', 'goal'], [[baseline.name, `${baseline.medianNs.toFixed(0)} ns`, '1.00×', ''], ...cells]));
}
