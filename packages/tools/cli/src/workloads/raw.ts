/**
 * Raw DMA API sequences: the consumer calls a driver makes (kmalloc, dma_alloc_attrs,
 * dma_map_single_attrs, the syncs, unmap, free), with the device's accesses (`device-read`,
 * `device-write`, through its bus master) and the CPU's (`fill`, `cpu-read`) in between. The
 * runner tracks what each buffer should hold; every device read and CPU read is checked.
 */
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocAttrs,
  dmaFreeAttrs,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingleAttrs,
  type DmaDataDirection,
} from '@kdma/dma-mapping';
import * as attrsModule from '@kdma/dma-attrs';
import type { Direction, RawStep, RawWorkload } from '../scenario/types.js';
import { errorText, type WorkloadContext, type WorkloadResult } from './context.js';
import { firstDifference, patternBytes } from './pattern.js';

const DIRS: Readonly<Record<Direction, DmaDataDirection>> = {
  bidirectional: DMA_BIDIRECTIONAL,
  'to-device': DMA_TO_DEVICE,
  'from-device': DMA_FROM_DEVICE,
};

/** `['WRITE_COMBINE', …]` as the `DMA_ATTR_*` bit mask. */
export function attrsMask(names: readonly string[]): number {
  let mask = 0;
  for (const name of names) mask += (attrsModule as unknown as Record<string, number>)[`DMA_ATTR_${name}`] ?? 0;
  return mask;
}

interface Buffer {
  readonly kind: 'kmalloc' | 'alloc';
  readonly cpuAddr: number;
  readonly size: number;
  readonly attrs: number;
  /** What the buffer should hold: the last bytes the CPU or the device wrote. */
  readonly expected: Uint8Array;
  readonly dmaHandle: number;
}

interface Handle {
  readonly buffer: string;
  readonly bus: number;
  readonly offset: number;
  readonly size: number;
  readonly dir: DmaDataDirection | null;
  readonly attrs: number;
}

function countSteps(steps: readonly RawStep[]): number {
  return steps.reduce((n, s) => n + (s.op === 'repeat' ? s.times * countSteps(s.steps) : 1), 0);
}

