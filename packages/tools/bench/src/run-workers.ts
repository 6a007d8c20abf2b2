/**
 * `--workers N`: N worker threads (node:worker_threads), each building machines of its own (worker
 * i seeded `seed + i`) and running every requested path, so the real cores all work; their
 * accumulators come back and merge by addition, as the kernel's threads add into one set of
 * atomic counters.
 *
 * A worker must load this package's code however the caller loaded it. Built, it is
 * `dist/bench-worker.js`, plain JavaScript. From the TypeScript sources (tests, `tsx
 * --conditions=@kdma/source`), the worker registers tsx's loader (`tsx/esm/api`, a workspace
 * devDependency) and runs with the `@kdma/source` export condition, so `src/bench-worker.ts` and
 * the other workspace packages' sources load as the caller's did. Which one is decided by this
 * module's own file name.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MapBenchmarkError } from './errors.js';
import type { BenchRunRaw } from './map-benchmark-run.js';
import type { ResolvedBenchOptions } from './options.js';

/** What a worker is given. */
export interface WorkerRequest {
  readonly options: ResolvedBenchOptions;
  readonly seed: number;
  /** URL of the entry module. */
  readonly entry: string;
  /** URL of tsx's `esm/api` to register first, or null for built JavaScript. */
  readonly tsx: string | null;
}

export type WorkerReply =
  | { readonly type: 'progress'; readonly fraction: number }
  | { readonly type: 'done'; readonly runs: BenchRunRaw[] }
  | { readonly type: 'error'; readonly name: string; readonly message: string; readonly errno: 'EINVAL' | 'ENOMEM' | null };

/**
 * Every worker starts from this CommonJS snippet: register tsx when running from sources, then
 * import the entry. An import failure is posted back as an error reply.
 */
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const fail = (e) => parentPort.postMessage({ type: 'error', name: (e && e.name) || 'Error', message: String((e && e.stack) || e), errno: null });
try {
  const ready = workerData.tsx === null ? Promise.resolve() : import(workerData.tsx).then((api) => api.register());
  ready.then(() => import(workerData.entry)).catch(fail);
} catch (e) {
  fail(e);
}
`;

/**
 * The URL of tsx's ESM `register` API (`tsx/esm/api`, its "import" build), found from `selfUrl`.
 * Resolved through tsx's package.json because `require.resolve` would give the CommonJS build.
 */
function tsxEsmApi(selfUrl: string): string {
  let manifestPath: string;
  try {
    manifestPath = createRequire(selfUrl).resolve('tsx/package.json');
  } catch {
    throw new Error('workers: running @kdma/bench from its TypeScript sources needs tsx (a workspace devDependency); build the package or install tsx');
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, unknown> };
  const entry = manifest.exports?.['./esm/api'];
  const conditional = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)['import'] : undefined;
  const target = typeof conditional === 'string' ? conditional : typeof conditional === 'object' && conditional !== null ? (conditional as Record<string, unknown>)['default'] : undefined;
  if (typeof target !== 'string') throw new Error(`workers: ${manifestPath} has no "./esm/api" import export`);
  return pathToFileURL(join(dirname(manifestPath), target)).href;
}

/** How to start a worker from where this module was loaded (a `.ts` file: from the sources). */
export function workerLaunch(selfUrl: string = import.meta.url): { entry: string; tsx: string | null; execArgv: string[] } {
  if (!selfUrl.endsWith('.ts')) return { entry: new URL('./bench-worker.js', selfUrl).href, tsx: null, execArgv: [] };
  return { entry: new URL('./bench-worker.ts', selfUrl).href, tsx: tsxEsmApi(selfUrl), execArgv: ['--conditions=@kdma/source'] };
}

function replyError(reply: { name: string; message: string; errno: 'EINVAL' | 'ENOMEM' | null }, worker: number): Error {
  const message = `worker ${worker}: ${reply.message}`;
  if (reply.errno !== null) return new MapBenchmarkError(message, reply.errno);
  if (reply.name === 'RangeError') return new RangeError(message);
  if (reply.name === 'TypeError') return new TypeError(message);
  return new Error(message);
}

/** Runs the benchmark in `options.workers` threads; resolves with each worker's raw runs. */
export function runInWorkers(options: ResolvedBenchOptions, onProgress?: (fraction: number) => void): Promise<BenchRunRaw[][]> {
  const launch = workerLaunch();
  const n = options.workers;
  const fractions = new Array<number>(n).fill(0);
  const results: (BenchRunRaw[] | undefined)[] = new Array<BenchRunRaw[] | undefined>(n).fill(undefined);
  const workers: Worker[] = [];
  return new Promise<BenchRunRaw[][]>((resolve, reject) => {
    let settled = false;
    let remaining = n;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      reject(error);
    };
    for (let i = 0; i < n; i++) {
      const request: WorkerRequest = { options: { ...options, workers: 0 }, seed: (options.seed + i) % 2 ** 32, entry: launch.entry, tsx: launch.tsx };
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData: request, execArgv: launch.execArgv });
      workers.push(worker);
      worker.on('message', (reply: WorkerReply) => {
        if (settled) return;
        if (reply.type === 'progress') {
          fractions[i] = reply.fraction;
          onProgress?.(fractions.reduce((a, b) => a + b, 0) / n);
        } else if (reply.type === 'done') {
          results[i] = reply.runs;
          if (--remaining === 0) {
            settled = true;
            resolve(results as BenchRunRaw[][]);
          }
        } else {
          fail(replyError(reply, i));
        }
      });
      worker.on('error', (error) => fail(error instanceof Error ? error : new Error(String(error))));
      worker.on('exit', (code) => {
        if (results[i] === undefined) fail(new Error(`worker ${i} exited with code ${code} before it finished`));
      });
    }
  });
}
