import { describe, expect, it } from '@jest/globals';
import { createMachine } from '@kdma/arch-x86';
import { EAGAIN, EBUSY, EINVAL, ENOMEM, type Device } from '@kdma/dma-mapping';
import { setupCapture, TEST_INTERVAL_NS, TEST_SIZEIMAGE, type CaptureSetup } from './test-capture.js';
import { Vb2Queue, VB2_MAX_FRAME, type Vb2Ops } from './videobuf2-core.js';
import { vb2DmaContigMemops } from './videobuf2-dma-contig.js';
import { vb2DmaSgMemops } from './videobuf2-dma-sg.js';
import {
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_MAPPED,
  V4L2_BUF_FLAG_QUEUED,
  type V4l2Buffer,
} from './videobuf2-v4l2.js';

const PAGE = 4096;

function setup(allocator: 'dma-contig' | 'dma-sg' = 'dma-contig'): CaptureSetup {
  return setupCapture(createMachine({ dmaDebug: true }), { allocator });
}

function query(s: CaptureSetup, index: number): V4l2Buffer {
  const info = s.driver.queue.querybuf(index);
  if (typeof info === 'number') throw new Error(`querybuf(${index}) = ${info}`);
  return info;
}

describe('REQBUFS and QUERYBUF', () => {
  it('allocates the buffers and gives each a distinct page-aligned mmap cookie', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(q.reqbufs(4)).toBe(4);
    const infos = [0, 1, 2, 3].map((i) => query(s, i));
    for (const [i, info] of infos.entries()) {
      expect(info).toMatchObject({ index: i, memory: 'mmap', type: 'video-capture', length: TEST_SIZEIMAGE, state: 'dequeued', bytesused: 0 });
      // today's __setup_offsets: the buffer index above three plane bits above PAGE_SHIFT
      expect(info.offset).toBe(i * 8 * PAGE);
      expect(info.flags & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_MAPPED)).toBe(0);
    }
    expect(q.querybuf(4)).toBe(-EINVAL);
  });

  it('frees and reallocates, and caps the count at VB2_MAX_FRAME', () => {
    const machine = createMachine();
    const s = setupCapture(machine, { allocator: 'dma-sg', sizeimage: 64 });
    const q = s.driver.queue;
    const free = machine.mm.stats().freePages;
    expect(q.reqbufs(100)).toBe(VB2_MAX_FRAME);
    expect(machine.mm.stats().freePages).toBeLessThan(free);
    expect(q.reqbufs(2)).toBe(2);
    expect(q.numBuffers).toBe(2);
    expect(q.reqbufs(0)).toBe(0);
    expect(q.numBuffers).toBe(0);
    // dma-sg descriptor lists and buffers are all given back.
    expect(machine.mm.stats().freePages).toBe(free);
  });

  it('refuses other memory types, and reallocation while streaming or mapped', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(q.reqbufs(2, 'userptr')).toBe(-EINVAL);
    expect(q.reqbufs(2, 'dmabuf')).toBe(-EINVAL);
    expect(q.reqbufs(2)).toBe(2);
    const info = query(s, 1);
    const uva = q.mmap(s.process, info.length, info.offset);
    expect(q.reqbufs(0)).toBe(-EBUSY);
    expect(query(s, 1).flags & V4L2_BUF_FLAG_MAPPED).toBe(V4L2_BUF_FLAG_MAPPED);
    s.process.munmap(uva, info.length);
    expect(query(s, 1).flags & V4L2_BUF_FLAG_MAPPED).toBe(0);
    expect(q.qbuf(0)).toBe(0);
    expect(q.streamon()).toBe(0);
    expect(q.reqbufs(4)).toBe(-EBUSY);
    expect(q.streamoff()).toBe(0);
    expect(q.reqbufs(0)).toBe(0);
  });

  it('returns -ENOMEM when not one buffer fits, and keeps nothing', () => {
    const machine = createMachine({ memory: 64 * 2 ** 20 });
    const dev = machine.createDevice({ name: 'big0' });
    const ops: Vb2Ops = { queueSetup: (_q, count) => ({ count, sizes: [2 ** 27] }), bufQueue: () => undefined };
    for (const memOps of [vb2DmaContigMemops, vb2DmaSgMemops]) {
      const before = machine.mm.stats();
      const q = new Vb2Queue({ dev, memOps, ops });
      expect(q.reqbufs(2)).toBe(-ENOMEM);
      expect(q.numBuffers).toBe(0);
      expect(machine.mm.stats()).toEqual(before);
    }
  });

  it('rejects arguments that are not valid values, naming them', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(() => q.reqbufs(Number.NaN)).toThrow(/count/);
    expect(() => q.reqbufs(-1)).toThrow(RangeError);
    expect(() => q.reqbufs(1, 'bogus' as 'mmap')).toThrow(TypeError);
    expect(() => q.qbuf(1.5)).toThrow(/index/);
    expect(() => q.querybuf(-1)).toThrow(/index/);
    expect(() => q.mmap({} as never, PAGE, 0)).toThrow(/process/);
    expect(() => q.mmap(s.process, 0, 0)).toThrow(/length/);
    expect(() => q.mmap(s.process, PAGE, Number.NaN)).toThrow(/offset/);
    expect(() => q.dqbuf({ nonblocking: 'yes' as unknown as boolean })).toThrow(/nonblocking/);
    expect(() => setupCapture(createMachine(), { allocator: 'dma-sg', bugs: ['no-such-bug' as never] })).toThrow(/bugs\[0\]/);
  });
});

