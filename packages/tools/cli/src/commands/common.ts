import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CliIo } from '../io.js';
import { ProgressBar } from '../progress.js';
import { loadScenarioFile } from '../scenario/load.js';
import { runScenario, type ScenarioResult } from '../scenario/run.js';
import type { Scenario } from '../scenario/types.js';
import { ScenarioError, type Position } from '../scenario/validate.js';

export function resolvePath(io: CliIo, file: string): string {
  return resolve(io.cwd ?? process.cwd(), file);
}

/** Loads the scenario files; invalid ones are printed (every issue, one line each) and skipped. */
export function loadAll(io: CliIo, files: readonly string[]): { loaded: { scenario: Scenario; positions: ReadonlyMap<string, Position> }[]; invalid: number } {
  const loaded: { scenario: Scenario; positions: ReadonlyMap<string, Position> }[] = [];
  let invalid = 0;
  for (const file of files) {
    try {
      loaded.push(loadScenarioFile(resolvePath(io, file), file));
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      invalid++;
      io.stderr(`${err.message}\n`);
    }
  }
  return { loaded, invalid };
}

/** Runs scenarios one after another with a progress bar; a scenario that cannot be built is printed and counted. */
export function runAll(
  io: CliIo,
  items: readonly { scenario: Scenario; positions?: ReadonlyMap<string, Position> }[],
  options: { snapshots: boolean },
): { results: ScenarioResult[]; invalid: number } {
  const results: ScenarioResult[] = [];
  let invalid = 0;
  const bar = new ProgressBar(io, 'kdma');
  items.forEach(({ scenario, positions }, i) => {
    try {
      results.push(
        runScenario(scenario, {
          snapshots: options.snapshots,
          ...(positions === undefined ? {} : { positions }),
          ...(io.now === undefined ? {} : { now: io.now }),
          onProgress: (fraction, label) => bar.update((i + fraction) / items.length, `${scenario.name}: ${label}`),
        }),
      );
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      invalid++;
      bar.done();
      io.stderr(`${err.message}\n`);
    }
  });
  bar.done();
  return { results, invalid };
}

/** Writes an output file; false (after a one-line error) when it cannot. */
export function writeOutput(io: CliIo, file: string, text: string): boolean {
  try {
    writeFileSync(resolvePath(io, file), text);
    return true;
  } catch (err) {
    io.stderr(`kdma: cannot write ${file}: ${(err as Error).message}\n`);
    return false;
  }
}

/** The JSON form of results (what `--json` prints). */
export function resultsJson(results: readonly ScenarioResult[], withSnapshots: boolean): string {
  const scenarios = results.map((r) => {
    if (withSnapshots) return r;
    const { snapshots: _snapshots, ...rest } = r;
    return rest;
  });
  const passed = results.filter((r) => r.passed).length;
  return JSON.stringify({ scenarios, passed, failed: results.length - passed }, null, 2) + '\n';
}
