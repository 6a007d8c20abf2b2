import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

describeDmaConformance({ arch: { ...arch, name: 'sparc sun4u' }, createMachine, machineOptions: { platform: 'sun4u' } });