export function runRaw(ctx: WorkloadContext, w: RawWorkload): WorkloadResult {
  const machine = ctx.machine;
  const dev = ctx.device(w.device);
  const buffers = new Map<string, Buffer>();
  const handles = new Map<string, Handle>();
  const total = countSteps(w.steps);
  let executed = 0;
  let checks = 0;
  let good = 0;
  let payload = 0;
  let peaked = false;
  const failures: string[] = [];

  const buf = (name: string): Buffer => {
    const b = buffers.get(name);
    if (b === undefined) throw new Error(`buffer ${name} was freed`);
    return b;
  };
  const hnd = (name: string): Handle => {
    const h = handles.get(name);
    if (h === undefined) throw new Error(`handle ${name} was unmapped or freed`);
    return h;
  };
  const check = (what: string, got: Uint8Array, want: Uint8Array): void => {
    checks++;
    payload += got.length;
    const at = firstDifference(got, want);
    if (at === -1) good++;
    else if (failures.length < 5) failures.push(`${what}: byte ${at} differs`);
  };

  const run = (step: RawStep): void => {
    switch (step.op) {
      case 'kmalloc': {
        const kva = machine.mm.kmalloc(step.size);
        if (kva === null) throw new Error(`kmalloc(${step.size}) failed`);
        buffers.set(step.as, { kind: 'kmalloc', cpuAddr: kva, size: step.size, attrs: 0, expected: machine.cpu.read(kva, step.size), dmaHandle: 0 });
        break;
      }
      case 'alloc': {
        const attrs = attrsMask(step.attrs);
        const a = dmaAllocAttrs(dev, step.size, attrs);
        if (a === null) throw new Error(`dma_alloc_attrs(${step.size}) failed`);
        const noMap = (attrs & attrsModule.DMA_ATTR_NO_KERNEL_MAPPING) !== 0;
        const expected = noMap ? dev.hw.dmaRead(a.dmaHandle, step.size) : machine.cpu.read(a.cpuAddr, step.size);
        buffers.set(step.as, { kind: 'alloc', cpuAddr: a.cpuAddr, size: step.size, attrs, expected, dmaHandle: a.dmaHandle });
        handles.set(step.as, { buffer: step.as, bus: a.dmaHandle, offset: 0, size: step.size, dir: null, attrs });
        break;
      }
      case 'fill': {
        const b = buf(step.buffer);
        const bytes = patternBytes(b.size, step.seed);
        machine.cpu.write(b.cpuAddr, bytes);
        // A write-combined buffer's stores reach memory at a barrier, as a driver's wmb() does.
        machine.cpu.wmb();
        b.expected.set(bytes);
        break;
      }
      case 'map': {
        const b = buf(step.buffer);
        const size = step.size ?? b.size - step.offset;
        if (step.offset + size > b.size) throw new RangeError(`map of ${step.buffer}: offset ${step.offset} + size ${size} is past its ${b.size} bytes`);
        const attrs = attrsMask(step.attrs);
        const bus = dmaMapSingleAttrs(dev, b.cpuAddr + step.offset, size, DIRS[step.dir], attrs);
        if (dmaMappingError(dev, bus) !== 0) throw new Error(`dma_map_single_attrs of ${step.buffer} failed (dma_mapping_error)`);
        handles.set(step.as, { buffer: step.buffer, bus, offset: step.offset, size, dir: DIRS[step.dir], attrs });
        if (!peaked) {
          peaked = true;
          ctx.peak();
        }
        break;
      }
      case 'unmap': {
        const h = hnd(step.handle);
        if (h.dir === null) throw new Error(`${step.handle} is a coherent allocation: free it instead`);
        dmaUnmapSingleAttrs(dev, h.bus, h.size, h.dir, h.attrs);
        handles.delete(step.handle);
        break;
      }
      case 'sync-for-cpu':
      case 'sync-for-device': {
        const h = hnd(step.handle);
        if (h.dir === null) throw new Error(`${step.handle} is a coherent allocation: it needs no sync`);
        (step.op === 'sync-for-cpu' ? dmaSyncSingleForCpu : dmaSyncSingleForDevice)(dev, h.bus, h.size, h.dir);
        break;
      }
      case 'device-read': {
        const h = hnd(step.handle);
        const b = buf(h.buffer);
        check(`device-read of ${step.handle}`, dev.hw.dmaRead(h.bus, h.size), b.expected.subarray(h.offset, h.offset + h.size));
        break;
      }
      case 'device-write': {
        const h = hnd(step.handle);
        const b = buf(h.buffer);
        const bytes = patternBytes(h.size, step.seed);
        dev.hw.dmaWrite(h.bus, bytes);
        b.expected.set(bytes, h.offset);
        payload += bytes.length;
        break;
      }
      case 'cpu-read': {
        const b = buf(step.buffer);
        check(`cpu-read of ${step.buffer}`, machine.cpu.read(b.cpuAddr, b.size), b.expected);
        break;
      }
      case 'free': {
        const b = buf(step.buffer);
        if (b.kind === 'kmalloc') machine.mm.kfree(b.cpuAddr);
        else {
          dmaFreeAttrs(dev, b.size, b.cpuAddr, b.dmaHandle, b.attrs);
          handles.delete(step.buffer);
        }
        buffers.delete(step.buffer);
        break;
      }
      case 'repeat':
        for (let i = 0; i < step.times; i++) step.steps.forEach(run);
        return;
    }
    executed++;
    if (executed % 256 === 0) ctx.progress(executed / total);
  };

  let error: string | null = null;
  try {
    w.steps.forEach(run);
  } catch (err) {
    error = errorText(err);
  }
  const details: Record<string, string | number> = { steps: executed };
  failures.forEach((f, i) => (details[`failure${i + 1}`] = f));
  return {
    kind: 'raw',
    device: w.device,
    label: `raw DMA API sequence, ${total} steps`,
    intact: error === null && good === checks,
    unit: 'checks',
    done: checks,
    good,
    payloadBytes: payload,
    details,
    error,
    unbind: null,
  };
}