describe('mmap by the offset cookie', () => {
  for (const allocator of ['dma-contig', 'dma-sg'] as const) {
    it(`maps the buffer the cookie names, whole, with vm_pgoff reset to 0 (${allocator})`, () => {
      const s = setup(allocator);
      const q = s.driver.queue;
      expect(q.reqbufs(4)).toBe(4);
      const uvas = [0, 1, 2, 3].map((i) => q.mmap(s.process, TEST_SIZEIMAGE, query(s, i).offset));
      for (const uva of uvas) expect(uva).toBeGreaterThan(0);
      const vmas = s.process.vmas();
      expect(vmas).toHaveLength(4);
      for (const vma of vmas) expect(vma.pgoff).toBe(0);
      // Stream: the frame the device wrote into buffer k is visible at buffer k's mapping only.
      for (let i = 0; i < 4; i++) expect(q.qbuf(i)).toBe(0);
      expect(q.streamon()).toBe(0);
      const seen = new Set<number>();
      for (let f = 0; f < 4; f++) {
        const buf = q.dqbuf({ nonblocking: false });
        if (typeof buf === 'number') throw new Error(`dqbuf ${buf}`);
        const frame = s.process.read(uvas[buf.index] as number, TEST_SIZEIMAGE);
        expect(s.hardware.pattern.verify(frame, buf.sequence)).toBe(-1);
        seen.add(buf.index);
      }
      expect(seen.size).toBe(4);
      q.streamoff();
      for (const uva of uvas) s.process.munmap(uva, TEST_SIZEIMAGE);
      expect(q.reqbufs(0)).toBe(0);
      s.driver.remove();
      expect(s.machine.dmaDebug?.errors()).toEqual([]);
    });
  }

  it('maps a part of a buffer from its start', () => {
    const s = setup();
    const q = s.driver.queue;
    q.reqbufs(2);
    const uva = q.mmap(s.process, PAGE, query(s, 1).offset);
    expect(uva).toBeGreaterThan(0);
    expect(s.process.vmas()[0]?.end).toBe(uva + PAGE);
  });

  it('returns -EINVAL, mapping nothing, for a cookie that names no buffer or a length beyond it', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(q.mmap(s.process, PAGE, 0)).toBe(-EINVAL); // no buffers yet
    q.reqbufs(4);
    const one = query(s, 1).offset;
    expect(q.mmap(s.process, PAGE, 4 * 8 * PAGE)).toBe(-EINVAL); // buffer 4 does not exist
    expect(q.mmap(s.process, PAGE, one + PAGE)).toBe(-EINVAL); // plane 1 of buffer 1
    expect(q.mmap(s.process, PAGE, one + 16)).toBe(-EINVAL); // not page-aligned
    expect(q.mmap(s.process, PAGE, 2 ** 40)).toBe(-EINVAL);
    expect(q.mmap(s.process, TEST_SIZEIMAGE + PAGE, one)).toBe(-EINVAL); // would overflow the buffer
    expect(s.process.vmas()).toEqual([]);
  });
});

