/**
 * The built-in demo: the scenarios the 2011 redesign was for, each on its own machine.
 * - V4L2 capture on ARM behind an IOMMU with `DMA_ATTR_NO_KERNEL_MAPPING`: scattered pages, one
 *   contiguous IOVA range per buffer, and no vmalloc remap for buffers the CPU never touches.
 * - ALSA playback through a write-combine buffer (`SNDRV_DMA_TYPE_DEV_WC`) on ARM and on x86: the
 *   same driver, write-combined where the DMA API makes it so (ARM), cached on x86.
 * - A 32-bit NIC on an x86 with 8 GiB: its buffers above 4 GiB bounce through swiotlb.
 */
import type { Scenario } from './scenario/types.js';

const DEMO = '<demo>';
const MIB = 2 ** 20;
const GIB = 2 ** 30;

const none = { intact: true, dmaDebug: [] } as const;

export const DEMO_SCENARIOS: readonly Scenario[] = Object.freeze([
  {
    file: DEMO,
    name: 'v4l2-arm-iommu',
    description: 'V4L2 capture on arm behind an ARM SMMU, dma-contig buffers with DMA_ATTR_NO_KERNEL_MAPPING',
    arch: 'arm',
    machine: { dmaDebug: true, memory: 512 * MIB, iommu: 'arm-smmu', seed: 1 },
    devices: [{ name: 'vcap0', iommu: true }],
    workloads: [
      {
        kind: 'v4l2',
        device: 'vcap0',
        allocator: 'dma-contig',
        frames: 30,
        buffers: 4,
        sizeimage: 640 * 480 * 2,
        frameIntervalNs: 33_333_333,
        noKernelMapping: true,
        fragment: 2048,
        gfpDma32: false,
        bugs: [],
      },
    ],
    expect: none,
  },
  ...(['arm', 'x86'] as const).map(
    (arch): Scenario => ({
      file: DEMO,
      name: `alsa-wc-${arch}`,
      description: `ALSA playback on ${arch} through a SNDRV_DMA_TYPE_DEV_WC ring mapped into the process`,
      arch,
      machine: { dmaDebug: true, memory: 256 * MIB, seed: 1 },
      devices: [{ name: 'snd0' }],
      workloads: [
        {
          kind: 'alsa',
          device: 'snd0',
          stream: 'playback',
          type: 'DEV_WC',
          periods: 64,
          periodBytes: 4096,
          bufferPeriods: 4,
          rate: 48000,
          channels: 2,
          bugs: [],
        },
      ],
      expect: none,
    }),
  ),
  {
    file: DEMO,
    name: 'net-x86-swiotlb',
    description: 'a 32-bit NIC on x86 with 8 GiB of RAM: buffers above 4 GiB bounce through swiotlb',
    arch: 'x86',
    machine: { dmaDebug: true, memory: 8 * GIB, seed: 1 },
    devices: [{ name: 'eth0', dmaBits: 32 }],
    workloads: [
      {
        kind: 'net',
        device: 'eth0',
        rx: 2000,
        tx: 2000,
        minSize: 60,
        maxSize: 1514,
        rxRingSize: 256,
        txRingSize: 256,
        copybreak: 256,
        bugs: [],
      },
    ],
    expect: none,
  },
]);
