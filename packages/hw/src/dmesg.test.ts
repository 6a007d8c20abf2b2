import { describe, expect, it } from '@jest/globals';
import { Clock } from './clock.js';
import { Dmesg } from './dmesg.js';

describe('Dmesg', () => {
  it('stamps entries with machine time, keeps them in order and clears', () => {
    const clock = new Clock();
    const dmesg = new Dmesg(clock);
    dmesg.printk('info', 'boot');
    clock.advance(1500);
    dmesg.printk('err', 'DMA-API: device driver frees DMA memory with wrong function');
    expect(dmesg.entries()).toEqual([
      { time: 0, level: 'info', message: 'boot' },
      { time: 1500, level: 'err', message: 'DMA-API: device driver frees DMA memory with wrong function' },
    ]);
    const snapshot = dmesg.entries();
    dmesg.clear();
    expect(dmesg.entries()).toEqual([]);
    expect(snapshot).toHaveLength(2);
  });

  it('rejects bad arguments by name', () => {
    const dmesg = new Dmesg(new Clock());
    expect(() => dmesg.printk('crit' as never, 'x')).toThrow(/level/);
    expect(() => dmesg.printk('info', 42 as never)).toThrow(/message/);
  });
});
