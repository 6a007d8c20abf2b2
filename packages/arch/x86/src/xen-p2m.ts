import { addrMod, checkInteger, type DmaFaultKind, type DmaTranslation, pow2, type Prng, type TranslationRun } from '@kdma/hw';

/*
 * A Xen PV guest's memory (arch/x86/xen/p2m.c, and `xen_create_contiguous_region` /
 * `xen_destroy_contiguous_region` of arch/x86/xen/mmu.c): the guest's "physical" frames (pfn,
 * pseudo-physical, what Linux and kdma's RAM count in) are backed by machine frames (mfn) that
 * Xen gave it from wherever its heap had them. "Xen hypervisor stitches memory for guests from
 * different pools, which means there is no guarantee that PFN==MFN and PFN+1==MFN+1."
 *
 * The host is modelled by who owns each machine frame: Xen itself (the first 16 MiB, so machine
 * address 0 — the 2012 `DMA_ERROR_CODE` — is never a guest's), the guest, or Xen's free heap.
 * The domain builder took the guest's memory in 2 MiB chunks spread over the host (a seeded
 * shuffle), each handed out from its top down in extents of 8 KiB to 256 KiB (seeded lengths):
 * a two-page buffer that starts on an even pfn is machine-contiguous, a longer one often is not. Devices see machine addresses; `translation` turns them back into the pseudo-physical
 * RAM the model stores, and faults (a bus error) on a frame that is not the guest's.
 */

const PAGE_SIZE = 4096;
const CHUNK_FRAMES = 512;
/** Frames Xen keeps for itself (16 MiB). */
export const XEN_RESERVED_FRAMES = 4096;

export class XenP2m {
  /** pfn → mfn (`pfn_to_mfn`). */
  readonly p2m: Int32Array;
  /**
   * mfn → 1 + the pfn of this guest, or 0 (`mfn_to_pfn`, the machine-to-phys table, kept one up
   * so that a new table needs no filling). A frame is Xen's below `XEN_RESERVED_FRAMES`, the
   * guest's where this says so, and free in Xen's heap otherwise.
   */
  private readonly m2p: Int32Array;
  readonly guestPages: number;
  readonly hostPages: number;
  /** The hook each device's bus master gets: machine address → pseudo-physical RAM. */
  readonly translation: DmaTranslation;

  constructor(guestBytes: number, hostBytes: number, random: Prng) {
    checkInteger(guestBytes, 'guestBytes', PAGE_SIZE);
    this.guestPages = Math.floor(guestBytes / PAGE_SIZE);
    const chunks = Math.floor(hostBytes / PAGE_SIZE / CHUNK_FRAMES);
    this.hostPages = chunks * CHUNK_FRAMES;
    const firstChunk = XEN_RESERVED_FRAMES / CHUNK_FRAMES;
    const guestChunks = Math.ceil(this.guestPages / CHUNK_FRAMES);
    if (guestChunks > chunks - firstChunk) {
      throw new RangeError(`options.xenHostMemory: a host of ${hostBytes} bytes cannot hold Xen and a guest of ${guestBytes} bytes`);
    }
    this.p2m = new Int32Array(this.guestPages);
    this.m2p = new Int32Array(this.hostPages);

    // The chunks the guest's memory came from, spread over the host (a partial Fisher–Yates).
    const candidates = new Int32Array(chunks - firstChunk);
    for (let i = 0; i < candidates.length; i++) candidates[i] = firstChunk + i;
    for (let i = 0; i < guestChunks; i++) {
      const j = i + random.int(candidates.length - i);
      const t = candidates[i] as number;
      candidates[i] = candidates[j] as number;
      candidates[j] = t;
    }
    // Each chunk is handed out in extents of 2 to 64 frames, from its top down (Xen's heap gives
    // the highest pages first), so consecutive extents are not machine-contiguous.
    const p2m = this.p2m;
    const m2p = this.m2p;
    let pfn = 0;
    let bits = 0;
    let draws = 0;
    for (let c = 0; c < guestChunks && pfn < this.guestPages; c++) {
      const base = (candidates[c] as number) * CHUNK_FRAMES;
      let top = base + CHUNK_FRAMES;
      while (top > base && pfn < this.guestPages) {
        // Five random bits a length: six lengths from each 32-bit draw.
        if (draws === 0) {
          bits = random.next();
          draws = 6;
        }
        const length = Math.min(2 * (1 + (bits % 32)), top - base, this.guestPages - pfn);
        bits = Math.floor(bits / 32);
        draws--;
        let mfn = top - length;
        const end = pfn + length;
        for (; pfn < end; pfn++, mfn++) {
          p2m[pfn] = mfn;
          m2p[mfn] = pfn + 1;
        }
        top -= length;
      }
    }

    this.translation = { translate: (busAddr, length, write, out) => this.translate(busAddr, length, write, out) };
  }

  /** `pfn_to_mfn`. */
  pfnToMfn(pfn: number): number {
    return this.p2m[pfn] as number;
  }

