/**
 * The kernel image in RAM (vmlinux's sections as the linker script lays them out: _text.._etext,
 * __start_rodata..__end_rodata, then data and bss). Its pages are reserved at boot; dma-debug
 * refuses to map text or rodata ("device driver maps memory from kernel text or rodata").
 */
import { PAGE_OFFSET } from './layout.js';

/** A range of kernel virtual (linear map) addresses, end exclusive. */
export interface KernelRange {
  readonly start: number;
  readonly end: number;
}

/** `_text`/`_etext`, `__start_rodata`/`__end_rodata` and the data after them, as linear kvas. */
export interface KernelImage {
  readonly text: KernelRange;
  readonly rodata: KernelRange;
  readonly data: KernelRange;
}

/** Lays the image out at physical `base`: half text, a quarter rodata, the rest data (whole pages). */
export function layoutKernelImage(base: number, size: number, pageSize: number): KernelImage {
  const pages = size / pageSize;
  const textPages = Math.max(1, Math.floor(pages / 2));
  const rodataPages = Math.max(1, Math.floor(pages / 4));
  const start = PAGE_OFFSET + base;
  const textEnd = start + textPages * pageSize;
  const rodataEnd = textEnd + rodataPages * pageSize;
  const range = (s: number, e: number): KernelRange => Object.freeze({ start: s, end: e });
  return Object.freeze({ text: range(start, textEnd), rodata: range(textEnd, rodataEnd), data: range(rodataEnd, start + size) });
}

/** Is `kva` in [range.start, range.end)? */
export function inKernelRange(range: KernelRange, kva: number): boolean {
  return kva >= range.start && kva < range.end;
}
