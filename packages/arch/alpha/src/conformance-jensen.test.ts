import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

// alpha_noop_ops on a Jensen: bus address = physical address.
describeDmaConformance({ arch: { ...arch, name: 'alpha jensen' }, createMachine, machineOptions: { platform: 'jensen' } });
