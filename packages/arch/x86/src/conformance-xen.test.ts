import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/*
 * The conformance kit in a Xen PV guest: machine addresses, xen-swiotlb bouncing across
 * discontiguities. A bounce slot comes from swiotlb_tbl_map_single, which keeps to the device's
 * segment boundary: a segment longer than the boundary window that must bounce is refused.
 */

describeDmaConformance({
  arch: { ...arch, name: 'x86 xen-pv' },
  createMachine,
  machineOptions: { platform: 'xen-pv' },
  kernelRefuses: { segmentAcrossBoundary: { xen_swiotlb_dma_ops: 'when-remapped' } },
});
