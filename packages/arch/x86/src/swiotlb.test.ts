import { describe, expect, it } from '@jest/globals';
import {
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  ENOMEM,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaSetMinAlignMask,
  dmaUnmapSingle,
} from '@kdma/dma-mapping';
import { firstDifference, pattern } from '@kdma/testkit';
import { createMachine } from './index.js';

const KIB = 1024;
const GIB = 2 ** 30;

/** A page above 4 GiB: ZONE_NORMAL is what the page allocator tries first. */
function highPage(m: ReturnType<typeof createMachine>, order = 0): number {
  const pfn = m.mm.allocPages(order);
  if (pfn === null) throw new Error('allocPages');
  expect(pfn * 4096).toBeGreaterThanOrEqual(4 * GIB);
  return m.mm.pageAddress(pfn);
}

describe('x86: swiotlb as pci_swiotlb_detect sets it up', () => {
  it('has a 64 MiB pool below 4 GiB when RAM reaches beyond 4 GiB, and none otherwise', () => {
    const big = createMachine({ memory: 8 * GIB });
    expect(big.swiotlb?.stats()).toEqual({ totalSlots: 32768, usedSlots: 0, highWaterSlots: 0, bouncedToDevice: 0, bouncedFromDevice: 0, failures: 0 });
    expect(big.hw.dmesg.entries().some((e) => /^software IO TLB: mapped \[mem 0x0000000[0-9a-f]{9}-0x0000000[0-9a-f]{9}\] \(64MB\)$/.test(e.message))).toBe(true);
    expect(createMachine({ memory: 2 * GIB }).swiotlb).toBeNull();
    expect(createMachine({ memory: 8 * GIB, swiotlb: false }).swiotlb).toBeNull();
    expect(createMachine({ memory: 2 * GIB, swiotlb: { size: 4 * 2 ** 20, force: true } }).swiotlb?.stats().totalSlots).toBe(2048);
  });

  it('lets a 32-bit device DMA to and from a buffer above 4 GiB through a bounce buffer below it', () => {
    const m = createMachine({ memory: 8 * GIB });
    const dev = m.createDevice({ name: '0000:00:19.0', dmaBits: 32 });
    const tx = highPage(m);
    const data = pattern(1514, 3);
    m.cpu.write(tx, data);
    const txAddr = dmaMapSingle(dev, tx, 1514, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, txAddr)).toBe(0);
    expect(txAddr + 1514).toBeLessThanOrEqual(4 * GIB);
    expect(firstDifference(dev.hw.dmaRead(txAddr, 1514), data)).toBe(-1);
    dmaUnmapSingle(dev, txAddr, 1514, DMA_TO_DEVICE);

    const rx = highPage(m);
    const rxAddr = dmaMapSingle(dev, rx, 2048, DMA_FROM_DEVICE);
    expect(rxAddr + 2048).toBeLessThanOrEqual(4 * GIB);
    const frame = pattern(2048, 9);
    dev.hw.dmaWrite(rxAddr, frame);
    dmaUnmapSingle(dev, rxAddr, 2048, DMA_FROM_DEVICE);
    expect(firstDifference(m.cpu.read(rx, 2048), frame)).toBe(-1);
    expect(m.swiotlb?.stats()).toMatchObject({ usedSlots: 0, bouncedToDevice: 1514 + 2048, bouncedFromDevice: 2048 });
  });

  it('fails a 300 KiB mapping with "swiotlb buffer is full"', () => {
    const m = createMachine({ memory: 8 * GIB });
    const dev = m.createDevice({ name: 'ahci', dmaBits: 32 });
    const buf = highPage(m, 7);
    const addr = dmaMapSingle(dev, buf, 300 * KIB, DMA_TO_DEVICE);
    expect(addr).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, addr)).toBe(-ENOMEM);
    expect(m.hw.dmesg.entries().at(-1)?.message).toBe('ahci: swiotlb buffer is full (sz: 307200 bytes), total 32768 (slots), used 0 (slots)');
    expect(m.swiotlb?.stats().usedSlots).toBe(0);
  });

  it('keeps an NVMe buffer\'s offset in its 4 KiB page, and limits its mappings accordingly', () => {
    const m = createMachine({ memory: 8 * GIB });
    const nvme = m.createDevice({ name: 'nvme0', dmaBits: 32 });
    dmaSetMinAlignMask(nvme, 0xfff);
    expect(dmaMaxMappingSize(nvme)).toBe(258048);
    const page = highPage(m);
    const addr = dmaMapSingle(nvme, page + 0x468, 512, DMA_TO_DEVICE);
    expect(addr % 4096).toBe(0x468);
    expect(addr).toBeLessThan(4 * GIB);
    dmaUnmapSingle(nvme, addr, 512, DMA_TO_DEVICE);
    const wide = m.createDevice({ name: 'wide', dmaBits: 64 });
    expect(dmaMaxMappingSize(wide)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('shows the CVE-2022-0854 leak only with the pre-fix bounce', () => {
    const seen = (leakyBounce: boolean): Uint8Array => {
      const m = createMachine({ memory: 8 * GIB, swiotlb: { size: 256 * KIB, areas: 1, leakyBounce } });
      const dev = m.createDevice({ name: 'sdb', dmaBits: 32 });
      const secret = highPage(m, 6);
      m.cpu.write(secret, new Uint8Array(256 * KIB).fill(0xa5));
      const a = dmaMapSingle(dev, secret, 256 * KIB, DMA_TO_DEVICE);
      dmaUnmapSingle(dev, a, 256 * KIB, DMA_TO_DEVICE);
      const rx = highPage(m);
      const b = dmaMapSingle(dev, rx, 4096, DMA_FROM_DEVICE);
      const bytes = dev.hw.dmaRead(b, 4096);
      dmaUnmapSingle(dev, b, 4096, DMA_FROM_DEVICE);
      return bytes;
    };
    expect(seen(true).every((b) => b === 0xa5)).toBe(true);
    expect(seen(false).every((b) => b === 0)).toBe(true);
  });
});
