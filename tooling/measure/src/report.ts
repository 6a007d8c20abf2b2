import { formatTable, type Measurement } from './measure.js';

/** One benchmark figure against the copies its path inherently makes. */
export interface BenchRow {
  readonly m: Measurement;
  /** How many baseline copies the path cannot avoid (0: report the time only). */
  readonly copies: number;
  /** The goal, as the largest allowed multiple of those copies (e.g. 2: "≤ 2× the copies"). */
  readonly maxMultiple?: number;
}

/**
 * Prints medians with each figure's multiple of the baseline copies it makes, so every goal
 * reads the same way: `× copies` at most the stated multiple.
 */
export function printBench(title: string, baseline: Measurement, rows: readonly BenchRow[]): void {
  const cells = rows.map(({ m, copies, maxMultiple }) => {
    const multiple = copies > 0 ? m.medianNs / (baseline.medianNs * copies) : Number.NaN;
    const goal = maxMultiple === undefined ? '' : `≤ ${maxMultiple} ${multiple <= maxMultiple ? 'ok' : 'MISSED'}`;
    return [m.name, `${m.medianNs.toFixed(0)} ns`, copies > 0 ? `${multiple.toFixed(2)}×` : '', goal];
  });
  console.log(`\n${title}`);
  console.log(formatTable(['path', 'median', '× its copies', 'goal'], [[baseline.name, `${baseline.medianNs.toFixed(0)} ns`, '1.00×', ''], ...cells]));
}
