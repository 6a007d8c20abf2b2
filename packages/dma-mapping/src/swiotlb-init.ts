import { checkInteger, describe, hex } from '@kdma/hw';
import { IO_TLB_SIZE, swiotlbInit as swiotlbInitMem, swiotlbInitRestricted } from '@kdma/swiotlb';
import type { Device } from './device.js';
import type { DeviceOptions } from './device-options.js';
import { minNotZero } from './limits.js';
import type { Machine } from './machine.js';
import type { MachineOptions } from './machine-options.js';
import { DeviceIoTlb, MachineSwiotlb } from './swiotlb.js';
import type { SwiotlbBackend } from './swiotlb-backend.js';

const SWIOTLB_OPTIONS = new Set(['size', 'force', 'areas', 'dynamic', 'leakyBounce']);
const FOUR_GIB = 2 ** 32;

function boolOption(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** The `swiotlb` option's `leakyBounce`, which restricted pools follow too. */
function leakyBounce(options: MachineOptions): boolean {
  const opt = options.swiotlb;
  return typeof opt === 'object' && opt !== null && opt.leakyBounce === true;
}

/**
 * `swiotlb_init`: the machine's default bounce pool. With the `swiotlb` option (`swiotlb=` on the
 * command line: `size` in bytes, `areas`, `force`; `dynamic` for CONFIG_SWIOTLB_DYNAMIC;
 * `leakyBounce` for the bounce before the CVE-2022-0854 fix) there is one; with `false` there is
 * none; without it the arch decides (x86's `pci_swiotlb_detect`: RAM beyond 4 GiB). The pool lies
 * below 4 GiB (`ARCH_LOW_ADDRESS_LIMIT`) where there is RAM there, so 32-bit devices reach it.
 */
export function swiotlbInit(machine: Machine, options: MachineOptions): SwiotlbBackend | null {
  const opt = options.swiotlb;
  if (opt === false) return null;
  if (opt === undefined && machine.description.swiotlbByDefault?.(machine) !== true) return null;
  if (opt !== undefined && (typeof opt !== 'object' || opt === null || Array.isArray(opt))) {
    throw new TypeError(`options.swiotlb must be { size, force, areas, dynamic, leakyBounce } or false, got ${describe(opt)}`);
  }
  const given = opt ?? {};
  for (const key of Object.keys(given)) {
    if (!SWIOTLB_OPTIONS.has(key)) throw new TypeError(`options.swiotlb.${key} is not a swiotlb option (size, force, areas, dynamic, leakyBounce)`);
  }
  if (given.size !== undefined) checkInteger(given.size, 'options.swiotlb.size', 1, 2 ** 40);
  if (given.areas !== undefined) checkInteger(given.areas, 'options.swiotlb.areas', 0, 1024);
  const force = boolOption(given.force, 'options.swiotlb.force');
  const dynamic = boolOption(given.dynamic, 'options.swiotlb.dynamic');
  const leaky = boolOption(given.leakyBounce, 'options.swiotlb.leakyBounce');
  const lowRam = machine.hw.ram.regions.some((region) => region.base < FOUR_GIB);
  const mem = swiotlbInitMem(machine.hw, machine.mm, {
    ...(given.size === undefined ? {} : { size: given.size }),
    ...(given.areas === undefined ? {} : { areas: given.areas }),
    ...(force === undefined ? {} : { force }),
    ...(dynamic === undefined ? {} : { dynamic }),
    ...(leaky === undefined ? {} : { leakyBounce: leaky }),
    physLimit: lowRam ? FOUR_GIB - 1 : Number.MAX_SAFE_INTEGER,
    zones: machine.arch.zones,
  });
  return mem === null ? null : new MachineSwiotlb(machine, mem);
}

/**
 * `rmem_swiotlb_device_init` for a device created with `restrictedPool: bytes` (the device tree's
 * "restricted-dma-pool"): memory of its own, below what the device can reach, that all its
 * streaming DMA bounces through and its coherent buffers come from. Makes `machine.swiotlb` if the
 * machine had none. Throws when the memory cannot be found (the driver's probe fails). Called once
 * per device; a second call changes nothing.
 */
export function swiotlbDeviceInit(machine: Machine, dev: Device, options: DeviceOptions): void {
  const size = options.restrictedPool;
  if (size === undefined) return;
  const current = dev.dmaIoTlbMem;
  if (current instanceof DeviceIoTlb && current.ioTlbMem !== null && current.ioTlbMem.forAlloc) return;
  checkInteger(size, 'options.restrictedPool', IO_TLB_SIZE, 2 ** 40);
  const physLimit = minNotZero(dev.dmaMask, dev.busDmaLimit) + dev.dmaOffset;
  const name = `${dev.name}-restricted-dma-pool`;
  const mem = swiotlbInitRestricted(machine.hw, machine.mm, {
    name,
    size,
    physLimit: Math.min(physLimit, Number.MAX_SAFE_INTEGER),
    zones: machine.arch.zones,
    leakyBounce: leakyBounce(machine.options),
  });
  if (mem === null) {
    throw new RangeError(`options.restrictedPool: no ${size} bytes of contiguous memory below ${hex(physLimit)} for ${name}`);
  }
  if (machine.swiotlb === null) machine.swiotlb = new MachineSwiotlb(machine, null);
  dev.dmaIoTlbMem = new DeviceIoTlb(dev, mem);
}
