import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

describeDmaConformance({ arch: { ...arch, name: 'sparc sun4v' }, createMachine, machineOptions: { platform: 'sun4v' } });
