import { describe, expect, it } from '@jest/globals';
import { createMachine as createArm } from '@kdma/arch-arm';
import { createMachine as createX86 } from '@kdma/arch-x86';
import { CpuFault } from '@kdma/mm';
import { badFrames, setupCapture, streamFrames, TEST_SIZEIMAGE } from './test-capture.js';
import type { Vb2Buffer } from './videobuf2-core.js';
import { vb2PlaneVaddr } from './videobuf2-core.js';
import { vb2DmaContigPlaneDmaAddr } from './videobuf2-dma-contig.js';
import type { V4l2Buffer } from './videobuf2-v4l2.js';

const PAGE = 4096;
const BUFFER_BYTES = Math.ceil(TEST_SIZEIMAGE / PAGE) * PAGE;

describe('dma-contig', () => {
  it('on ARM, DMA_ATTR_NO_KERNEL_MAPPING saves the vmalloc space of the kernel mappings', () => {
    const used = (noKernelMapping: boolean): { vmalloc: number; vaddr: (number | null)[] } => {
      const machine = createArm({ dmaDebug: true });
      const s = setupCapture(machine, { allocator: 'dma-contig', noKernelMapping });
      const before = machine.mm.stats().vmallocUsed;
      expect(s.driver.queue.reqbufs(4)).toBe(4);
      const vaddr = [0, 1, 2, 3].map((i) => vb2PlaneVaddr(s.driver.queue.buffer(i) as Vb2Buffer, 0));
      const vmalloc = machine.mm.stats().vmallocUsed - before;
      expect(s.driver.queue.reqbufs(0)).toBe(0);
      expect(machine.mm.stats().vmallocUsed).toBe(before);
      return { vmalloc, vaddr };
    };
    const mapped = used(false);
    const unmapped = used(true);
    expect(mapped.vmalloc).toBeGreaterThanOrEqual(4 * BUFFER_BYTES);
    expect(unmapped.vmalloc).toBe(0);
    for (const vaddr of mapped.vaddr) expect(typeof vaddr).toBe('number');
    expect(unmapped.vaddr).toEqual([null, null, null, null]);
  });

  it('streams intact with no kernel mapping, whose cookie faults if the CPU touches it', () => {
    const machine = createArm({ dmaDebug: true });
    const s = setupCapture(machine, { allocator: 'dma-contig', noKernelMapping: true });
    expect(s.driver.queue.noKernelMapping).toBe(true);
    expect(badFrames(streamFrames(s, 20), TEST_SIZEIMAGE)).toEqual([]);
    s.driver.queue.reqbufs(1);
    const buf = s.driver.queue.buffer(0) as Vb2Buffer;
    const cookie = (buf.planes[0]?.memPriv as { cookie: number }).cookie;
    expect(() => machine.cpu.read(cookie, 1)).toThrow(CpuFault);
    s.driver.remove();
    expect(machine.dmaDebug?.errors()).toEqual([]);
  });

  it('gives the kernel the frame through vaddr when there is a kernel mapping', () => {
    for (const machine of [createArm(), createX86()]) {
      const s = setupCapture(machine, { allocator: 'dma-contig' });
      const q = s.driver.queue;
      q.reqbufs(2);
      q.qbuf(0);
      q.qbuf(1);
      q.streamon();
      const done = q.dqbuf({ nonblocking: false }) as V4l2Buffer;
      const vaddr = vb2PlaneVaddr(q.buffer(done.index) as Vb2Buffer, 0) as number;
      expect(s.hardware.pattern.verify(machine.cpu.read(vaddr, TEST_SIZEIMAGE), done.sequence)).toBe(-1);
      q.streamoff();
    }
  });

  it('programs the device with the DMA address and maps user space with the arch attributes', () => {
    for (const [machine, expected] of [
      [createArm(), 'wc'],
      [createX86(), 'normal'],
    ] as const) {
      const s = setupCapture(machine, { allocator: 'dma-contig' });
      const q = s.driver.queue;
      q.reqbufs(1);
      const info = q.querybuf(0) as V4l2Buffer;
      const uva = q.mmap(s.process, info.length, info.offset);
      // ARM: pgprot_dmacoherent (bufferable); x86: coherent, cached.
      expect(s.process.pgprotAt(uva)).toBe(expected);
      const addr = vb2DmaContigPlaneDmaAddr(q.buffer(0) as Vb2Buffer, 0);
      const bytes = new Uint8Array([1, 2, 3, 4]);
      s.dev.hw.dmaWrite(addr + PAGE, bytes);
      expect(s.process.read(uva + PAGE, 4)).toEqual(bytes);
      expect(() => vb2DmaContigPlaneDmaAddr(q.buffer(0) as Vb2Buffer, 1)).toThrow(TypeError);
    }
  });
});
