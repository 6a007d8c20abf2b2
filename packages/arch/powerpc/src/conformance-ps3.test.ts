import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit on the PS3's system-bus devices (ps3_sb_dma_ops through lv1's linear DMA
 * region).
 *
 * IOC0 devices (ps3_ioc0_dma_ops) cannot run it, because the kernel's own ops BUG() on what the kit
 * does, before anything could be refused or reported (ps3.test.ts runs their single-buffer
 * protocol and asserts these BUG()s instead):
 * - ps3_ioc0_map_sg and ps3_ioc0_unmap_sg are `BUG();` (arch/powerpc/platforms/ps3/system-bus.c):
 *   the kit's streaming tests map an sg table in every direction, and four dma-debug scenes map one;
 * - dma_ioc0_map_area BUG()s ("FIXME") when memory already lies in one of the region's chunks
 *   (arch/powerpc/platforms/ps3/mm.c), and chunks are whole IO pages (64 KiB): mapping the same
 *   buffer twice (the cacheline-overlap scene) or two coherent buffers that share an IO page (the
 *   free-cpu-address-mismatch scene) both BUG;
 * - dma_ioc0_unmap_area BUG()s on a bus address it has no chunk for, and ops->unmap_page runs
 *   before debug_dma_unmap_page, so a double unmap (the free-not-allocated scene) oopses before
 *   dma-debug can report it.
 */

describe('ps3, system-bus device on ps3_sb_dma_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'ps3' } });
});
