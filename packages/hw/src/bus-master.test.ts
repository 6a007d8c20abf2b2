import { describe, expect, it } from '@jest/globals';
import type { DmaTranslation, TranslationRun } from './bus-master.js';
import { DmaFault } from './dma-fault.js';
import type { DmaFaultKind } from './dma-fault.js';
import type { AccessEvent } from './observers.js';
import { GiB, MiB, machine, pattern } from './test-machine.js';

const PAGE = 4096;

/** A toy IOMMU: IOVA page i maps to `pages[i]` (a physical page address) with read/write rights. */
class PageTable implements DmaTranslation {
  readonly faults: DmaFault[] = [];
  calls = 0;
  constructor(readonly pages: readonly ({ paddr: number; write: boolean } | undefined)[]) {}
  translate(busAddr: number, length: number, write: boolean, out: TranslationRun): DmaFaultKind | null {
    this.calls++;
    const entry = this.pages[Math.floor(busAddr / PAGE)];
    if (entry === undefined) return 'translation';
    if (write && !entry.write) return 'permission';
    const inPage = busAddr % PAGE;
    out.paddr = entry.paddr + inPage;
    out.length = Math.min(length, PAGE - inPage);
    return null;
  }
  onFault(fault: DmaFault): void {
    this.faults.push(fault);
  }
}

