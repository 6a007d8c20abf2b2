import { DMA_TO_DEVICE, type DmaDataDirection } from '@kdma/dma-attrs';
import type { Machine } from '@kdma/dma-mapping/ops';
import { IOMMU_PAGE_SIZE, IoPageTable, type PowerpcIommu } from './io-page-table.js';
import { IommuTable, type TceOps } from './iommu.js';

/*
 * arch/powerpc/platforms/pseries/iommu.c: TCE tables of an LPAR. The hypervisor owns the tables;
 * the partition writes them with hypercalls — `H_PUT_TCE` for one entry, `H_PUT_TCE_INDIRECT` for a
 * page-list of up to 512 (`FW_FEATURE_MULTITCE`), `H_STUFF_TCE` to clear a range. Each PCI
 * partitionable endpoint has its own window (`ibm,dma-window`), as has each VIO device
 * (`ibm,my-dma-window`).
 */

/** `TCE_PCI_READ`: the device may read the page. */
export const TCE_PCI_READ = 0x1;
/** `TCE_PCI_WRITE`: the device may write the page. */
export const TCE_PCI_WRITE = 0x2;

/** Entries one `H_PUT_TCE_INDIRECT` can write (a 4 KiB page of TCEs). */
const TCES_PER_INDIRECT = IOMMU_PAGE_SIZE / 8;

/** The hypercalls the partition made on its TCE tables. */
export interface TceHcalls {
  H_PUT_TCE: number;
  H_PUT_TCE_INDIRECT: number;
  H_STUFF_TCE: number;
}

/** A pSeries machine's TCE state: the IOMMU and the hypercall counts. */
export interface PseriesTceState {
  readonly iommu: PowerpcIommu;
  readonly hcalls: TceHcalls;
  /** The next LIOBN (logical I/O bus number) handed to a window. */
  nextLiobn: number;
}

/**
 * `tce_buildmulti_pSeriesLP`/`tce_build_pSeriesLP`: "proto_tce = TCE_PCI_READ; if (direction !=
 * DMA_TO_DEVICE) proto_tce |= TCE_PCI_WRITE;" — a buffer only sent to the device is mapped
 * read-only, so a device writing into it faults. One entry is one `H_PUT_TCE`; more go by
 * `H_PUT_TCE_INDIRECT`, 512 at a time. `tce_freemulti_pSeriesLP`: `H_STUFF_TCE` with 0.
 */
export function pseriesTceOps(state: PseriesTceState): TceOps {
  return {
    build(tbl: IommuTable, index: number, npages: number, paddr: number, dir: DmaDataDirection): number {
      let proto = TCE_PCI_READ;
      if (dir !== DMA_TO_DEVICE) proto |= TCE_PCI_WRITE;
      tbl.hw.set(index - tbl.itOffset, npages, paddr, proto);
      if (npages === 1) state.hcalls.H_PUT_TCE++;
      else state.hcalls.H_PUT_TCE_INDIRECT += Math.ceil(npages / TCES_PER_INDIRECT);
      return 0;
    },
    free(tbl: IommuTable, index: number, npages: number): void {
      tbl.hw.clear(index - tbl.itOffset, npages);
      state.hcalls.H_STUFF_TCE++;
    },
  };
}

/**
 * `iommu_table_setparms_lpar` + `iommu_init_table`: a TCE table for a window of `windowSize`
 * bytes at bus address `windowStart`, with its LIOBN, `it_blocksize` 16, registered with the
 * machine's IOMMU.
 */
export function pseriesTable(machine: Machine, state: PseriesTceState, windowStart: number, windowSize: number, busno: number): IommuTable {
  const hw = new IoPageTable(windowStart / IOMMU_PAGE_SIZE, windowSize / IOMMU_PAGE_SIZE, TCE_PCI_READ, TCE_PCI_WRITE);
  state.iommu.tables.push(hw);
  const liobn = state.nextLiobn++;
  return new IommuTable(machine, { busno, index: liobn, blocksize: 16, hw, tce: pseriesTceOps(state) });
}
