import { describe, expect, it } from '@jest/globals';
import { createMachine } from '@kdma/arch-x86';
import { dmaAllocCoherent } from '@kdma/dma-mapping';
import { CaptureDevice, CAPTURE_DESC_SIZE, writeCaptureDescriptor, type CaptureIrq } from './capture-device.js';

const INTERVAL = 1000;

function rig(sizeimage: number) {
  const machine = createMachine();
  const dev = machine.createDevice({ name: 'cam0' });
  const hardware = new CaptureDevice(dev, { sizeimage, frameIntervalNs: INTERVAL });
  const irqs: CaptureIrq[] = [];
  hardware.requestIrq((irq) => irqs.push(irq));
  return { machine, dev, hardware, irqs };
}

describe('the capture device', () => {
  it('writes one frame per interval into the queued contiguous buffer, then interrupts', () => {
    const { machine, dev, hardware, irqs } = rig(10_000);
    const buf = dmaAllocCoherent(dev, 3 * 4096);
    if (buf === null) throw new Error('alloc');
    hardware.queueContig(buf.dmaHandle, 3 * 4096, 7);
    hardware.start();
    machine.clock.advance(INTERVAL);
    expect(irqs).toEqual([{ kind: 'frame-start', tag: 7, frame: 0 }]);
    machine.clock.advance(INTERVAL);
    expect(irqs[1]).toEqual({ kind: 'frame-done', tag: 7, frame: 0, bytesused: 10_000 });
    expect(hardware.pattern.verify(machine.cpu.read(buf.cpuAddr, 10_000), 0)).toBe(-1);
    // Nothing queued for the next frame: dropped, its number used up.
    machine.clock.advance(INTERVAL);
    expect(hardware.framesDropped).toBe(2);
    expect(hardware.framesCaptured).toBe(1);
  });

  it('walks a descriptor list it fetched by DMA, across segment ends, up to the LAST flag', () => {
    const { machine, dev, hardware, irqs } = rig(9000);
    const lengths = [10, 8986, 4]; // the header straddles pieces 0 and 1, the trailer pieces 1 and 2
    const pieces = lengths.map((length) => dmaAllocCoherent(dev, length));
    const list = dmaAllocCoherent(dev, 4 * CAPTURE_DESC_SIZE);
    if (list === null || pieces.some((p) => p === null)) throw new Error('alloc');
    const bytes = new Uint8Array(4 * CAPTURE_DESC_SIZE);
    const view = new DataView(bytes.buffer);
    pieces.forEach((p, i) => writeCaptureDescriptor(view, i, p?.dmaHandle as number, lengths[i] as number, i === 2));
    writeCaptureDescriptor(view, 3, 0, 4096, false); // after LAST: never used
    machine.cpu.write(list.cpuAddr, bytes);
    hardware.queueSgList(list.dmaHandle, 4, 1);
    hardware.start();
    machine.clock.advance(2 * INTERVAL);
    expect(irqs.at(-1)).toEqual({ kind: 'frame-done', tag: 1, frame: 0, bytesused: 9000 });
    const frame = new Uint8Array(9000);
    let at = 0;
    pieces.forEach((p, i) => {
      frame.set(machine.cpu.read(p?.cpuAddr as number, lengths[i] as number), at);
      at += lengths[i] as number;
    });
    expect(hardware.pattern.verify(frame, 0)).toBe(-1);
    expect(hardware.descriptorFetches).toBe(1);
  });

  it('raises dma-error when its bus access faults, and writes a short buffer only as far as it goes', () => {
    const { machine, dev, hardware, irqs } = rig(8192);
    hardware.queueContig(2 ** 40, 8192, 3); // beyond the 32-bit engine
    const small = dmaAllocCoherent(dev, 4096);
    if (small === null) throw new Error('alloc');
    hardware.queueContig(small.dmaHandle, 4096, 4);
    hardware.start();
    machine.clock.advance(3 * INTERVAL);
    const kinds = irqs.map((irq) => irq.kind);
    expect(kinds).toEqual(['frame-start', 'dma-error', 'frame-start', 'frame-done']);
    expect(irqs[1]).toMatchObject({ kind: 'dma-error', tag: 3, frame: 0 });
    expect(irqs[3]).toEqual({ kind: 'frame-done', tag: 4, frame: 1, bytesused: 4096 });
    expect(machine.hw.faults.length).toBeGreaterThan(0);
  });

  it('stops, drops what is queued, and restarts its frame counter', () => {
    const { machine, dev, hardware, irqs } = rig(4096);
    const buf = dmaAllocCoherent(dev, 4096);
    if (buf === null) throw new Error('alloc');
    hardware.queueContig(buf.dmaHandle, 4096, 0);
    hardware.queueContig(buf.dmaHandle, 4096, 1);
    hardware.start();
    machine.clock.advance(INTERVAL);
    expect(hardware.queuedBuffers).toBe(2);
    hardware.stop();
    expect(hardware.queuedBuffers).toBe(0);
    machine.clock.advance(10 * INTERVAL);
    expect(irqs).toEqual([{ kind: 'frame-start', tag: 0, frame: 0 }]);
    hardware.queueContig(buf.dmaHandle, 4096, 2);
    hardware.start();
    machine.clock.advance(2 * INTERVAL);
    expect(irqs.at(-1)).toEqual({ kind: 'frame-done', tag: 2, frame: 0, bytesused: 4096 });
  });

  it('checks its arguments', () => {
    const { dev, hardware } = rig(4096);
    expect(() => new CaptureDevice(dev, { sizeimage: 10 })).toThrow(/size/);
    expect(() => new CaptureDevice(dev, { sizeimage: 4096, frameIntervalNs: 0 })).toThrow(/frameIntervalNs/);
    expect(() => hardware.queueContig(-1, 4096, 0)).toThrow(/busAddr/);
    expect(() => hardware.queueSgList(0, 0, 0)).toThrow(/count/);
    expect(() => hardware.requestIrq(() => undefined)).toThrow(/already/);
  });
});
