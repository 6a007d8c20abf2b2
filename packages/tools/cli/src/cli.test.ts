import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { kdma, scratch } from './__tests__/run-cli.js';
import { COMMANDS } from './cli.js';

describe('--help', () => {
  it.each([...COMMANDS.map((c) => c.name)])('kdma %s --help', async (name) => {
    const { code, stdout, stderr } = await kdma([name, '--help']);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(new RegExp(`^usage: kdma (\\[)?${name}`));
    expect(stdout).toContain('flags:');
    expect(stdout).toContain('exit codes:');
  });

  it('kdma --help, kdma help, kdma help run, -h', async () => {
    const top = await kdma(['--help']);
    expect(top.code).toBe(0);
    for (const c of COMMANDS) expect(top.stdout).toContain(`  ${c.name}`);
    expect(top.stdout).toMatch(/ 2 {2}usage error/);
    expect((await kdma(['help'])).stdout).toBe(top.stdout);
    expect((await kdma(['help', 'run'])).stdout).toMatch(/^usage: kdma run/);
    expect((await kdma(['bench', '-h'])).stdout).toMatch(/^usage: kdma bench/);
  });
});

describe('bad command lines exit 2 with one line on stderr', () => {
  it.each([
    [['frob'], /^kdma: unknown command "frob"/],
    [['run'], /^kdma run: missing FILE/],
    [['bench', '--thread', '2'], /^kdma bench: unknown flag --thread \(did you mean --threads\?\)/],
    [['bench', '--threads', 'x'], /^kdma bench: --threads must be an integer, got "x"/],
    [['bench', '--threads'], /^kdma bench: --threads needs a value/],
    [['bench', '--mode', 'pairs'], /^kdma bench: --mode must be one of single, sg, got "pairs"/],
    [['bench', '--path', 'direct,magic'], /^kdma bench: --path must be all or a comma-separated list/],
    [['bench', '--dma-bits', '8', '--iterations', '1'], /^kdma bench: --dma-bits must be in \[20, 64\], got 8/],
    [['demo', 'extra'], /^kdma demo: unexpected argument "extra"/],
    [['demo', '--json=yes'], /^kdma demo: --json takes no value/],
    [['report', '--json', '--html', 'x.html'], /^kdma report: --json and --html cannot be used together/],
    [['--bogus'], /^kdma demo: unknown flag --bogus/],
  ])('kdma %j', async (argv, message) => {
    const { code, stdout, stderr } = await kdma(argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('a leading -- (from `pnpm demo -- --help`) is ignored', async () => {
    expect((await kdma(['--', '--help'])).stdout).toMatch(/^usage: kdma/);
  });
});

describe('kdma report', () => {
  it('--json has the results and the snapshots with every picture\'s data', async () => {
    const { code, stdout } = await kdma(['report', '--json', 'examples/v4l2-arm-iommu.yaml', 'examples/net-x86-swiotlb.yaml']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.scenarios).toHaveLength(2);
    const [v4l2, net] = out.scenarios;
    expect(v4l2.snapshots.map((s: { label: string }) => s.label)).toEqual([
      'before',
      'during workload 1 (v4l2 on vcap0)',
      'twin without the attribute (same buffers, kernel mapping made)',
      'after',
    ]);
    for (const s of [...v4l2.snapshots, ...net.snapshots]) {
      expect(Object.keys(s)).toEqual(['label', 'short', 'simulatedNs', 'mm', 'buddyinfo', 'physical', 'vmalloc', 'consistent', 'iova', 'swiotlb']);
      expect(s.physical.regions.length).toBeGreaterThan(0);
      expect(s.physical.kernelImage.map((r: { name: string }) => r.name)).toEqual(['text', 'rodata', 'data']);
      expect(s.mm.totalPages).toBeGreaterThan(0);
    }
    const [, during, twin] = v4l2.snapshots;
    expect(during.iova[0]).toMatchObject({ type: 'DMA', devices: ['vcap0'], rangeCount: 4, granulesInUse: 600 });
    expect(during.vmalloc.areas).toEqual([]);
    expect(twin.vmalloc.areas).toHaveLength(4);
    expect(net.snapshots[0].physical.zones.map((z: { name: string }) => z.name)).toEqual(['DMA', 'DMA32', 'NORMAL']);
    expect(net.snapshots[0].swiotlb[0].nslabs).toBe(16384);
    expect(net.snapshots[1].swiotlb[0].usedSlots).toBeGreaterThan(0);
    expect(net.snapshots[2].swiotlb[0].usedSlots).toBe(0);
  });

  it('text by default, with a line per picture', async () => {
    const { code, stdout } = await kdma(['report', 'examples/raw-streaming-arm.yaml']);
    expect(code).toBe(0);
    for (const label of ['-- before', '-- during workload 1', '-- after', 'physical', 'buddyinfo', 'vmalloc', 'iova', 'swiotlb']) expect(stdout).toContain(label);
  });

  it('--html writes one self-contained page with SVG pictures', async () => {
    const dir = scratch({});
    const { code, stdout } = await kdma(['report', '--html', 'out.html', join(__dirname, '..', 'examples', 'v4l2-arm-iommu.yaml'), join(__dirname, '..', 'examples', 'net-x86-swiotlb.yaml')], dir);
    expect(code).toBe(0);
    expect(stdout).toContain('wrote out.html');
    const file = join(dir, 'out.html');
    expect(existsSync(file)).toBe(true);
    const html = readFileSync(file, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(6);
    for (const title of ['physical memory map', 'vmalloc area', 'IOVA space per domain', 'swiotlb slots']) expect(html).toContain(`aria-label="${title}"`);
    // Self-contained: nothing is fetched.
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });

  it('an output file that cannot be written exits 4', async () => {
    const { code, stderr } = await kdma(['report', '--html', '/nonexistent-dir/x.html', 'examples/raw-streaming-sh.yaml']);
    expect(code).toBe(4);
    expect(stderr).toMatch(/^kdma: cannot write \/nonexistent-dir\/x\.html: /);
  });
});
