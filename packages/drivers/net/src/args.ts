/*
 * Argument checks for the driver side. Drivers may import `@kdma/hw` only for their simulated
 * device side (DESIGN.md's layering), so the few checks the kernel-side code needs live here.
 */

/** Describes a bad value in an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

/** Throws a TypeError/RangeError naming `name` unless `value` is an integer in [min, max]. */
export function checkInt(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
}

/** Throws a TypeError naming `name` unless `value` is a function. */
export function checkFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
}

