import { describe } from '@jest/globals';
import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit on the PS3's system-bus devices (ps3_sb_dma_ops through lv1's linear DMA
 * region). IOC0 devices cannot run it: ps3_ioc0_map_sg is BUG() and mapping the same memory twice
 * BUGs in dma_ioc0_map_area — ps3.test.ts runs their single-buffer protocol instead.
 */

describe('ps3, system-bus device on ps3_sb_dma_ops', () => {
  describeDmaConformance({ arch, createMachine, machineOptions: { platform: 'ps3' } });
});

