/**
 * The arches a scenario may name, each with its `createMachine` and facts. Every arch package
 * builds its machine with `buildMachine` from `@kdma/dma-mapping/ops`, so they all return the
 * same `Machine`.
 */
import * as alpha from '@kdma/arch-alpha';
import * as arm from '@kdma/arch-arm';
import * as ia64 from '@kdma/arch-ia64';
import * as microblaze from '@kdma/arch-microblaze';
import * as mips from '@kdma/arch-mips';
import * as powerpc from '@kdma/arch-powerpc';
import * as sh from '@kdma/arch-sh';
import * as sparc from '@kdma/arch-sparc';
import * as unicore32 from '@kdma/arch-unicore32';
import * as x86 from '@kdma/arch-x86';
import type { Machine } from '@kdma/dma-mapping';
import type { ArchFacts, MachineOptions } from '@kdma/dma-mapping/ops';

export interface ArchEntry {
  readonly facts: ArchFacts;
  readonly createMachine: (options: MachineOptions) => Machine;
}

export const ARCHES: Readonly<Record<string, ArchEntry>> = Object.freeze({
  arm: { facts: arm.arch, createMachine: (options) => arm.createMachine(options) },
  x86: { facts: x86.arch, createMachine: (options) => x86.createMachine(options) },
  mips: { facts: mips.arch, createMachine: (options) => mips.createMachine(options) },
  sh: { facts: sh.arch, createMachine: (options) => sh.createMachine(options) },
  microblaze: { facts: microblaze.arch, createMachine: (options) => microblaze.createMachine(options) },
  unicore32: { facts: unicore32.arch, createMachine: (options) => unicore32.createMachine(options) },
  powerpc: { facts: powerpc.arch, createMachine: (options) => powerpc.createMachine(options) },
  ia64: { facts: ia64.arch, createMachine: (options) => ia64.createMachine(options) },
  sparc: { facts: sparc.arch, createMachine: (options) => sparc.createMachine(options) },
  alpha: { facts: alpha.arch, createMachine: (options) => alpha.createMachine(options) },
});

export const ARCH_NAMES: readonly string[] = Object.freeze(Object.keys(ARCHES));

export function archEntry(name: string): ArchEntry {
  const entry = ARCHES[name];
  if (entry === undefined) throw new RangeError(`unknown arch ${JSON.stringify(name)}; one of ${ARCH_NAMES.join(', ')}`);
  return entry;
}
