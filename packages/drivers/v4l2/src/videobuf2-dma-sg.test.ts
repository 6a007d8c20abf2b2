import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { setupCapture, TEST_SIZEIMAGE } from './test-capture.js';
import { vb2PlaneVaddr, type Vb2Buffer } from './videobuf2-core.js';
import { vb2DmaSgPlaneDesc } from './videobuf2-dma-sg.js';
import type { V4l2Buffer } from './videobuf2-v4l2.js';

describe('dma-sg', () => {
  it('allocates single pages, maps them to user space cached, and frees them all', () => {
    const machine = createArm({ dmaDebug: true });
    const s = setupCapture(machine, { allocator: 'dma-sg' });
    const q = s.driver.queue;
    const free = machine.mm.stats().freePages;
    expect(q.reqbufs(2)).toBe(2);
    const pages = Math.ceil(TEST_SIZEIMAGE / 4096);
    // Two buffers of single pages and two small descriptor lists.
    expect(free - machine.mm.stats().freePages).toBeGreaterThanOrEqual(2 * pages);
    const sgt = vb2DmaSgPlaneDesc(q.buffer(1) as Vb2Buffer, 0);
    expect(sgt.sgl.reduce((n, sg) => n + sg.length / 4096, 0)).toBe(pages);
    const info = q.querybuf(1) as V4l2Buffer;
    const uva = q.mmap(s.process, info.length, info.offset);
    expect(s.process.pgprotAt(uva)).toBe('normal');
    expect(s.process.vmas()[0]?.pgoff).toBe(0);
    s.process.munmap(uva, info.length);
    expect(q.reqbufs(0)).toBe(0);
    expect(machine.mm.stats().freePages).toBe(free);
    s.driver.remove();
    expect(machine.dmaDebug?.errors()).toEqual([]);
  });

  it('makes a kernel mapping only when asked (vm_map_ram) and drops it with the buffer', () => {
    const machine = createArm({ dmaDebug: true });
    const s = setupCapture(machine, { allocator: 'dma-sg' });
    const q = s.driver.queue;
    const empty = machine.mm.stats().vmallocUsed;
    q.reqbufs(2);
    const before = machine.mm.stats().vmallocUsed;
    q.qbuf(0);
    q.qbuf(1);
    q.streamon();
    const done = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
    expect(machine.mm.stats().vmallocUsed).toBe(before);
    const vaddr = vb2PlaneVaddr(q.buffer(done.index) as Vb2Buffer, 0) as number;
    expect(machine.mm.stats().vmallocUsed).toBeGreaterThan(before);
    expect(vb2PlaneVaddr(q.buffer(done.index) as Vb2Buffer, 0)).toBe(vaddr);
    // Synced for the CPU at completion: the kernel alias reads the frame.
    expect(s.hardware.pattern.verify(machine.cpu.read(vaddr, TEST_SIZEIMAGE), done.sequence)).toBe(-1);
    q.streamoff();
    q.reqbufs(0);
    expect(machine.mm.stats().vmallocUsed).toBe(empty);
    s.driver.remove();
    expect(machine.dmaDebug?.errors()).toEqual([]);
  });
});
