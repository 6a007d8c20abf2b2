/**
 * Byte sizes as people write them: `4096`, `64KiB`, `8 GiB`, `2M` (binary multiples, as the
 * kernel's `memparse` reads `mem=` and `swiotlb=`), and back.
 */
const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
  t: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** Bytes of `text`, or null when it is not a size (or not a whole number of bytes). */
export function parseSize(text: string): number | null {
  const match = SIZE.exec(text);
  if (match === null) return null;
  const unit = UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** `8 GiB`, `64 KiB`, `1.5 MiB`, `4095 B`. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || Number.isInteger(value) ? 0 : value < 10 ? 2 : 1;
  return `${sign}${value.toFixed(digits)} ${units[unit] as string}`;
}

/** `0x1_0000_0000`-free lower-case hex with a 0x prefix. */
export function hexAddr(value: number): string {
  return `0x${value.toString(16)}`;
}
