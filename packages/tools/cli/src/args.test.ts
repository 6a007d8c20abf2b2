import { describe, expect, it } from '@jest/globals';
import { parseArgs, type FlagSpec } from './args.js';
import { bufferedIo } from './io.js';
import { ProgressBar } from './progress.js';
import { formatSize, parseSize } from './sizes.js';
import { UsageError } from './usage-error.js';

const specs: FlagSpec[] = [
  { name: 'n', type: 'int', min: 1, description: '' },
  { name: 'x', type: 'number', description: '' },
  { name: 'size', type: 'size', description: '' },
  { name: 'flag', type: 'boolean', description: '' },
  { name: 'mode', type: 'string', choices: ['a', 'b'], description: '' },
];

describe('parseArgs', () => {
  it('reads --k v, --k=v, booleans, positionals and -- ', () => {
    const a = parseArgs('t', ['--n', '3', 'f1', '--x=0.5', '--flag', '--size', '64KiB', '--mode=b', '--', '--n'], specs);
    expect(Object.fromEntries(a.flags)).toEqual({ n: 3, x: 0.5, flag: true, size: 65536, mode: 'b' });
    expect(a.positionals).toEqual(['f1', '--n']);
    expect(a.help).toBe(false);
  });

  it.each([
    [['--n', '0'], '--n must be at least 1, got 0'],
    [['--n', '1.5'], '--n must be an integer, got "1.5"'],
    [['--x', 'NaN'], '--x must be a number, got "NaN"'],
    [['--size', '3 parsecs'], '--size must be a size (4096, 64KiB, 8GiB), got "3 parsecs"'],
    [['--n', '1', '--n', '2'], '--n given twice'],
    [['-q'], 'unknown flag -q'],
  ])('%j → %s', (argv, message) => {
    expect(() => parseArgs('t', argv, specs)).toThrow(new UsageError('t', message));
  });
});

describe('sizes', () => {
  it('parses and formats binary sizes', () => {
    expect([parseSize('4096'), parseSize('64KiB'), parseSize('8 GiB'), parseSize('2M'), parseSize('1.5k'), parseSize('x'), parseSize('0.3')]).toEqual([
      4096,
      65536,
      8 * 2 ** 30,
      2 * 2 ** 20,
      1536,
      null,
      null,
    ]);
    expect([formatSize(0), formatSize(1536), formatSize(8 * 2 ** 30), formatSize(2457600)]).toEqual(['0 B', '1.50 KiB', '8 GiB', '2.34 MiB']);
  });
});

describe('the progress bar', () => {
  it('draws on a terminal only after a second, then erases itself', () => {
    let t = 0;
    const io = { ...bufferedIo({ stderrIsTTY: true }), now: () => t };
    const bar = new ProgressBar(io, 'work');
    bar.update(0.1);
    expect(io.stderrText()).toBe('');
    t = 1500;
    bar.update(0.5, 'half');
    expect(io.stderrText()).toContain('work [###############...............]  50% half');
    bar.done();
    expect(io.stderrText().endsWith('\r\x1b[K')).toBe(true);
  });

  it('draws nothing when stderr is not a terminal', () => {
    let t = 0;
    const io = { ...bufferedIo({ stderrIsTTY: false }), now: () => t };
    const bar = new ProgressBar(io, 'work');
    t = 5000;
    bar.update(0.5);
    bar.done();
    expect(io.stderrText()).toBe('');
  });
});
