import { BENCH_ARCHES, BENCH_PATHS, formatBenchText, MapBenchmarkError, runBench, type BenchArch, type BenchOptions, type BenchPath } from '@kdma/bench';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { ProgressBar } from '../progress.js';
import { UsageError } from '../usage-error.js';
import { flagBool, flagNumber, flagString, type Command } from './command.js';

/** Option names in messages from @kdma/bench, as the flags spell them. */
const FLAG_OF: Readonly<Record<string, string>> = {
  threads: '--threads',
  seconds: '--seconds',
  iterations: '--iterations',
  warmup: '--warmup',
  granule: '--granule',
  dir: '--dir',
  dmaBits: '--dma-bits',
  transNs: '--trans-ns',
  mode: '--mode',
  path: '--path',
  arch: '--arch',
  workers: '--workers',
  seed: '--seed',
};

function list<T extends string>(text: string | undefined, flag: string, allowed: readonly T[]): T | 'all' | T[] | undefined {
  if (text === undefined || text === 'all') return text as 'all' | undefined;
  const items = text.split(',');
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new UsageError('bench', `${flag} must be all or a comma-separated list of ${allowed.join(', ')}, got ${JSON.stringify(item)}`);
  }
  return items as T[];
}

export const benchCommand: Command = {
  name: 'bench',
  summary: "the kernel's dma_map_benchmark: map/unmap latency per DMA path",
  usage: 'kdma bench [flags]',
  description: [
    "tools/testing/selftests/dma/dma_map_benchmark in spirit and in flags: maps and unmaps a buffer",
    'in a loop on each DMA path (dma-direct, swiotlb bouncing, an IOMMU with strict or lazy',
    "invalidation) and prints the kernel tool's average and standard deviation of map and unmap",
    'latency, with the TypedArray.set baseline of the same size measured in the same run and each',
    "figure's ratio to it. --threads are simulated CPUs interleaved deterministically (so the",
    'per-CPU IOVA rcache and swiotlb areas matter); --workers runs independent machines in worker',
    'threads to use the real cores. Timings vary from run to run; ratios are the figures to compare.',
  ].join('\n'),
  flags: [
    { name: 'threads', type: 'int', value: 'N', min: 1, description: 'simulated CPUs, one benchmark thread each (-t)', defaultText: '1' },
    { name: 'seconds', type: 'number', value: 'S', min: 0, description: 'seconds per path (-s)', defaultText: '1' },
    { name: 'iterations', type: 'int', value: 'N', min: 1, description: 'rounds per thread instead of a time limit' },
    { name: 'warmup', type: 'int', value: 'N', min: 0, description: 'untimed rounds first', defaultText: '1000' },
    { name: 'granule', type: 'int', value: 'PAGES', min: 1, description: 'pages per mapping; sg entries in sg mode (-g)', defaultText: '1' },
    { name: 'dir', type: 'string', choices: ['bidi', 'to', 'from'], description: 'DMA direction (-d)', defaultText: 'bidi' },
    { name: 'dma-bits', type: 'int', value: 'BITS', description: "the device's DMA mask, 20..64 (-b)", defaultText: '32' },
    { name: 'trans-ns', type: 'int', value: 'NS', min: 0, description: 'machine-clock ns a DMA is in flight between map and unmap (-x)', defaultText: '0' },
    { name: 'mode', type: 'string', choices: ['single', 'sg'], description: 'dma_map_single or dma_map_sg (-m)', defaultText: 'single' },
    { name: 'path', type: 'string', value: `all|${BENCH_PATHS.join('|')}[,…]`, description: 'which paths to measure', defaultText: 'all' },
    { name: 'arch', type: 'string', value: `all|${BENCH_ARCHES.join('|')}[,…]`, description: 'which arch machines to build', defaultText: 'arm' },
    { name: 'workers', type: 'int', value: 'N', min: 0, description: 'worker threads with machines of their own; 0: this thread', defaultText: '0' },
    { name: 'seed', type: 'int', value: 'N', min: 0, description: "the machines' seed", defaultText: '1' },
    { name: 'json', type: 'boolean', description: 'print one JSON object with every path' },
  ],
  examples: ['kdma bench', 'kdma bench --threads 4 --granule 16 --path iommu-strict,iommu-lazy', 'kdma bench --arch all --seconds 0.5 --json'],
  positionals: { min: 0, max: 0, name: '' },
  async run(args, io) {
    const bar = new ProgressBar(io, 'dma_map_benchmark');
    const opt = <K extends keyof BenchOptions>(key: K, value: BenchOptions[K] | undefined): Partial<BenchOptions> => (value === undefined ? {} : { [key]: value });
    const options: BenchOptions = {
      ...opt('threads', flagNumber(args, 'threads')),
      ...opt('seconds', flagNumber(args, 'seconds')),
      ...opt('iterations', flagNumber(args, 'iterations')),
      ...opt('warmup', flagNumber(args, 'warmup')),
      ...opt('granule', flagNumber(args, 'granule')),
      ...opt('dir', flagString(args, 'dir') as 'bidi' | 'to' | 'from' | undefined),
      ...opt('dmaBits', flagNumber(args, 'dma-bits')),
      ...opt('transNs', flagNumber(args, 'trans-ns')),
      ...opt('mode', flagString(args, 'mode') as 'single' | 'sg' | undefined),
      ...opt('path', list<BenchPath>(flagString(args, 'path'), '--path', BENCH_PATHS)),
      ...opt('arch', list<BenchArch>(flagString(args, 'arch'), '--arch', BENCH_ARCHES)),
      ...opt('workers', flagNumber(args, 'workers')),
      ...opt('seed', flagNumber(args, 'seed')),
      onProgress: (fraction: number) => bar.update(fraction),
    };
    let result;
    try {
      result = await runBench(options);
    } catch (err) {
      bar.done();
      if (err instanceof MapBenchmarkError) {
        io.stderr(`kdma bench: ${err.message}\n`);
        return EXIT_FAILED;
      }
      if (err instanceof TypeError || err instanceof RangeError) {
        // The ioctl's -EINVAL checks: a flag value out of range.
        const message = err.message.replace(/^(options\.)?([a-zA-Z]+)/, (_m, _p: string, name: string) => FLAG_OF[name] ?? name);
        throw new UsageError('bench', message);
      }
      throw err;
    }
    bar.done();
    io.stdout(flagBool(args, 'json') ? `${JSON.stringify(result, null, 2)}\n` : formatBenchText(result).replace(/\n?$/, '\n'));
    return EXIT_OK;
  },
};