describe('QBUF, DQBUF, STREAMON, STREAMOFF', () => {
  it('returns -EINVAL for an unknown index or a buffer already queued', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(q.qbuf(0)).toBe(-EINVAL); // no buffers
    q.reqbufs(4);
    expect(q.qbuf(4)).toBe(-EINVAL);
    expect(q.qbuf(2 ** 20)).toBe(-EINVAL);
    expect(q.qbuf(2)).toBe(0);
    expect(q.qbuf(2)).toBe(-EINVAL);
    expect(query(s, 2)).toMatchObject({ state: 'queued' });
    expect(query(s, 2).flags & V4L2_BUF_FLAG_QUEUED).toBe(V4L2_BUF_FLAG_QUEUED);
  });

  it('returns -EAGAIN from a non-blocking DQBUF with nothing done, and -EINVAL when not streaming', () => {
    const s = setup();
    const q = s.driver.queue;
    q.reqbufs(4);
    expect(q.dqbuf()).toBe(-EINVAL);
    expect(q.streamon()).toBe(0); // with no buffer queued the engine waits
    expect(s.hardware.streaming).toBe(false);
    expect(q.dqbuf()).toBe(-EAGAIN);
    expect(q.qbuf(0)).toBe(0);
    expect(s.hardware.streaming).toBe(true);
    expect(q.dqbuf()).toBe(-EAGAIN);
    s.machine.clock.advance(TEST_INTERVAL_NS); // frame 0 starts
    expect(q.dqbuf()).toBe(-EAGAIN);
    s.machine.clock.advance(TEST_INTERVAL_NS); // frame 0 done
    const buf = q.dqbuf();
    expect(buf).toMatchObject({ index: 0, sequence: 0, bytesused: TEST_SIZEIMAGE, state: 'done' });
    expect((buf as V4l2Buffer).flags & V4L2_BUF_FLAG_DONE).toBe(V4L2_BUF_FLAG_DONE);
    expect((buf as V4l2Buffer).timestampNs).toBe(2 * TEST_INTERVAL_NS);
    expect(query(s, 0)).toMatchObject({ state: 'dequeued', bytesused: TEST_SIZEIMAGE });
    expect(q.dqbuf()).toBe(-EAGAIN);
  });

  it('counts dropped frames in the sequence numbers', () => {
    const s = setup();
    const q = s.driver.queue;
    q.reqbufs(1);
    q.qbuf(0);
    q.streamon();
    const first = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
    expect(first.sequence).toBe(0);
    // The engine had no buffer for the frames that started meanwhile.
    s.machine.clock.advance(3 * TEST_INTERVAL_NS);
    q.qbuf(0);
    const second = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
    expect(second.sequence).toBe(5);
    // Frames 1 to 4 had no buffer, and neither had frame 6, which started as frame 5 completed.
    expect(s.hardware.framesDropped).toBe(5);
  });

  for (const allocator of ['dma-contig', 'dma-sg'] as const) {
    it(`STREAMOFF gives every queued and done buffer back, dequeued (${allocator})`, () => {
      const s = setup(allocator);
      const q = s.driver.queue;
      q.reqbufs(4);
      for (let i = 0; i < 4; i++) q.qbuf(i);
      q.streamon();
      s.machine.clock.advance(3 * TEST_INTERVAL_NS); // two frames done, one in flight
      expect(q.doneCount).toBe(2);
      expect(q.streamoff()).toBe(0);
      expect(s.hardware.streaming).toBe(false);
      expect(q.queuedCount).toBe(0);
      for (let i = 0; i < 4; i++) {
        const info = query(s, i);
        expect(info.state).toBe('dequeued');
        expect(info.flags & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE)).toBe(0);
      }
      expect(q.dqbuf()).toBe(-EINVAL);
      // And they can be queued and streamed again.
      for (let i = 0; i < 4; i++) expect(q.qbuf(i)).toBe(0);
      expect(q.streamon()).toBe(0);
      const buf = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
      expect(buf.sequence).toBe(0);
      q.streamoff();
      s.driver.remove();
      expect(s.machine.dmaDebug?.errors()).toEqual([]);
    });
  }

  it('STREAMON without buffers is -EINVAL; a second STREAMON is a no-op', () => {
    const s = setup();
    const q = s.driver.queue;
    expect(q.streamon()).toBe(-EINVAL);
    q.reqbufs(2);
    q.qbuf(0);
    expect(q.streamon()).toBe(0);
    expect(q.streamon()).toBe(0);
    expect(q.streaming).toBe(true);
  });

  it('a blocking DQBUF with no event to wait for returns -EAGAIN instead of sleeping forever', () => {
    const s = setup();
    const q = s.driver.queue;
    q.reqbufs(1);
    q.streamon(); // nothing queued: the engine never starts
    expect(q.dqbuf({ nonblocking: false })).toBe(-EAGAIN);
  });
});

describe('the queue on its own', () => {
  it('takes the driver ops and allocator it is given, and reports NO_KERNEL_MAPPING', () => {
    const machine = createMachine();
    const dev: Device = machine.createDevice({ name: 'm2m0' });
    const ops: Vb2Ops = { queueSetup: (_q, count) => ({ count: Math.min(count, 3), sizes: [PAGE] }), bufQueue: () => undefined };
    const q = new Vb2Queue({ dev, memOps: vb2DmaContigMemops, ops, type: 'video-output', noKernelMapping: true });
    expect(q.noKernelMapping).toBe(true);
    expect(q.dmaDir).toBe(1); // DMA_TO_DEVICE
    expect(q.reqbufs(8)).toBe(3);
    expect(() => new Vb2Queue({ dev, memOps: vb2DmaContigMemops, ops: {} as Vb2Ops })).toThrow(/ops/);
  });
});