describe('bus masters', () => {
  it('reach memory at bus address + dmaOffset', () => {
    const hw = machine();
    const dev = hw.createBusMaster({ name: 'offset', addressBits: 32, coherent: true, dmaOffset: 4 * GiB - 0x1000_0000 });
    dev.dmaWrite(0x1000_0010, pattern(8));
    expect(hw.ram.read(4 * GiB + 0x10, 8)).toEqual(pattern(8));
    const into = new Uint8Array(12);
    dev.dmaReadInto(0x1000_0010, into, 2, 8);
    expect(into).toEqual(new Uint8Array([0, 0, ...pattern(8), 0, 0]));
    dev.dmaWrite(0x1000_0020, pattern(10, 50), 3, 4);
    expect(hw.ram.read(4 * GiB + 0x20, 4)).toEqual(pattern(4, 53));
    expect(hw.counters.deviceBytesWritten).toBe(12);
    expect(hw.counters.deviceBytesRead).toBe(8);
  });

  it('fault beyond their address width, writing nothing', () => {
    const hw = machine({ memoryRegions: [{ base: 0, size: 4 * GiB + MiB }] });
    const dev = hw.createBusMaster({ name: 'dev32', addressBits: 32, coherent: false });
    let caught: unknown;
    try {
      dev.dmaWrite(2 ** 32 - 16, pattern(32));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DmaFault);
    expect(caught).toMatchObject({ kind: 'width', busAddr: 2 ** 32 - 16, device: 'dev32', write: true, name: 'DmaFault' });
    expect(hw.ram.read(2 ** 32 - 16, 32)).toEqual(new Uint8Array(32));
    expect(hw.ram.allocatedBytes).toBe(0);
    expect(hw.faults).toEqual([caught]);
    expect(hw.counters.faults).toBe(1);
    expect(hw.counters.deviceBytesWritten).toBe(0);
    // The last 16 bytes below 4 GiB are fine; a 64-bit device reaches above.
    dev.dmaWrite(2 ** 32 - 16, pattern(16));
    hw.createBusMaster({ name: 'dev64', addressBits: 64, coherent: false }).dmaWrite(2 ** 32 - 16, pattern(32));
    expect(hw.ram.read(2 ** 32, 16)).toEqual(pattern(16, 17));
  });

  it('fault on memory holes', () => {
    const hw = machine();
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    expect(() => dev.dmaRead(MiB - 8, 16)).toThrow(expect.objectContaining({ kind: 'bus', busAddr: MiB - 8 }));
    expect(() => hw.createBusMaster({ name: 'neg', addressBits: 64, coherent: false, dmaOffset: -4096 }).dmaRead(0, 1)).toThrow(DmaFault);
    expect(hw.faults.map((f) => f.kind)).toEqual(['bus', 'bus']);
  });

  it('go through a translation that scatters a range over pages', () => {
    const hw = machine({ cacheModel: true });
    const scattered = [5, 2, 9, 7].map((i) => 4 * GiB + i * PAGE);
    const iommu = new PageTable(scattered.map((paddr) => ({ paddr, write: true })));
    const dev = hw.createBusMaster({ name: 'gpu', addressBits: 32, coherent: true });
    dev.translation = iommu;
    const events: AccessEvent[] = [];
    const unsubscribe = hw.observe((e) => events.push(e));
    const data = pattern(3 * PAGE + 100, 3);
    dev.dmaWrite(PAGE - 100, data); // IOVA [0xf9c, 0x4000): four pages
    expect(iommu.calls).toBe(4);
    expect(hw.ram.read(scattered[0]! + PAGE - 100, 100)).toEqual(data.subarray(0, 100));
    expect(hw.ram.read(scattered[1]!, PAGE)).toEqual(data.subarray(100, 100 + PAGE));
    expect(hw.ram.read(scattered[3]!, PAGE)).toEqual(data.subarray(100 + 2 * PAGE));
    expect(events.map((e) => [e.source, e.write, e.paddr, e.length, e.device, e.cpu, e.memoryType])).toEqual([
      ['device', true, scattered[0]! + PAGE - 100, 100, 'gpu', -1, null],
      ['device', true, scattered[1]!, PAGE, 'gpu', -1, null],
      ['device', true, scattered[2]!, PAGE, 'gpu', -1, null],
      ['device', true, scattered[3]!, PAGE, 'gpu', -1, null],
    ]);
    expect(dev.dmaRead(PAGE - 100, data.length)).toEqual(data);
    unsubscribe();
    dev.dmaRead(0, 1);
    expect(events).toHaveLength(8);
  });

  it('fault on a translation miss and on a permission violation, writing nothing', () => {
    const hw = machine();
    const iommu = new PageTable([
      { paddr: 4 * GiB, write: true },
      { paddr: 4 * GiB + PAGE, write: false },
    ]);
    const dev = hw.createBusMaster({ name: 'nic', addressBits: 48, coherent: false });
    dev.translation = iommu;
    hw.ram.fill(4 * GiB, 2 * PAGE, 0x11);

    expect(() => dev.dmaWrite(PAGE - 8, pattern(16))).toThrow(expect.objectContaining({ kind: 'permission', busAddr: PAGE, write: true }));
    expect(hw.ram.read(4 * GiB + PAGE - 8, 8)).toEqual(new Uint8Array(8).fill(0x11)); // the allowed page is untouched too
    expect(dev.dmaRead(PAGE - 8, 16)).toEqual(new Uint8Array(16).fill(0x11)); // reading is allowed

    expect(() => dev.dmaWrite(2 * PAGE - 8, pattern(16))).toThrow(expect.objectContaining({ kind: 'permission' }));
    expect(() => dev.dmaWrite(PAGE * 2 - 1, pattern(2))).toThrow(DmaFault);
    const target = new Uint8Array(PAGE + 16).fill(0xee);
    expect(() => dev.dmaReadInto(PAGE, target)).toThrow(expect.objectContaining({ kind: 'translation', busAddr: 2 * PAGE, write: false }));
    expect(target.every((b) => b === 0xee)).toBe(true);

    expect(iommu.faults).toEqual(hw.faults);
    expect(hw.faults.map((f) => f.kind)).toEqual(['permission', 'permission', 'permission', 'translation']);
    expect(hw.counters.faults).toBe(4);
    expect(hw.faults[3]!.message).toMatch(/translation fault: nic reading/);
  });

  it('fault as "bus" when a translation points outside RAM', () => {
    const hw = machine();
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    dev.translation = new PageTable([{ paddr: 2 * GiB, write: true }]);
    expect(() => dev.dmaWrite(0, pattern(4))).toThrow(expect.objectContaining({ kind: 'bus' }));
  });

  it('reject a translation that returns a bad run', () => {
    const hw = machine();
    const dev = hw.createBusMaster({ name: 'dev', addressBits: 64, coherent: false });
    dev.translation = {
      translate(_bus, _len, _write, out) {
        out.paddr = 0;
        out.length = 0;
        return null;
      },
    };
    expect(() => dev.dmaRead(0, 4)).toThrow(/invalid run/);
  });

  it('reject bad arguments by name', () => {
    const hw = machine();
    expect(() => hw.createBusMaster({ name: '', addressBits: 32, coherent: true })).toThrow(/name/);
    expect(() => hw.createBusMaster({ name: 'x', addressBits: 0, coherent: true })).toThrow(/addressBits/);
    expect(() => hw.createBusMaster({ name: 'x', addressBits: 32, coherent: 1 as never })).toThrow(/coherent/);
    expect(() => hw.createBusMaster({ name: 'x', addressBits: 32, coherent: true, dmaOffset: 0.5 })).toThrow(/dmaOffset/);
    const dev = hw.createBusMaster({ name: 'x', addressBits: 32, coherent: true });
    expect(() => dev.dmaRead(-1, 4)).toThrow(/busAddr/);
    expect(() => dev.dmaRead(0, Number.NaN)).toThrow(/length/);
    expect(() => dev.dmaWrite(0, 'abc' as never)).toThrow(/bytes/);
    expect(() => dev.dmaReadInto(0, new Uint8Array(4), 5)).toThrow(/offset/);
    expect(() => dev.dmaReadInto(0, new Uint8Array(4), 1, 4)).toThrow(/length/);
    expect(hw.faults).toHaveLength(0);
    expect(hw.busMasters).toHaveLength(1);
  });
});
