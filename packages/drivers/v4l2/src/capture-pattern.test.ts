import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CapturePattern, captureFrameCounter, CAPTURE_PATTERN_PERIOD } from './capture-pattern.js';

describe('the capture test pattern', () => {
  it('verifies its own frames and names the first wrong byte of any other', () => {
    const pattern = new CapturePattern(5000);
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(4999), fc.integer({ min: 1, max: 255 }), (frame, at, delta) => {
        const bytes = pattern.expected(frame);
        expect(pattern.verify(bytes, frame)).toBe(-1);
        expect(captureFrameCounter(bytes)).toBe(frame);
        bytes[at] = ((bytes[at] as number) + delta) % 256;
        expect(pattern.verify(bytes, frame)).toBe(at);
      }),
    );
  });

  it('differs at every byte from any of the 250 frames before it', () => {
    const pattern = new CapturePattern(1000);
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 1, max: CAPTURE_PATTERN_PERIOD - 1 }), (frame, back) => {
        const now = pattern.expected(frame + back);
        const old = pattern.expected(frame);
        let same = 0;
        for (let i = 16; i < now.length - 8; i++) if (now[i] === old[i]) same++;
        expect(same).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects frames of the wrong size and sizes too small for header and trailer', () => {
    const pattern = new CapturePattern(100);
    expect(pattern.verify(new Uint8Array(99), 0)).toBe(99);
    expect(captureFrameCounter(new Uint8Array(100))).toBeNull();
    expect(() => new CapturePattern(23)).toThrow(RangeError);
    expect(() => pattern.expected(-1)).toThrow(/frame/);
  });
});
