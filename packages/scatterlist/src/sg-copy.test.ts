import { describe, expect, it } from '@jest/globals';
import { Hardware } from '@kdma/hw';
import { Mm } from '@kdma/mm';
import {
  sgAllocTableFromPages,
  sgCopyFromBuffer,
  sgCopyToBuffer,
  sgEntry,
  sgInitOne,
  sgPcopyToBuffer,
  sgPhys,
} from './index.js';
import type { SgTable } from './index.js';

const P = 4096;
const MiB = 2 ** 20;

/** A machine of @kdma/hw and @kdma/mm, and 32 free consecutive page frames to build lists from. */
function machine(cacheModel = false) {
  const hw = new Hardware({ memoryRegions: [{ base: 0, size: 64 * MiB }], cacheModel });
  const mm = new Mm(hw);
  const base = mm.allocPages(5);
  if (base === null) throw new Error('no pages');
  return { hw, mm, cpu: mm.cpu, base };
}

function pattern(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

function sgt(result: SgTable | number): SgTable {
  if (typeof result === 'number') throw new Error(`expected a table, got ${result}`);
  return result;
}

describe('sgCopyFromBuffer / sgCopyToBuffer', () => {
  it('scatters a buffer over the pages and gathers it back', () => {
    const { mm, cpu, base } = machine();
    // Frames 5,6 | 20 | 9,10 at offset 100: three entries.
    const table = sgt(sgAllocTableFromPages([5, 6, 20, 9, 10].map((k) => base + k), 100, 5 * P - 300));
    expect(table.nents).toBe(3);
    const data = pattern(5 * P - 300);
    expect(sgCopyFromBuffer(cpu, mm, table.sgl, table.nents, data)).toBe(data.length);
    // The bytes sit where the entries say, and nowhere else.
    let pos = 0;
    for (const sg of table.sgl) {
      expect(cpu.read(mm.physToVirt(sgPhys(sg, P)), sg.length)).toEqual(data.subarray(pos, pos + sg.length));
      pos += sg.length;
    }
    expect(cpu.read(mm.pageAddress(base + 5), 100).every((b) => b === 0)).toBe(true);
    expect(cpu.read(mm.pageAddress(base + 7), P).every((b) => b === 0)).toBe(true);
    const back = new Uint8Array(data.length);
    expect(sgCopyToBuffer(cpu, mm, table.sgl, table.nents, back)).toBe(data.length);
    expect(back).toEqual(data);
  });

  it('skips bytes into the list and stops at the shorter of buffer and list', () => {
    const { mm, cpu, base } = machine();
    const table = sgt(sgAllocTableFromPages([base + 1, base + 3, base + 7], 0, 3 * P));
    const data = pattern(3 * P, 7);
    sgCopyFromBuffer(cpu, mm, table.sgl, table.nents, data);

    const mid = new Uint8Array(P);
    expect(sgPcopyToBuffer(cpu, mm, table.sgl, table.nents, mid, P + 10)).toBe(P);
    expect(mid).toEqual(data.subarray(P + 10, 2 * P + 10));

    const tail = new Uint8Array(P);
    expect(sgCopyToBuffer(cpu, mm, table.sgl, table.nents, tail, 2 * P + 96)).toBe(P - 96);
    expect(tail.subarray(0, P - 96)).toEqual(data.subarray(2 * P + 96));
    expect(tail.subarray(P - 96).every((b) => b === 0)).toBe(true);

    expect(sgCopyToBuffer(cpu, mm, table.sgl, table.nents, new Uint8Array(4), 3 * P)).toBe(0);
    // Only the first nents entries count.
    expect(sgCopyToBuffer(cpu, mm, table.sgl, 1, new Uint8Array(2 * P))).toBe(P);
  });

  it('writes with a skip land in the right place and leave the rest alone', () => {
    const { mm, cpu, base } = machine();
    const table = sgt(sgAllocTableFromPages([base + 2, base + 4], 0, 2 * P));
    expect(sgCopyFromBuffer(cpu, mm, table.sgl, table.nents, new Uint8Array([1, 2, 3]), P - 1)).toBe(3);
    expect(cpu.read(mm.pageAddress(base + 2) + P - 2, 2)).toEqual(new Uint8Array([0, 1]));
    expect(cpu.read(mm.pageAddress(base + 4), 4)).toEqual(new Uint8Array([2, 3, 0, 0]));
    expect(cpu.read(mm.pageAddress(base + 3), 1)).toEqual(new Uint8Array([0]));
  });

  it('goes through the CPU cache: a non-coherent device sees the bytes only after a clean', () => {
    const { hw, mm, cpu, base } = machine(true);
    const device = hw.createBusMaster({ name: 'dev', addressBits: 32, coherent: false });
    const table = sgt(sgAllocTableFromPages([base + 3, base + 4, base + 8], 0, 3 * P));
    const data = pattern(3 * P, 5);
    sgCopyFromBuffer(cpu, mm, table.sgl, table.nents, data);
    const first = table.sgl[0]!;
    expect(device.dmaRead(sgPhys(first, P), 16).every((b) => b === 0)).toBe(true);
    hw.cacheClean(sgPhys(first, P), first.length);
    expect(device.dmaRead(sgPhys(first, P), first.length)).toEqual(data.subarray(0, first.length));
  });

  it('checks its arguments', () => {
    const { mm, cpu, base } = machine();
    const table = sgt(sgAllocTableFromPages([base], 0, P));
    expect(() => sgCopyToBuffer(cpu, mm, table.sgl, 2, new Uint8Array(1))).toThrow(/^nents must be in \[0, 1\]/);
    expect(() => sgCopyToBuffer(cpu, mm, table.sgl, 1, [0] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => sgCopyFromBuffer(cpu, mm, table.sgl, 1, new Uint8Array(1), -1)).toThrow(/^skip must be in/);
  });
});

describe('sgInitOne', () => {
  it('points one entry at a kmalloc buffer', () => {
    const { mm, cpu } = machine();
    const buf = mm.kmalloc(5000);
    if (buf === null) throw new Error('no memory');
    const sg = sgEntry();
    sg.dmaAddress = 5;
    sgInitOne(sg, mm, buf, 5000);
    const phys = mm.virtToPhys(buf);
    expect(sg).toEqual({ pfn: Math.floor(phys / P), offset: phys % P, length: 5000, dmaAddress: 0, dmaLength: 0 });
    const data = pattern(5000, 3);
    expect(sgCopyFromBuffer(cpu, mm, [sg], 1, data)).toBe(5000);
    expect(cpu.read(buf, 5000)).toEqual(data);
  });
});