  /** `mfn_to_pfn`: -1 for a frame that is not this guest's. */
  mfnToPfn(mfn: number): number {
    return mfn < this.hostPages ? (this.m2p[mfn] as number) - 1 : -1;
  }

  /** `phys_to_machine` (`xen_phys_to_bus`): the bus address of a pseudo-physical address. */
  physToMachine(paddr: number): number {
    return this.pfnToMfn(Math.floor(paddr / PAGE_SIZE)) * PAGE_SIZE + addrMod(paddr, PAGE_SIZE);
  }

  /** `machine_to_phys` (`xen_bus_to_phys`): -1 for a machine address that is not this guest's. */
  machineToPhys(maddr: number): number {
    const pfn = this.mfnToPfn(Math.floor(maddr / PAGE_SIZE));
    return pfn < 0 ? -1 : pfn * PAGE_SIZE + addrMod(maddr, PAGE_SIZE);
  }

  /** One past the highest machine address of the host. */
  get hostEnd(): number {
    return this.hostPages * PAGE_SIZE;
  }

  /**
   * `xen_create_contiguous_region`: exchanges the `2^order` frames behind `pfn…` for a
   * machine-contiguous, size-aligned extent below `2^addressBits` (`XENMEM_exchange`; Xen's heap
   * gives the highest it has below the limit). The old frames go back to Xen, the new ones come
   * scrubbed: `zero(pfn, pages)` clears the pseudo-physical pages. False (`-ENOMEM`) when Xen has
   * no such extent.
   */
  createContiguousRegion(pfn: number, order: number, addressBits: number, zero: (pfn: number, pages: number) => void): boolean {
    const count = pow2(order);
    const limit = Math.min(this.hostPages, Math.floor(pow2(Math.min(addressBits, 52)) / PAGE_SIZE));
    let base = -1;
    for (let candidate = Math.floor(limit / count) * count - count; candidate >= 0; candidate -= count) {
      if (this.isFree(candidate, count)) {
        base = candidate;
        break;
      }
    }
    if (base < 0) return false;
    for (let i = 0; i < count; i++) this.take(pfn + i);
    for (let i = 0; i < count; i++) this.give(pfn + i, base + i);
    zero(pfn, count);
    return true;
  }

  /**
   * `xen_destroy_contiguous_region`: gives the extent back for any frames Xen likes (from the top
   * of its heap, one by one, so the pages are no longer machine-contiguous).
   */
  destroyContiguousRegion(pfn: number, order: number, zero: (pfn: number, pages: number) => void): void {
    const count = pow2(order);
    const fresh: number[] = [];
    for (let mfn = this.hostPages - 1; mfn >= XEN_RESERVED_FRAMES && fresh.length < count; mfn--) {
      if (this.m2p[mfn] === 0) fresh.push(mfn);
    }
    if (fresh.length < count) return;
    for (let i = 0; i < count; i++) this.take(pfn + i);
    for (let i = 0; i < count; i++) this.give(pfn + i, fresh[i] as number);
    zero(pfn, count);
  }

  /**
   * `check_pages_physically_contiguous`: do the pages under `[paddr, paddr + size)` follow each
   * other in machine memory?
   */
  isMachineContiguous(paddr: number, size: number): boolean {
    const first = Math.floor(paddr / PAGE_SIZE);
    const last = Math.floor((paddr + size - 1) / PAGE_SIZE);
    const mfn = this.p2m[first] as number;
    for (let pfn = first + 1; pfn <= last; pfn++) {
      if (this.p2m[pfn] !== mfn + (pfn - first)) return false;
    }
    return true;
  }

  /** The device's view of memory: machine frames of this guest, and nothing else. */
  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): DmaFaultKind | null {
    const paddr = this.machineToPhys(busAddr);
    if (paddr < 0) return 'bus';
    let run = Math.min(length, PAGE_SIZE - addrMod(busAddr, PAGE_SIZE));
    let mfn = Math.floor(busAddr / PAGE_SIZE) + 1;
    // The entry of the next frame holds pfn + 1 when the guest's pages go on there.
    let pfn = Math.floor(paddr / PAGE_SIZE) + 2;
    while (run < length && mfn < this.hostPages && this.m2p[mfn] === pfn) {
      run = Math.min(length, run + PAGE_SIZE);
      mfn++;
      pfn++;
    }
    out.paddr = paddr;
    out.length = run;
    return null;
  }

  /** Are the frames `[mfn, mfn + count)` free in Xen's heap? */
  private isFree(mfn: number, count: number): boolean {
    if (mfn < XEN_RESERVED_FRAMES) return false;
    for (let i = 0; i < count; i++) if (this.m2p[mfn + i] !== 0) return false;
    return true;
  }

  private take(pfn: number): void {
    this.m2p[this.p2m[pfn] as number] = 0;
  }

  private give(pfn: number, mfn: number): void {
    this.p2m[pfn] = mfn;
    this.m2p[mfn] = pfn + 1;
  }
}
