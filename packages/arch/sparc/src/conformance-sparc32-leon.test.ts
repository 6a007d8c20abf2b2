import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

describeDmaConformance({ arch: { ...arch, name: 'sparc sparc32-leon' }, createMachine, machineOptions: { platform: 'sparc32-leon' } });
