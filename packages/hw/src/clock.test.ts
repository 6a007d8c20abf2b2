import { describe, expect, it } from '@jest/globals';
import { Clock } from './clock.js';

describe('Clock', () => {
  it('fires due timers in time order, ties in creation order, each at its due time', () => {
    const clock = new Clock();
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.setTimer(30, at('c'));
    clock.setTimer(10, at('a1'));
    clock.setTimer(10, at('a2'));
    clock.setTimer(20, at('b'));
    clock.setTimer(100, at('late'));
    clock.advance(50);
    expect(fired).toEqual(['a1@10', 'a2@10', 'b@20', 'c@30']);
    expect(clock.now()).toBe(50);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt()).toBe(100);
    clock.advance(50);
    expect(fired).toEqual(['a1@10', 'a2@10', 'b@20', 'c@30', 'late@100']);
    expect(clock.nextTimerAt()).toBeNull();
  });

  it('fires a timer set by a callback within the same advance when it falls due', () => {
    const clock = new Clock();
    const fired: number[] = [];
    clock.setTimer(5, () => {
      fired.push(clock.now());
      clock.setTimer(5, () => fired.push(clock.now()));
      clock.setTimer(500, () => fired.push(clock.now()));
    });
    clock.advance(20);
    expect(fired).toEqual([5, 10]);
    expect(clock.now()).toBe(20);
  });

  it('cancels timers', () => {
    const clock = new Clock();
    const fired: string[] = [];
    const a = clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(10, () => fired.push('b'));
    expect(clock.cancelTimer(a)).toBe(true);
    expect(clock.cancelTimer(a)).toBe(false);
    expect(clock.cancelTimer(12345)).toBe(false);
    clock.advance(10);
    expect(fired).toEqual(['b']);
  });

  it('fires zero-delay timers on advance(0)', () => {
    const clock = new Clock();
    let fired = false;
    clock.setTimer(0, () => (fired = true));
    expect(fired).toBe(false);
    clock.advance(0);
    expect(fired).toBe(true);
  });

  it('keeps time monotonic when a callback advances the clock itself', () => {
    const clock = new Clock();
    const fired: number[] = [];
    clock.setTimer(10, () => clock.advance(100)); // e.g. a completion handler that udelay()s
    clock.setTimer(20, () => fired.push(clock.now()));
    clock.advance(30);
    expect(fired).toEqual([20]); // fired by the nested advance, at its due time
    expect(clock.now()).toBe(110); // the outer advance does not move time back to 30
  });

  it('rejects bad arguments by name', () => {
    const clock = new Clock();
    expect(() => clock.advance(-1)).toThrow(/ns/);
    expect(() => clock.advance(1.5)).toThrow(/ns/);
    expect(() => clock.setTimer(-5, () => {})).toThrow(/delayNs/);
    expect(() => clock.setTimer(5, 'x' as never)).toThrow(/callback/);
  });
});
