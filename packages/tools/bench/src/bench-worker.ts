/**
 * The worker thread's entry: runs every requested path on machines of its own and posts the raw,
 * mergeable results back. Loaded by `run-workers.ts`, never imported by the package's index.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MapBenchmarkError } from './errors.js';
import { runMapBenchmarks } from './map-benchmark-run.js';
import type { WorkerReply, WorkerRequest } from './run-workers.js';

const port = parentPort;
if (port === null) throw new Error('bench-worker must run in a worker thread');
const { options, seed } = workerData as WorkerRequest;
const post = (reply: WorkerReply): void => port.postMessage(reply);
try {
  const runs = runMapBenchmarks(options, seed, (fraction) => post({ type: 'progress', fraction }));
  post({ type: 'done', runs });
} catch (error) {
  const err = error instanceof Error ? error : new Error(String(error));
  post({ type: 'error', name: err.name, message: err.message, errno: err instanceof MapBenchmarkError ? err.errno : null });
}
