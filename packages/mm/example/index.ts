// A tour of @kdma/mm: pages from the buddy allocator, a write-combined kernel mapping, and a user
// process that maps the same pages. Run: pnpm --filter @kdma/mm run example
import { Hardware } from '@kdma/hw';
import { GFP_KERNEL, Mm, PAGE_KERNEL, X86_64_ZONES, pgprotWritecombine, remapPfnRange } from '@kdma/mm';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

// An x86-64-like machine: 3 GiB below the PCI hole, 1 GiB above 4 GiB.
const hw = new Hardware({ memoryRegions: [{ base: 0, size: 3 * GiB }, { base: 4 * GiB, size: 1 * GiB }] });
const mm = new Mm(hw, { zones: X86_64_ZONES, cmaBytes: 16 * MiB });

// Two pages from the buddy allocator (GFP_KERNEL takes ZONE_NORMAL, above 4 GiB, first).
const pfns = [mm.allocPages(0, GFP_KERNEL), mm.allocPages(0, GFP_KERNEL)].map((pfn) => {
  if (pfn === null) throw new Error('out of memory');
  return pfn;
});
console.log(`pages: ${pfns.map((pfn) => `pfn 0x${pfn.toString(16)} (${mm.zoneOf(pfn)})`).join(', ')}`);

// Map them contiguously in the vmalloc area, write-combined, and write through the kernel CPU.
const kva = mm.vmap(pfns, pgprotWritecombine(PAGE_KERNEL));
if (kva === null) throw new Error('vmalloc space exhausted');
const message = new TextEncoder().encode('hello from the kernel, across a page boundary');
mm.cpu.write(kva + mm.pageSize - 10, message);
console.log(`vmap → 0x${kva.toString(16)} (${mm.memoryTypeAt(kva)})`);
console.log(`  memory before wmb(): ${JSON.stringify(new TextDecoder().decode(hw.ram.read(pfns[1]! * mm.pageSize, 8)))}`);
mm.cpu.wmb(); // drain the write-combine buffer
console.log(`  memory after wmb():  ${JSON.stringify(new TextDecoder().decode(hw.ram.read(pfns[1]! * mm.pageSize, 8)))}`);

// A process maps the pages the way a driver's mmap handler would (remap_pfn_range, wc).
const proc = mm.createProcess();
const uva = proc.mmap(2 * mm.pageSize, (vma) => {
  vma.pgprot = pgprotWritecombine(vma.pgprot);
  for (let i = 0; i < pfns.length; i++) {
    const ret = remapPfnRange(vma, vma.start + i * mm.pageSize, pfns[i]!, mm.pageSize, vma.pgprot);
    if (ret < 0) return ret;
  }
  return 0;
});
const seen = new TextDecoder().decode(proc.read(uva + mm.pageSize - 10, message.length));
console.log(`process ${proc.pid} mmap → 0x${uva.toString(16)} (${proc.pgprotAt(uva)}): ${JSON.stringify(seen)}`);

// A cookie of DMA_ATTR_NO_KERNEL_MAPPING kind: any access faults.
try {
  mm.cpu.read(2 ** 51, 4);
} catch (error) {
  console.log(`${(error as Error).name}: ${(error as Error).message}`);
}

console.log('mm.stats():', mm.stats());
