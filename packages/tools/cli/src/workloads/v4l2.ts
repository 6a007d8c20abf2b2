/**
 * A V4L2 capture stream, as an application runs one: REQBUFS, QUERYBUF + mmap, QBUF, STREAMON,
 * then DQBUF / read the frame through the mapping / QBUF, STREAMOFF, munmap, REQBUFS(0). Every
 * frame is checked against the capture device's test pattern.
 */
import type { Device, Machine } from '@kdma/dma-mapping';
import { iommuGetDomainForDev, iommuIovaToPhys } from '@kdma/iommu';
import { GFP_DMA32 } from '@kdma/mm';
import { CaptureDevice, CaptureDriver, vb2DmaContigPlaneDmaAddr, vb2DmaSgPlaneDesc, type V4l2Bug, type V4l2Buffer, type Vb2Buffer } from '@kdma/v4l2';
import type { V4l2Workload } from '../scenario/types.js';
import { errorText, type WorkloadContext, type WorkloadResult } from './context.js';

/** Kernel virtual space in use: the vmalloc area and ARM's old consistent area. */
export function kernelVirtualUsed(machine: Machine): number {
  const stats = machine.mm.stats();
  return stats.vmallocUsed + stats.consistentUsed;
}

/**
 * Scatters the page allocator as a machine that has run a while: takes 2×`pages` single pages
 * and gives back every other one, so the next single-page allocations are not consecutive.
 */
export function fragmentMemory(machine: Machine, pages: number): void {
  const taken: number[] = [];
  for (let i = 0; i < 2 * pages; i++) {
    const pfn = machine.mm.allocPages(0);
    if (pfn === null) break;
    taken.push(pfn);
  }
  taken.forEach((pfn, i) => {
    if (i % 2 === 1) machine.mm.freePages(pfn, 0);
  });
}

function ok(ret: number, what: string): number {
  if (ret < 0) throw new Error(`${what} failed: ${ret}`);
  return ret;
}

function makeDriver(dev: Device, w: V4l2Workload, noKernelMapping: boolean): CaptureDriver {
  const hardware = new CaptureDevice(dev, { sizeimage: w.sizeimage, frameIntervalNs: w.frameIntervalNs });
  return new CaptureDriver(dev, hardware, {
    allocator: w.allocator,
    noKernelMapping,
    bugs: w.bugs as readonly V4l2Bug[],
    ...(w.gfpDma32 ? { gfpFlags: GFP_DMA32 } : {}),
  });
}

/** Physically contiguous runs behind `[iova, +size)` of a device behind an IOMMU, or null. */
function physicalRuns(dev: Device, iova: number, size: number): number | null {
  const domain = iommuGetDomainForDev(dev);
  if (domain === null || !domain.isPaging) return null;
  const page = dev.machine.pageSize;
  let runs = 0;
  let expected = -1;
  for (let off = 0; off < size; off += page) {
    const phys = iommuIovaToPhys(domain, iova + off);
    if (phys !== expected) runs++;
    expected = phys + page;
  }
  return runs;
}

