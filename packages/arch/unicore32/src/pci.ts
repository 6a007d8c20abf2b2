import { type DmaTranslation, lowBits, pow2, type TranslationRun } from '@kdma/hw';
import { PHYS_OFFSET } from './arch.js';

/*
 * arch/unicore32/kernel/pci.c: the PKUnity-3 PCI bridge. `pci_puv3_preinit` opens one upstream
 * window, PCIBRI_PCIAMR0 = 0xF8000000 onto PCIBRI_PCITAR0 = the SDRAM base: the bridge keeps the
 * low 27 bits of a PCI bus address and drops the top five.
 */

/** Bits of a PCI bus address the upstream window passes on (128 MiB). */
export const PUV3_PCI_WINDOW_BITS = 27;

/**
 * The bridge as the hardware sees it: a bus master behind it that uses a bus address at or above
 * 128 MiB reaches `PHYS_OFFSET + (addr mod 128 MiB)` — silently someone else's memory. Keeping
 * PCI devices below `PCI_DMA_THRESHOLD` is the kernel's job (zone 0, swiotlb).
 */
export const puv3PciBridge: DmaTranslation = Object.freeze({
  translate(busAddr: number, length: number, _write: boolean, out: TranslationRun): null {
    const inWindow = lowBits(busAddr, PUV3_PCI_WINDOW_BITS);
    out.paddr = PHYS_OFFSET + inWindow;
    out.length = Math.min(length, pow2(PUV3_PCI_WINDOW_BITS) - inWindow);
    return null;
  },
});
