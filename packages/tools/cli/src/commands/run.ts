import { EXIT_BAD_SCENARIO, EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { formatScenarioText, formatSummary } from '../report/text.js';
import { loadAll, resultsJson, runAll } from './common.js';
import { flagBool, type Command } from './command.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'run scenario files (YAML or JSON)',
  usage: 'kdma run [--json] FILE...',
  description: [
    'Runs each scenario file: builds the machine (arch and options), creates the devices, runs the',
    'workloads (V4L2 capture, ALSA playback/capture, NIC traffic, or raw map/unmap/sync steps),',
    'unbinds every driver and reports. A file that does not fit the schema gets one line per',
    'problem, naming the file, line, column and field; the other files still run.',
    'A scenario passes when every byte arrived intact and dma-debug reported exactly the kinds',
    'listed under expect.dmaDebug (none by default); see the README for the format.',
  ].join('\n'),
  flags: [{ name: 'json', type: 'boolean', description: 'print one JSON object instead of text' }],
  examples: ['kdma run examples/v4l2-arm-iommu.yaml', 'kdma run examples/*.yaml', 'kdma run --json scenario.json'],
  positionals: { min: 1, max: Infinity, name: 'FILE' },
  run(args, io) {
    const { loaded, invalid: badFiles } = loadAll(io, args.positionals);
    const { results, invalid: badMachines } = runAll(io, loaded, { snapshots: false });
    if (flagBool(args, 'json')) io.stdout(resultsJson(results, false));
    else if (results.length > 0) {
      io.stdout(results.map(formatScenarioText).join('\n'));
      io.stdout(`\n${formatSummary(results)}`);
    }
    if (badFiles + badMachines > 0) return EXIT_BAD_SCENARIO;
    return results.every((r) => r.passed) ? EXIT_OK : EXIT_FAILED;
  },
};
