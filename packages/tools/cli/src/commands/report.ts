import { DEMO_SCENARIOS } from '../demo.js';
import { EXIT_BAD_SCENARIO, EXIT_FAILED, EXIT_IO, EXIT_OK } from '../exit-codes.js';
import { formatHtmlReport } from '../report/html.js';
import { formatScenarioText, formatSnapshotText, formatSummary } from '../report/text.js';
import { UsageError } from '../usage-error.js';
import { loadAll, resultsJson, runAll, writeOutput } from './common.js';
import { flagBool, flagString, type Command } from './command.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'report a scenario with its memory maps (text, JSON or an HTML page with pictures)',
  usage: 'kdma report [--json | --html OUT.html] [FILE...]',
  description: [
    'Runs the scenario files (the built-in demo when none is given) and reports the figures of',
    '`kdma run` together with snapshots of the machine taken before the workloads, during each',
    "(at its busiest: buffers allocated and mapped) and after every driver was unbound: the",
    'physical memory map (RAM regions, zones, CMA, kernel image, swiotlb pool, allocated pages),',
    'the vmalloc area, the IOVA space of each IOMMU domain and the swiotlb slots.',
    'Text by default; --json for machines; --html writes one self-contained page with SVG',
    'pictures (and prints the text report too).',
  ].join('\n'),
  flags: [
    { name: 'json', type: 'boolean', description: 'print one JSON object (results and snapshots)' },
    { name: 'html', type: 'string', value: 'OUT.html', description: 'write the HTML report to this file' },
  ],
  examples: ['kdma report', 'kdma report --html report.html examples/net-x86-swiotlb.yaml', 'kdma report --json examples/v4l2-arm-iommu.yaml'],
  positionals: { min: 0, max: Infinity, name: 'FILE' },
  run(args, io) {
    const html = flagString(args, 'html');
    const json = flagBool(args, 'json');
    if (html !== undefined && json) throw new UsageError('report', '--json and --html cannot be used together');
    let items;
    let badFiles = 0;
    if (args.positionals.length === 0) items = DEMO_SCENARIOS.map((scenario) => ({ scenario }));
    else {
      const loaded = loadAll(io, args.positionals);
      items = loaded.loaded;
      badFiles = loaded.invalid;
    }
    const { results, invalid } = runAll(io, items, { snapshots: true });
    if (json) io.stdout(resultsJson(results, true));
    else {
      for (const r of results) {
        io.stdout(formatScenarioText(r));
        for (const s of r.snapshots) io.stdout(formatSnapshotText(s));
        io.stdout('\n');
      }
      if (results.length > 0) io.stdout(formatSummary(results));
      if (html !== undefined && results.length > 0) {
        if (!writeOutput(io, html, formatHtmlReport(results))) return EXIT_IO;
        io.stdout(`wrote ${html}\n`);
      }
    }
    if (badFiles + invalid > 0) return EXIT_BAD_SCENARIO;
    return results.every((r) => r.passed) ? EXIT_OK : EXIT_FAILED;
  },
};
