import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

/* The conformance kit behind Calgary PHBs (each device on the next PHB, each PHB its own TCE table). */

describeDmaConformance({ arch: { ...arch, name: 'x86 + calgary' }, createMachine, machineOptions: { iommu: 'calgary' } });
