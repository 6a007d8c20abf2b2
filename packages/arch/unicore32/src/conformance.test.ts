import { describe, expect, it } from '@jest/globals';
import { countBounces, describeDmaConformance, type KernelRefusals } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

const MIB = 2 ** 20;

/*
 * The conformance kit on PKUnity-3, every device behind the PCI bridge on swiotlb_dma_map_ops:
 * with 128 MiB all of RAM lies in the PCI window and nothing bounces; with 512 MiB (the default)
 * kmalloc memory lies above the window and the kit's buffers bounce through the pool. A bounce
 * slot keeps to the device's segment boundary (swiotlb_tbl_map_single), so a segment longer than
 * the boundary window that must bounce is refused (swiotlb_map_sg_attrs returns 0); dma-debug's
 * device-access scene uses a buffer the device reaches in place (GFP_DMA), since a device writing
 * a bounce slot touches no mapped buffer.
 */

const kernelRefuses: KernelRefusals = { segmentAcrossBoundary: { swiotlb_dma_map_ops: 'when-remapped' } };
const counts = new Map<string, () => number>();

describe('puv3 with 128 MiB, every device behind the PCI bridge', () => {
  const count = countBounces(createMachine);
  counts.set('128 MiB', count.bytes);
  describeDmaConformance({ arch, createMachine: count.createMachine, machineOptions: { memory: 128 * MIB }, kernelRefuses });
});

describe('puv3 with 512 MiB: buffers above 128 MiB bounce', () => {
  const count = countBounces(createMachine);
  counts.set('512 MiB', count.bytes);
  describeDmaConformance({ arch, createMachine: count.createMachine, machineOptions: { memory: 512 * MIB }, kernelRefuses });
});

describe('the kit runs above', () => {
  it('bounced nothing with 128 MiB and the kit’s buffers with 512 MiB', () => {
    expect(counts.get('128 MiB')?.()).toBe(0);
    expect(counts.get('512 MiB')?.()).toBeGreaterThan(64 * 1024);
  });
});
