import { describeDmaConformance } from '@kdma/testkit';
import { arch, createMachine } from './index.js';

describeDmaConformance({ arch, createMachine, dmacoherentType: 'wc' });
