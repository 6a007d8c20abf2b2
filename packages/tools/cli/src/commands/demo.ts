import { DEMO_SCENARIOS } from '../demo.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { formatScenarioText, formatSummary } from '../report/text.js';
import { UsageError } from '../usage-error.js';
import { resultsJson, runAll } from './common.js';
import { flagBool, flagString, type Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the built-in demo (the default command)',
  usage: 'kdma [demo] [--json] [--only NAME]',
  description: [
    'Runs the built-in demo, each scenario on a machine of its own:',
    '  v4l2-arm-iommu   V4L2 capture on arm behind an ARM SMMU, dma-contig buffers with',
    '                   DMA_ATTR_NO_KERNEL_MAPPING (scattered pages, one IOVA range, no vmalloc remap)',
    '  alsa-wc-arm      ALSA playback through a SNDRV_DMA_TYPE_DEV_WC ring on arm (write-combined)',
    '  alsa-wc-x86      the same driver on x86 (the DMA API maps it cached there)',
    '  net-x86-swiotlb  a 32-bit NIC on an x86 with 8 GiB: buffers above 4 GiB bounce through swiotlb',
    'and prints, per scenario, the ops each device used, bytes moved, bounces, IOTLB hits and',
    'misses, vmalloc space saved, dma-debug findings, and whether every byte arrived intact.',
  ].join('\n'),
  flags: [
    { name: 'json', type: 'boolean', description: 'print one JSON object instead of text' },
    { name: 'only', type: 'string', value: 'NAME', choices: DEMO_SCENARIOS.map((s) => s.name), description: 'run one demo scenario' },
  ],
  examples: ['kdma', 'kdma demo --json', 'kdma demo --only net-x86-swiotlb'],
  positionals: { min: 0, max: 0, name: '' },
  run(args, io) {
    const only = flagString(args, 'only');
    const scenarios = DEMO_SCENARIOS.filter((s) => only === undefined || s.name === only);
    if (scenarios.length === 0) throw new UsageError('demo', `no demo scenario named ${only ?? ''}`);
    const { results } = runAll(io, scenarios.map((scenario) => ({ scenario })), { snapshots: false });
    if (flagBool(args, 'json')) io.stdout(resultsJson(results, false));
    else {
      io.stdout(results.map(formatScenarioText).join('\n'));
      io.stdout(`\n${formatSummary(results)}`);
    }
    return results.every((r) => r.passed) ? EXIT_OK : EXIT_FAILED;
  },
};
