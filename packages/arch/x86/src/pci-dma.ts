import type { Device, DeviceOptions } from '@kdma/dma-mapping';
import { setDmaOps, type Machine, type MachineOptions } from '@kdma/dma-mapping/ops';
import { describe, type MemoryRegion } from '@kdma/hw';
import { devIommu, iommuProbeDevice, iommuSetupMachine } from '@kdma/iommu';
import { AmdGart, gartDmaOps } from './amd-gart.js';
import { amdIommuDeviceDmaOpsInit, amdIommuDriver } from './amd-iommu.js';
import { allocateAperture, gartIommuNeeded, printApertureCheck } from './aperture.js';
import { KernelPanic } from './dma-generic.js';
import { intelDmaOps } from './intel-dma-ops.js';
import { intelIommuDriver } from './intel-iommu.js';
import { memblockFindInRange } from './memblock.js';
import { Calgary, calgaryDmaOps, calgaryInit } from './pci-calgary.js';
import { XenPv, xenPvInit, xenSwiotlbDmaOps } from './swiotlb-xen.js';
import { determineTceTableSize, TCE_ENTRY_SIZE, tableSizeToNumberOfEntries } from './tce.js';
import { x86Options } from './x86-options.js';

/*
 * arch/x86/kernel/pci-dma.c: which dma_map_ops a device gets. `pci_iommu_alloc` walks the
 * IOMMU_INIT table — `pci_xen_swiotlb_detect` (and a PV guest stops there), the swiotlb
 * detection (RAM above 4 GiB), `gart_iommu_hole_init`, `detect_calgary`, `detect_intel_iommu`,
 * `amd_iommu_detect` — and the winner's init sets either the global `dma_ops` (xen-swiotlb, GART,
 * VT-d) or each device's `archdata.dma_ops` (Calgary behind its PHBs, AMD-Vi for the devices it
 * handles). In kdma one machine has one of them (`platform: 'xen-pv'`, `iommu: …`), and the
 * choice is made per device as it is created.
 */

const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** `__alloc_bootmem_low` for the TCE tables: below 4 GiB, above the ISA zone and the kernel image. */
const TCE_TABLE_LOW = 16 * MIB;

/** Boot memory the arch takes before the page allocator exists (memblock). */
export interface X86BootPlan {
  /** The GART aperture (null: no GART in use). */
  readonly aperture: MemoryRegion | null;
  /** One TCE table per translating Calgary PHB. */
  readonly tceTables: readonly MemoryRegion[];
  /** The TCE table size code. */
  readonly tceTableSize: number;
  /** What `createMachine` adds to `reservedMemory`. */
  readonly reserved: readonly MemoryRegion[];
}

function validRegions(value: unknown): value is readonly MemoryRegion[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((r: unknown) => typeof r === 'object' && r !== null && Number.isSafeInteger((r as MemoryRegion).base) && Number.isSafeInteger((r as MemoryRegion).size))
  );
}

/**
 * The memblock reservations of a GART or Calgary machine, from its options: the aperture
 * (`allocate_aperture`) and the TCE tables (`alloc_tce_table`). Null when there are none, or when
 * the options are not valid (the machine builder says why).
 */
export function x86BootPlan(options: MachineOptions, layout: (memory: number, platform: string) => MemoryRegion[], defaultMemory: number): X86BootPlan | null {
  if (typeof options !== 'object' || options === null) return null;
  const iommu = options.iommu;
  if ((iommu !== 'gart' && iommu !== 'calgary') || (options.platform ?? 'pc') !== 'pc') return null;
  const memory = options.memory ?? defaultMemory;
  const regions = options.memoryRegions ?? (Number.isSafeInteger(memory) && memory > 0 ? layout(memory, 'pc') : null);
  if (!validRegions(regions)) return null;
  const userReserved: readonly MemoryRegion[] = options.reservedMemory ?? [];
  if (userReserved.length > 0 && !validRegions(userReserved)) return null;
  const x86 = x86Options(options);
  const maxPhys = Math.max(...regions.map((r) => r.base + r.size));
  if (iommu === 'gart') {
    if (!gartIommuNeeded(maxPhys, x86.forceIommu)) return { aperture: null, tceTables: [], tceTableSize: 0, reserved: [] };
    const aperture = allocateAperture(regions, userReserved, x86.gartApertureOrder);
    if (aperture === null) throw new KernelPanic('Kernel panic - not syncing: Not enough memory for aperture');
    return { aperture, tceTables: [], tceTableSize: 0, reserved: [aperture] };
  }
  const tceTableSize = x86.calgaryTableSize ?? determineTceTableSize(maxPhys);
  const bytes = tableSizeToNumberOfEntries(tceTableSize) * TCE_ENTRY_SIZE;
  const tables: MemoryRegion[] = [];
  for (let i = 0; i < x86.calgaryPhbs; i++) {
    const base = memblockFindInRange(regions, [...userReserved, ...tables], TCE_TABLE_LOW, 4 * GIB, bytes, bytes);
    if (base === null) throw new RangeError(`options.calgaryPhbs: no room below 4 GiB for ${x86.calgaryPhbs} TCE tables of ${bytes / MIB} MiB`);
    tables.push({ base, size: bytes });
  }
  return { aperture: null, tceTables: tables, tceTableSize, reserved: tables };
}

