// The conformance kit runs on every platform and ops selection. A describe block whose name ends
// in "[kernel refuses: <kit case>]" runs the kit where the 2012 kernel itself refuses what that
// one case expects to succeed (see src/conformance*.test.ts): that case is skipped (reported as
// skipped), and the test file asserts the refusal instead.
const config = require('@kdma/jest-preset')(__dirname);
module.exports = { ...config, testNamePattern: '^(?!.*\\[kernel refuses: ([^\\]]+)\\] .*\\1$)' };
