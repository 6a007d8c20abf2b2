/**
 * Page protections (kernel `pgprot_t`): the memory type a mapping gives its pages plus access
 * flags. The memory type is what the kernel encodes in PTE cache bits (x86 PAT, ARM's
 * L_PTE_MT_*): `normal` is write-back cacheable, `wc` write-combining (ARM "bufferable"),
 * `uncached` strongly ordered.
 */
import type { MemoryType } from '@kdma/hw';

/** Readable mapping. */
export const PROT_READ = 1;
/** Writable mapping; a store through a mapping without it faults. */
export const PROT_WRITE = 2;
/** Executable mapping. */
export const PROT_EXEC = 4;
/** User-accessible mapping (x86 `_PAGE_USER`, ARM `L_PTE_USER`). */
export const PROT_USER = 8;

/** The flag bits a pgprot may carry. */
export const PGPROT_FLAG_MASK = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_USER;

/** `pgprot_t`: a memory type and PROT_* flags. Values are frozen and canonical. */
export interface Pgprot {
  readonly memoryType: MemoryType;
  readonly flags: number;
}

/** The memory types in PTE encoding order (the code is the index). */
export const MEMORY_TYPES: readonly MemoryType[] = Object.freeze(['normal', 'wc', 'uncached'] as const);

/** The PTE encoding of a memory type: 0 normal, 1 wc, 2 uncached. */
export function memoryTypeCode(type: MemoryType): number {
  return type === 'normal' ? 0 : type === 'wc' ? 1 : 2;
}

// Every pgprot there can be (3 types x 16 flag sets), built once and frozen: the helpers below
// return these, so no call allocates and identical protections compare equal with ===.
const CANONICAL: readonly Pgprot[] = Object.freeze(
  Array.from({ length: MEMORY_TYPES.length * (PGPROT_FLAG_MASK + 1) }, (_, i) =>
    Object.freeze({ memoryType: MEMORY_TYPES[Math.floor(i / (PGPROT_FLAG_MASK + 1))] as MemoryType, flags: i % (PGPROT_FLAG_MASK + 1) }),
  ),
);

function canonical(code: number, flags: number): Pgprot {
  return CANONICAL[code * (PGPROT_FLAG_MASK + 1) + flags] as Pgprot;
}

/** The frozen pgprot with this memory type and flags (`__pgprot`). */
export function makePgprot(memoryType: MemoryType, flags: number): Pgprot {
  if (memoryType !== 'normal' && memoryType !== 'wc' && memoryType !== 'uncached') {
    throw new TypeError(`memoryType must be 'normal', 'wc' or 'uncached', got ${String(memoryType)}`);
  }
  if (!Number.isInteger(flags) || flags < 0 || flags > PGPROT_FLAG_MASK) {
    throw new RangeError(`flags must be a set of PROT_READ|PROT_WRITE|PROT_EXEC|PROT_USER, got ${String(flags)}`);
  }
  return canonical(memoryTypeCode(memoryType), flags);
}

/** Validates a caller's pgprot and returns the canonical frozen one; errors name `name`. */
export function checkPgprot(value: unknown, name = 'pgprot'): Pgprot {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be a pgprot ({ memoryType, flags }), got ${value === null ? 'null' : typeof value}`);
  }
  const { memoryType, flags } = value as { memoryType?: unknown; flags?: unknown };
  if (memoryType !== 'normal' && memoryType !== 'wc' && memoryType !== 'uncached') {
    throw new TypeError(`${name}.memoryType must be 'normal', 'wc' or 'uncached', got ${String(memoryType)}`);
  }
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > PGPROT_FLAG_MASK) {
    throw new RangeError(`${name}.flags must be a set of PROT_READ|PROT_WRITE|PROT_EXEC|PROT_USER, got ${String(flags)}`);
  }
  return canonical(memoryTypeCode(memoryType), flags);
}

/** PAGE_KERNEL: read-write cacheable kernel memory (vmalloc, vmap). */
export const PAGE_KERNEL: Pgprot = canonical(0, PROT_READ | PROT_WRITE);
/** PAGE_KERNEL_RO: read-only kernel mapping. */
export const PAGE_KERNEL_RO: Pgprot = canonical(0, PROT_READ);
/** PAGE_KERNEL_EXEC: kernel text. */
export const PAGE_KERNEL_EXEC: Pgprot = canonical(0, PROT_READ | PROT_WRITE | PROT_EXEC);
/** PAGE_SHARED: a shared read-write user mapping, the default `vm_page_prot` of an mmap. */
export const PAGE_SHARED: Pgprot = canonical(0, PROT_READ | PROT_WRITE | PROT_USER);
/** PAGE_READONLY: a read-only user mapping. */
export const PAGE_READONLY: Pgprot = canonical(0, PROT_READ | PROT_USER);

/** pgprot_noncached(): the same access with strongly-ordered, uncached memory. */
export function pgprotNoncached(prot: Pgprot): Pgprot {
  return canonical(2, checkPgprot(prot, 'prot').flags);
}

/** pgprot_writecombine(): the same access through the write-combine buffer. */
export function pgprotWritecombine(prot: Pgprot): Pgprot {
  return canonical(1, checkPgprot(prot, 'prot').flags);
}

/** pgprot with the memory type replaced (for arch hooks that pick one: `dma_pgprot`). */
export function pgprotWithMemoryType(prot: Pgprot, memoryType: MemoryType): Pgprot {
  return makePgprot(memoryType, checkPgprot(prot, 'prot').flags);
}
