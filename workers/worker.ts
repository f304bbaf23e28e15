// Workers: `gpu` runs the training stages (one activity per device per process: run N processes for N cores
// or GPUs), `io` runs the SweepWorkflow, data and recording stages; `all` runs both in one process (demo).
// Workflow code is bundled once per process. SIGINT/SIGTERM shut down gracefully (the SDK's Runtime
// handles the signals: polling stops, running activities finish or are cancelled after the grace period).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { connectionOptions } from '../infra/temporal.js';
import { createActivities, defaultDeps } from '../activities/stages.js';
import { createNoopCompute, type Compute } from '../activities/compute.js';
import { workerConfig, type MlConfig, type WorkerConfig } from '../config/index.js';

export type QueueKind = 'gpu' | 'io' | 'all';

/**
 * After SIGTERM a worker stops polling and lets running activities finish for this long, then cancels them (a
 * cancelled training stage resumes from its last epoch checkpoint on retry). Pod termination grace periods must
 * be longer (deploy/helm checks it).
 */
export const SHUTDOWN_GRACE_S = 10;

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  bundle ??= bundleWorkflowCode({ workflowsPath: path.join(here, '..', 'workflows', 'index.ts'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } as any });
  return bundle;
}

async function loadComputes(ml: MlConfig, noopStageMs: number): Promise<Record<string, Compute>> {
  const computes: Record<string, Compute> = { noop: createNoopCompute(noopStageMs) };
  const { createMlCompute } = await import('../activities/compute-ml.js');
  computes.ml = createMlCompute(ml);
  return computes;
}

export interface WorkerOptions {
  queue: QueueKind;
  /** activities run at once per worker (gpu: 1 per device) */
  concurrency?: number;
  /** in `all` mode: activities at once on each queue (defaults io 8, gpu 1) */
  ioConcurrency?: number;
  gpuConcurrency?: number;
  /** log lines go here (default console.log) */
  log?: (line: string) => void;
  /** services, queues and ML options (default: read from this process's environment, config/index.ts) */
  config?: WorkerConfig;
}

export interface RunningWorkers {
  workers: Worker[];
  info: { backend: string; device: string; version: string; queues: string[]; identity: string };
  /** runs until shutdown() or a signal; resolves when every worker has stopped */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createWorkers(opts: WorkerOptions): Promise<RunningWorkers> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const config = opts.config ?? workerConfig(process.env);
  const names = config.queues;
  const computes = await loadComputes(config.ml, config.noopStageMs);
  const backend = await computes.ml.backend();
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  const namespace = config.temporal.namespace;
  const workers: Worker[] = [];
  const queues: string[] = [];
  /** the workers' database pools, closed when they have stopped (a server stopped after them then ends no idle session) */
  const dbs: { close(): Promise<void> }[] = [];
  let identity = '';
  if (opts.queue === 'io' || opts.queue === 'all') {
    const deps = defaultDeps(computes, names.io, config);
    dbs.push(deps.db);
    identity = deps.identity;
    workers.push(
      await Worker.create({
        connection, namespace, taskQueue: names.io, workflowBundle: await workflowBundle(), activities: createActivities(deps),
        maxConcurrentActivityTaskExecutions: opts.queue === 'io' ? (opts.concurrency ?? 8) : (opts.ioConcurrency ?? 8),
        identity: deps.identity, shutdownGraceTime: `${SHUTDOWN_GRACE_S}s`,
      }),
    );
    queues.push(names.io);
  }
  if (opts.queue === 'gpu' || opts.queue === 'all') {
    const deps = defaultDeps(computes, names.gpu, config);
    dbs.push(deps.db);
    identity = deps.identity;
    workers.push(
      await Worker.create({
        connection, namespace, taskQueue: names.gpu, activities: createActivities(deps),
        maxConcurrentActivityTaskExecutions: opts.queue === 'gpu' ? (opts.concurrency ?? 1) : (opts.gpuConcurrency ?? 1),
        identity: deps.identity, shutdownGraceTime: `${SHUTDOWN_GRACE_S}s`,
        // Cancellation reaches an activity only in the answer to a heartbeat, and the SDK sends heartbeats at
        // most every 0.8 × heartbeat timeout (capped at 60 s) by default: send them every second instead, so a
        // cancelled sweep stops its running stages within seconds (the compute yields to the event loop, see
        // ml/driver.ts). One small RPC a second per running stage.
        maxHeartbeatThrottleInterval: '1s',
      }),
    );
    queues.push(names.gpu);
  }
  const version = process.env.npm_package_version ?? '0.1.0';
  log(`[worker ${identity}] queues=${queues.join(',')} backend=${backend.name} device=${backend.device} tfjs=${backend.version} unlearn=${version} temporal=${config.temporal.address}/${namespace}`);
  return {
    workers,
    info: { backend: backend.name, device: backend.device, version, queues, identity },
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await connection.close();
        await Promise.all(dbs.map((d) => d.close().catch(() => {})));
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