/** Whether the machine gets the generic swiotlb pool without the `swiotlb` option. */
export function x86SwiotlbByDefault(machine: Machine): boolean {
  // The Xen PV guest's pool becomes xen-swiotlb's (pci_xen_swiotlb_detect turns swiotlb itself off).
  if (machine.platform === 'xen-pv') return true;
  const options = machine.options;
  // gart_iommu_init: "swiotlb = 0".
  if (options.iommu === 'gart' && gartIommuNeeded(machine.maxPhysAddress, options['forceIommu'] === true)) return false;
  // pci_swiotlb_detect_4gb.
  return machine.maxPhysAddress > 4 * GIB;
}

/** The platform's and IOMMU's machine-wide state (`pci_iommu_alloc` + the winner's init). */
export function x86SetupMachine(machine: Machine, options: MachineOptions, plan: X86BootPlan | null): void {
  const x86 = x86Options(options);
  const iommu = options.iommu;
  if (machine.platform === 'xen-pv') {
    if (iommu !== undefined && iommu !== false) throw new RangeError(`options.iommu: a Xen PV guest drives no IOMMU (Xen owns it), got ${describe(iommu)}`);
    if (options['iommuPassthrough'] !== undefined) throw new RangeError("options.iommuPassthrough applies to iommu: 'intel-iommu' or 'amd-iommu'");
    const swiotlb = options.swiotlb;
    if (typeof swiotlb === 'object' && swiotlb !== null && swiotlb.dynamic === true) {
      throw new RangeError('options.swiotlb.dynamic: xen-swiotlb has one fixed pool, exchanged with Xen at boot');
    }
    const hostBytes = x86.xenHostMemory ?? Math.max(4 * GIB, 2 * machine.maxPhysAddress);
    machine.archState.set('x86.xen', xenPvInit(machine, hostBytes));
    return;
  }
  if (iommu === 'gart' || iommu === 'calgary') {
    if (options['iommuPassthrough'] !== undefined) throw new RangeError("options.iommuPassthrough applies to iommu: 'intel-iommu' or 'amd-iommu'");
    if (iommu === 'gart') setupGart(machine, x86.forceIommu, x86.gartFullflush, x86.gartApertureOrder, plan);
    else setupCalgary(machine, plan);
    return;
  }
  iommuSetupMachine(machine, options, { 'intel-iommu': intelIommuDriver, 'amd-iommu': amdIommuDriver });
}

function setupGart(machine: Machine, forceIommu: boolean, fullflush: boolean, order: number, plan: X86BootPlan | null): void {
  if (!gartIommuNeeded(machine.maxPhysAddress, forceIommu)) {
    // Every device reaches all of RAM: the GART stays off and the ops stay nommu's.
    printApertureCheck(machine, null, order);
    return;
  }
  const aperture = plan?.aperture ?? null;
  if (aperture === null) throw new Error("a GART machine needs its aperture reserved at boot: build it with createMachine({ iommu: 'gart' })");
  printApertureCheck(machine, aperture, order);
  const gart = new AmdGart(machine, aperture, { forceIommu, fullflush });
  machine.iommu = gart;
  machine.archState.set('x86.gart', gart);
}

function setupCalgary(machine: Machine, plan: X86BootPlan | null): void {
  if (plan === null || plan.tceTables.length === 0) throw new Error("a Calgary machine needs its TCE tables reserved at boot: build it with createMachine({ iommu: 'calgary' })");
  const calgary = calgaryInit(machine, plan.tceTables, plan.tceTableSize, tableSizeToNumberOfEntries(plan.tceTableSize));
  machine.iommu = calgary;
  machine.archState.set('x86.calgary', calgary);
}

/**
 * The device's ops, as the 2012 kernel chose them: xen-swiotlb for every device of a PV guest
 * (whose bus masters see machine addresses); the GART's ops for every device (`iommu: false`
 * keeps nommu's, though the aperture still translates); Calgary's for a device behind a
 * translating PHB (all of them unless `iommu: false`, which puts it on a bus without
 * translation); VT-d and AMD-Vi through their probe, then `intel_dma_ops` for identity-mapped
 * VT-d devices and nommu's (no bouncing) for AMD-Vi passthrough ones.
 */
export function x86SetupDevice(machine: Machine, dev: Device, options: DeviceOptions): void {
  const want = options.iommu;
  if (want !== undefined && typeof want !== 'boolean') throw new TypeError(`options.iommu must be a boolean, got ${describe(want)}`);
  const xen = machine.archState.get('x86.xen');
  if (xen instanceof XenPv) {
    dev.archData = xen;
    dev.hw.translation = xen.p2m.translation;
    if (xen.pool !== null) setDmaOps(dev, xenSwiotlbDmaOps);
    return;
  }
  const gart = machine.archState.get('x86.gart');
  if (gart instanceof AmdGart) {
    dev.archData = gart;
    dev.hw.translation = gart.translation;
    if (want !== false) setDmaOps(dev, gartDmaOps);
    return;
  }
  const calgary = machine.archState.get('x86.calgary');
  if (calgary instanceof Calgary) {
    if (want === false) return;
    const phb = calgary.nextPhb();
    dev.archData = phb;
    dev.hw.translation = phb.translation;
    setDmaOps(dev, calgaryDmaOps);
    return;
  }
  iommuProbeDevice(machine, dev, options);
  const name = machine.iommu?.name;
  if (name === 'amd-iommu') amdIommuDeviceDmaOpsInit(dev);
  else if (name === 'intel-iommu' && devIommu(dev) !== null && dev.dmaOps === null) setDmaOps(dev, intelDmaOps);
}