export function runV4l2(ctx: WorkloadContext, w: V4l2Workload): WorkloadResult {
  const machine = ctx.machine;
  const dev = ctx.device(w.device);
  if (w.fragment > 0) fragmentMemory(machine, w.fragment);
  const label = `V4L2 capture, ${w.allocator}${w.noKernelMapping ? ' + DMA_ATTR_NO_KERNEL_MAPPING' : ''}, ${w.frames} frames of ${w.sizeimage} bytes in ${w.buffers} buffers${w.bugs.length > 0 ? `, bugs: ${w.bugs.join(', ')}` : ''}`;
  const details: Record<string, number | string | boolean> = {};
  let good = 0;
  let done = 0;
  let error: string | null = null;
  const kvBefore = kernelVirtualUsed(machine);
  const driver = makeDriver(dev, w, w.noKernelMapping);
  const q = driver.queue;
  const process = machine.createProcess();
  const maps: { uva: number; length: number }[] = [];
  try {
    if (ok(q.reqbufs(w.buffers), 'VIDIOC_REQBUFS') !== w.buffers) throw new Error('VIDIOC_REQBUFS gave fewer buffers');
    details['kernelVirtualBytes'] = kernelVirtualUsed(machine) - kvBefore;
    const first = q.buffer(0) as Vb2Buffer;
    if (w.allocator === 'dma-contig') {
      const runs = physicalRuns(dev, vb2DmaContigPlaneDmaAddr(first, 0), w.sizeimage);
      details['dmaSegmentsPerBuffer'] = 1;
      if (runs !== null) details['physicalRunsPerBuffer'] = runs;
    } else {
      const sgt = vb2DmaSgPlaneDesc(first, 0);
      details['sgEntriesPerBuffer'] = sgt.origNents;
      details['dmaSegmentsPerBuffer'] = sgt.nents;
    }
    for (let i = 0; i < w.buffers; i++) {
      const info = q.querybuf(i) as V4l2Buffer;
      maps.push({ uva: ok(q.mmap(process, info.length, info.offset), 'mmap'), length: info.length });
      details['userMapping'] = process.pgprotAt(maps[0]?.uva ?? 0);
    }
    for (let i = 0; i < w.buffers; i++) ok(q.qbuf(i), 'VIDIOC_QBUF');
    ok(q.streamon(), 'VIDIOC_STREAMON');
    ctx.peak();
    const frame = new Uint8Array(w.sizeimage);
    for (let f = 0; f < w.frames; f++) {
      const buf = q.dqbuf({ nonblocking: false });
      if (typeof buf === 'number') throw new Error(`VIDIOC_DQBUF failed: ${buf}`);
      process.readInto((maps[buf.index] as { uva: number }).uva, frame);
      done++;
      if (driver.hardware.pattern.verify(frame, buf.sequence) === -1 && buf.sequence === f && buf.bytesused === w.sizeimage) good++;
      ok(q.qbuf(buf.index), 'VIDIOC_QBUF');
      ctx.progress(done / w.frames);
    }
  } catch (err) {
    error = errorText(err);
  }
  // STREAMOFF, munmap, REQBUFS(0): what closing the application does.
  try {
    q.streamoff();
    for (const { uva, length } of maps) process.munmap(uva, length);
    q.reqbufs(0);
  } catch (err) {
    error ??= errorText(err);
  }
  if (w.noKernelMapping) {
    // The same buffers on a twin machine without the attribute: the remap it would have made.
    try {
      const twin = ctx.twinMachine();
      if (w.fragment > 0) fragmentMemory(twin, w.fragment);
      const twinDev = twin.createDevice(ctx.deviceOptions(w.device));
      const twinDriver = makeDriver(twinDev, { ...w, bugs: [] }, false);
      const before = kernelVirtualUsed(twin);
      ok(twinDriver.queue.reqbufs(w.buffers), 'VIDIOC_REQBUFS (twin)');
      const without = kernelVirtualUsed(twin) - before;
      ctx.snapshotOf(twin, 'twin without the attribute (same buffers, kernel mapping made)', 'twin, no attr');
      twinDriver.queue.reqbufs(0);
      twinDriver.remove();
      details['kernelVirtualBytesWithoutAttr'] = without;
      details['vmallocSaved'] = without - (details['kernelVirtualBytes'] as number);
    } catch (err) {
      details['vmallocSaved'] = `not measured: ${errorText(err)}`;
    }
  }
  return {
    kind: 'v4l2',
    device: w.device,
    label,
    intact: error === null && done === w.frames && good === done,
    unit: 'frames',
    done,
    good,
    payloadBytes: done * w.sizeimage,
    details,
    error,
    unbind: () => driver.remove(),
  };
}
