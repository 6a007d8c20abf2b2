/**
 * Address arithmetic on the whole 52 bits that kdma's addresses use.
 *
 * JavaScript's `&`, `|`, `>>` and `~` truncate to 32 bits, which silently corrupts any physical
 * address above 4 GiB and every kernel virtual address. Every address computation in kdma goes
 * through these helpers instead.
 */

/** Addresses (physical, bus, kernel and user virtual) are integers below 2^52. */
export const ADDRESS_BITS = 52;
export const ADDRESS_LIMIT = 2 ** ADDRESS_BITS;

const TWO_31 = 2 ** 31;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const { floor } = Math;
const TWO_32 = 2 ** 32;

/** 2^0 … 2^63, exact in doubles. */
const POWERS_OF_TWO: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);

/**
 * `2 ** n` (kernel `1UL << n`) for an integer n: a table lookup. V8 computes `2 ** n` with a
 * variable exponent through a general `pow`, about fifty times slower, and the page allocator,
 * the IOVA allocator and every bus-master access need it.
 */
export function pow2(n: number): number {
  const power = POWERS_OF_TWO[n];
  return power === undefined ? 2 ** n : power;
}

/** `(1 << bits) - 1` for any width; more than 52 bits means "every address" (MAX_SAFE_INTEGER). */
export function bitMask(bits: number): number {
  checkInteger(bits, 'bits', 0, 64);
  return bits > ADDRESS_BITS ? Number.MAX_SAFE_INTEGER : pow2(bits) - 1;
}

/** True for 1, 2, 4, 8, … (kernel `is_power_of_2`). */
export function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && pow2(Math.round(Math.log2(value))) === value;
}

/** Floor of log2 (kernel `ilog2`); `value` must be a positive integer. */
export function ilog2(value: number): number {
  let log = Math.floor(Math.log2(value));
  // Math.log2 may round up just below a power of two; correct it exactly.
  if (pow2(log) > value) log -= 1;
  else if (pow2(log + 1) <= value) log += 1;
  return log;
}

/** The page order whose block holds `size` bytes (kernel `get_order`). */
export function getOrder(size: number, pageSize: number): number {
  const pages = Math.ceil(size / pageSize);
  return pages <= 1 ? 0 : ilog2(pages - 1) + 1;
}

/** Rounds `value` up to a multiple of `alignment` (a power of two; kernel `ALIGN`). */
export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Rounds `value` down to a multiple of `alignment` (kernel `ALIGN_DOWN`). */
export function alignDown(value: number, alignment: number): number {
  return floor(value / alignment) * alignment;
}

/**
 * `value % divisor` for a non-negative address and a positive integer divisor. V8 computes `%` on
 * numbers past 2^31 (most physical addresses on ARM, every kernel virtual address) with a call to
 * a C `fmod`, ten times the cost of this; the quotient's floor is exact below 2^52. (`floor`, not
 * `Math.floor`: the shorter bytecode keeps this and `isAligned` under V8's size for inlining
 * small functions, which it does even when a call chain has used up its inlining budget.)
 */
export function addrMod(value: number, divisor: number): number {
  return value - floor(value / divisor) * divisor;
}

/** `IS_ALIGNED(value, alignment)`. */
export function isAligned(value: number, alignment: number): boolean {
  return addrMod(value, alignment) === 0;
}

/** The low `bits` bits of `value` (`value & ((1 << bits) - 1)` without truncation). */
export function lowBits(value: number, bits: number): number {
  return addrMod(value, pow2(bits));
}

/** `lower_32_bits(n)`: the low half of a 64-bit register or descriptor field. */
export function lower32Bits(value: number): number {
  return addrMod(value, TWO_32);
}

/** `upper_32_bits(n)`: the high half. */
export function upper32Bits(value: number): number {
  return floor(value / TWO_32);
}

/** The number whose high and low 32-bit halves are `hi` and `lo` (each taken as unsigned). */
function fromHalves(hi: number, lo: number): number {
  return (hi >>> 0) * TWO_32 + (lo >>> 0);
}

/** `a & b` on 52-bit values. */
export function addrAnd(a: number, b: number): number {
  if (a < TWO_31 && b < TWO_31) return a & b;
  return fromHalves(upper32Bits(a) & upper32Bits(b), lower32Bits(a) & lower32Bits(b));
}

/** `a | b` on 52-bit values. */
export function addrOr(a: number, b: number): number {
  if (a < TWO_31 && b < TWO_31) return a | b;
  return fromHalves(upper32Bits(a) | upper32Bits(b), lower32Bits(a) | lower32Bits(b));
}

/** `a & ~b` on 52-bit values: clears the bits of `b` in `a`. */
export function addrAndNot(a: number, b: number): number {
  if (a < TWO_31 && b < TWO_31) return a & ~b;
  return fromHalves(upper32Bits(a) & ~upper32Bits(b), lower32Bits(a) & ~lower32Bits(b));
}

/** Throws unless `value` is an integer in [min, max]; the message names the argument. */
export function checkInteger(value: unknown, name: string, min = 0, max = MAX_SAFE): asserts value is number {
  // Every DMA call checks several arguments, so the good case is one test small enough for the
  // JIT to inline into its caller; the messages are built out of line.
  if (typeof value === 'number' && value >= min && value <= max && floor(value) === value) return;
  throw badInteger(value, name, min, max);
}

/** The error `checkInteger` throws (also for the checks below that inline its test). */
export function badInteger(value: unknown, name: string, min: number, max: number): Error {
  if (typeof value !== 'number') return new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value)) return new RangeError(`${name} must be an integer, got ${value}`);
  return new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
}

/** Throws unless `value` is an address: an integer in [0, 2^52). */
export function checkAddress(value: unknown, name: string): asserts value is number {
  if (typeof value === 'number' && value >= 0 && value < ADDRESS_LIMIT && floor(value) === value) return;
  throw badInteger(value, name, 0, ADDRESS_LIMIT - 1);
}

/** Throws unless `value` is a byte count: an integer in [min, 2^52] (`min` defaults to 1). */
export function checkSize(value: unknown, name: string, min = 1): asserts value is number {
  if (typeof value === 'number' && value >= min && value <= ADDRESS_LIMIT && floor(value) === value) return;
  throw badInteger(value, name, min, ADDRESS_LIMIT);
}

/** Throws unless `[start, start + size)` lies below 2^52. */
export function checkRange(start: number, size: number, name: string): void {
  if (start + size > ADDRESS_LIMIT) {
    throw new RangeError(`${name} [0x${start.toString(16)}, +0x${size.toString(16)}) passes the 52-bit address space`);
  }
}

/** A short description of a bad argument for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `"${value}"`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value;
}

/** `0x…` for messages, as the kernel prints addresses. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** Throws unless `value` is a `Uint8Array`; the message names the argument. */
export function checkBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
}

/**
 * Resolves the optional `offset`/`length` window of a byte array as the copy helpers take it
 * (`offset` defaults to 0, `length` to the rest of the array) and returns `length`; throws a
 * RangeError naming `offset` or `length` when the window leaves the array.
 */
export function checkWindow(array: Uint8Array, offset: unknown, length: unknown): number {
  checkInteger(offset, 'offset', 0, array.length);
  if (length === undefined) return array.length - offset;
  checkInteger(length, 'length', 0, array.length - offset);
  return length;
}
