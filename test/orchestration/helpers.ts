// Helpers for the orchestration tests: services from the environment (fail, never skip, when missing),
// worker processes (real `unlearn worker` child processes, so one can be SIGKILLed), a Temporal client.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '../../db/migrate.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const REQUIRED = ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_BUCKET'];

/** Checks the environment names every service, migrates the database, and gives this run its own task queues. */
export async function setupEnv(label: string): Promise<{ prefix: string; ns: string }> {
  const missing = REQUIRED.filter((k) => !process.env[k]);
  if (missing.length > 0) throw new Error(`orchestration tests need real services: ${missing.join(', ')} not set (run them through \`npm test\`, which starts the stack)`);
  await migrate(process.env.DATABASE_URL);
  const tag = `${label}-${randomBytes(4).toString('hex')}`;
  const prefix = `t-${tag}-`;
  process.env.UNLEARN_QUEUE_PREFIX = prefix;
  return { prefix, ns: tag };
}

export interface WorkerProc {
  proc: ChildProcess;
  output(): string;
  /** resolves once the worker reports its backend and polls */
  ready: Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startWorker(queue: 'gpu' | 'io' | 'all', prefix: string, opts: { args?: string[]; env?: Record<string, string> } = {}): WorkerProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'worker', '--queue', queue, ...(opts.args ?? [])], {
    cwd: root,
    env: { ...process.env, ...opts.env, UNLEARN_QUEUE_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let resolveReady: () => void;
  let rejectReady: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; });
  const onData = (d: Buffer) => {
    out += d.toString();
    if (/state: 'RUNNING'/.test(out) && /\[worker .*backend=/.test(out)) resolveReady();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => {
    rejectReady(new Error(`worker (${queue}) exited with ${code} before it was ready:\n${out.slice(-3000)}`));
    res(code);
  }));
  const timer = setTimeout(() => rejectReady(new Error(`worker (${queue}) not ready after 90 s:\n${out.slice(-3000)}`)), 90_000);
  void ready.finally(() => clearTimeout(timer)).catch(() => undefined);
  return {
    proc,
    output: () => out,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
