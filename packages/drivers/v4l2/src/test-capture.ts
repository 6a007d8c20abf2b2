// Test helpers (not published): a capture device and its driver on a machine, and the user
// process of the issue: map the buffers, stream, read and check every frame.
import type { Device, DeviceOptions, Machine } from '@kdma/dma-mapping';
import type { Process } from '@kdma/mm';
import type { V4l2Bug } from './bugs.js';
import { CaptureDevice } from './capture-device.js';
import { CaptureDriver, type CaptureAllocator } from './capture-driver.js';
import type { V4l2Buffer } from './videobuf2-v4l2.js';

/** 640×360 NV12: not a whole number of pages, so the last page is partly used. */
export const TEST_SIZEIMAGE = (640 * 360 * 3) / 2;
export const TEST_INTERVAL_NS = 1_000_000;

export interface CaptureSetup {
  readonly machine: Machine;
  readonly dev: Device;
  readonly hardware: CaptureDevice;
  readonly driver: CaptureDriver;
  readonly process: Process;
}

export interface SetupOptions {
  readonly allocator: CaptureAllocator;
  readonly bugs?: readonly V4l2Bug[];
  readonly sizeimage?: number;
  readonly noKernelMapping?: boolean;
  readonly gfpFlags?: number;
  readonly device?: Partial<DeviceOptions>;
}

export function setupCapture(machine: Machine, options: SetupOptions): CaptureSetup {
  const dev = machine.createDevice({ name: 'vcap0', ...options.device });
  const hardware = new CaptureDevice(dev, { sizeimage: options.sizeimage ?? TEST_SIZEIMAGE, frameIntervalNs: TEST_INTERVAL_NS });
  const driver = new CaptureDriver(dev, hardware, {
    allocator: options.allocator,
    ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
    ...(options.noKernelMapping === undefined ? {} : { noKernelMapping: options.noKernelMapping }),
    ...(options.gfpFlags === undefined ? {} : { gfpFlags: options.gfpFlags }),
  });
  return { machine, dev, hardware, driver, process: machine.createProcess() };
}

/**
 * Fragments the page allocator as a machine that has run a while is: takes `pages` pairs of
 * single pages and gives back every other one, so that the next single-page allocations are
 * scattered (a fresh buddy allocator hands out consecutive pages).
 */
export function fragmentMemory(machine: Machine, pages: number): void {
  const mm = machine.mm;
  const taken: number[] = [];
  for (let i = 0; i < 2 * pages; i++) {
    const pfn = mm.allocPages(0);
    if (pfn === null) throw new Error('fragmentMemory: out of memory');
    taken.push(pfn);
  }
  taken.forEach((pfn, i) => {
    if (i % 2 === 1) mm.freePages(pfn, 0);
  });
}

export interface FrameRecord {
  readonly index: number;
  readonly sequence: number;
  readonly bytesused: number;
  readonly flags: number;
  /** First wrong byte of the frame the process read, or -1. */
  readonly firstBad: number;
}

function ok(ret: number, what: string): number {
  if (ret < 0) throw new Error(`${what} failed: ${ret}`);
  return ret;
}

/**
 * The user process of the issue: REQBUFS(count), QUERYBUF + mmap each buffer, QBUF all,
 * STREAMON, then `frames` times DQBUF (sleeping), read the frame through the mapping, check it,
 * QBUF it again; STREAMOFF, munmap, REQBUFS(0).
 */
export function streamFrames(setup: CaptureSetup, frames: number, count = 4): FrameRecord[] {
  const { driver, process } = setup;
  const queue = driver.queue;
  const pattern = setup.hardware.pattern;
  if (ok(queue.reqbufs(count), 'reqbufs') !== count) throw new Error('reqbufs gave fewer buffers');
  const maps: { uva: number; length: number }[] = [];
  for (let i = 0; i < count; i++) {
    const info = queue.querybuf(i) as V4l2Buffer;
    maps.push({ uva: ok(queue.mmap(process, info.length, info.offset), 'mmap'), length: info.length });
  }
  for (let i = 0; i < count; i++) ok(queue.qbuf(i), 'qbuf');
  ok(queue.streamon(), 'streamon');
  const frame = new Uint8Array(driver.sizeimage);
  const records: FrameRecord[] = [];
  for (let f = 0; f < frames; f++) {
    const buf = queue.dqbuf({ nonblocking: false });
    if (typeof buf === 'number') throw new Error(`dqbuf failed: ${buf}`);
    const map = maps[buf.index] as { uva: number };
    process.readInto(map.uva, frame);
    records.push({ index: buf.index, sequence: buf.sequence, bytesused: buf.bytesused, flags: buf.flags, firstBad: pattern.verify(frame, buf.sequence) });
    ok(queue.qbuf(buf.index), 'qbuf');
  }
  ok(queue.streamoff(), 'streamoff');
  for (const { uva, length } of maps) process.munmap(uva, length);
  ok(queue.reqbufs(0), 'reqbufs(0)');
  return records;
}

/** The indices of the frames that did not come out intact and in order. */
export function badFrames(records: readonly FrameRecord[], sizeimage: number): number[] {
  return records.flatMap((r, f) => (r.firstBad !== -1 || r.sequence !== f || r.bytesused !== sizeimage ? [f] : []));
}
