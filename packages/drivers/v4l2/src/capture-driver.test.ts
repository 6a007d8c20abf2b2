import { describe, expect, it } from '@jest/globals';
import { createMachine } from '@kdma/arch-x86';
import { CaptureDevice } from './capture-device.js';
import { CaptureDriver } from './capture-driver.js';
import { setupCapture, TEST_SIZEIMAGE } from './test-capture.js';
import type { Vb2Buffer } from './videobuf2-core.js';
import { V4L2_BUF_FLAG_ERROR, type V4l2Buffer } from './videobuf2-v4l2.js';

describe('the capture driver', () => {
  it('completes a buffer the engine could not write with V4L2_BUF_FLAG_ERROR', () => {
    const machine = createMachine({ dmaDebug: true });
    const s = setupCapture(machine, { allocator: 'dma-contig' });
    const q = s.driver.queue;
    q.reqbufs(2);
    // Program buffer 0 with an address beyond the engine's 32 bits, as a corrupted register would.
    const priv = (q.buffer(0) as Vb2Buffer).planes[0]?.memPriv as { dmaAddr: number };
    const good = priv.dmaAddr;
    priv.dmaAddr = 2 ** 40;
    q.qbuf(0);
    q.qbuf(1);
    q.streamon();
    const bad = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
    expect(bad).toMatchObject({ index: 0, sequence: 0, bytesused: 0, state: 'error' });
    expect(bad.flags & V4L2_BUF_FLAG_ERROR).toBe(V4L2_BUF_FLAG_ERROR);
    const next = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
    expect(next).toMatchObject({ index: 1, sequence: 1, bytesused: TEST_SIZEIMAGE, state: 'done' });
    expect(machine.hw.dmesg.entries().some((e) => e.message.includes('capture DMA error in frame 0'))).toBe(true);
    priv.dmaAddr = good;
    s.driver.remove();
    expect(machine.dmaDebug?.errors()).toEqual([]);
  });

  it('checks its options and its hardware', () => {
    const machine = createMachine();
    const dev = machine.createDevice({ name: 'a' });
    const other = machine.createDevice({ name: 'b' });
    const hardware = new CaptureDevice(dev, { sizeimage: 4096 });
    expect(() => new CaptureDriver(other, hardware)).toThrow(/hardware belongs/);
    expect(() => new CaptureDriver(dev, {} as CaptureDevice)).toThrow(/CaptureDevice/);
    expect(() => new CaptureDriver(dev, hardware, { allocator: 'vmalloc' as 'dma-sg' })).toThrow(/allocator/);
    expect(() => new CaptureDriver(dev, hardware, { bugs: 'no-wmb' as never })).toThrow(/bugs/);
    const driver = new CaptureDriver(dev, hardware);
    expect(driver.allocator).toBe('dma-contig');
    driver.remove();
    driver.remove();
    expect(machine.devices.map((d) => d.name)).toEqual(['b']);
  });
});
