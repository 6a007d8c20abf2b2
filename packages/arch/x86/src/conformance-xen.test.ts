import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/* The conformance kit in a Xen PV guest: machine addresses, xen-swiotlb bouncing across discontiguities. */

describeDmaConformance({ arch: { ...arch, name: 'x86 xen-pv' }, createMachine, machineOptions: { platform: 'xen-pv' } });
