/**
 * `@kdma/cli`: the `kdma` command as a library — `main(argv, io)` for running it in-process, the
 * scenario loader and runner, the built-in demo, and the report formatters.
 */
export { COMMANDS, formatTopHelp, main } from './cli.js';
export { bufferedIo, processIo, type BufferedIo, type CliIo } from './io.js';
export { EXIT_BAD_SCENARIO, EXIT_CODES, EXIT_FAILED, EXIT_INTERNAL, EXIT_IO, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
export { DEMO_SCENARIOS } from './demo.js';
export { ARCH_NAMES, ARCHES, type ArchEntry } from './machines.js';
export { DMA_DEBUG_KINDS, loadScenarioFile, parseScenario, type LoadedScenario } from './scenario/load.js';
export { buildScenarioMachine, runScenario, type DeviceReport, type RunOptions, type ScenarioResult, type WorkloadReport } from './scenario/run.js';
export type { AlsaWorkload, DeviceSpec, Expectations, NetWorkload, RawStep, RawWorkload, Scenario, V4l2Workload, Workload } from './scenario/types.js';
export { formatIssue, ScenarioError, type ScenarioIssue } from './scenario/validate.js';
export { takeSnapshot, type MemorySnapshot } from './report/snapshot.js';
export { formatScenarioText, formatSnapshotText, formatSummary } from './report/text.js';
export { formatHtmlReport } from './report/html.js';
export { parseSize, formatSize } from './sizes.js';
