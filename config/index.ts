// Configuration from the environment, validated once at an entry point (the CLI, workers, benches, the test
// runner) and passed down as plain values: nothing below an entry point reads process.env for these settings,
// and the ML library never does (it takes options). Every variable is declared in config/vars.ts, which the
// README's table is generated from. An invalid value throws a ConfigError naming the variable and the problem.
//
// Temporal's connection settings use the SDK's own loader (@temporalio/envconfig): the standard TEMPORAL_*
// variables and the Temporal CLI's TOML profiles, so a cluster configured for the `temporal` command works here.
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const trimmed = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const v = trimmed(env, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(name, `is "${v}", not one of ${allowed.join(', ')}`);
  return v as T;
}

function positiveInt(env: Env, name: string): number | undefined {
  const v = trimmed(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(name, `is "${v}", expected a positive integer`);
  return n;
}

function flag(env: Env, name: string, dflt: boolean): boolean {
  const v = trimmed(env, name)?.toLowerCase();
  if (v === undefined) return dflt;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `is "${v}", expected 1/0 or true/false`);
}

// ---------------------------------------------------------------- Temporal

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** false: plaintext; true: TLS with the system roots; an object: mTLS and/or a custom CA or server name */
  tls: boolean | { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
  apiKey?: string;
  metadata?: Record<string, string>;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/**
 * Temporal connection settings: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, and the
 * Temporal CLI's config file (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE), read by the SDK's loader. The older
 * TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY are taken as the client certificate and key paths.
 */
export function temporalConfig(env: Env): TemporalConfig {
  const cert = trimmed(env, 'TEMPORAL_TLS_CERT');
  const key = trimmed(env, 'TEMPORAL_TLS_KEY');
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(cert ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT', 'is missing: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (paths of the client certificate and key)');
  }
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') vars[k] = v;
  if (cert && key) {
    vars.TEMPORAL_TLS_CLIENT_CERT_PATH ??= cert;
    vars.TEMPORAL_TLS_CLIENT_KEY_PATH ??= key;
  }
  // The loader reads the Temporal CLI's config file when there is one (a missing default file is no configuration).
  if (vars.TEMPORAL_CONFIG_FILE && !existsSync(vars.TEMPORAL_CONFIG_FILE)) throw new ConfigError('TEMPORAL_CONFIG_FILE', `names ${vars.TEMPORAL_CONFIG_FILE}, which does not exist`);
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars });
  } catch (e) {
    throw new ConfigError(vars.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'TEMPORAL_PROFILE', `could not be read: ${(e as Error).message}`);
  }
  const o = loaded.connectionOptions;
  const address = o.address?.trim() || DEFAULT_TEMPORAL_ADDRESS;
  if (!/^[^\s/]+:\d+$/.test(address)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `is malformed: expected HOST:PORT (e.g. ${DEFAULT_TEMPORAL_ADDRESS}), got "${address}"`);
  }
  const tls = asBuffers(o.tls ?? false);
  const cfg: TemporalConfig = { address, namespace: loaded.namespace?.trim() || 'default', tls };
  if (o.apiKey && typeof o.apiKey === 'string') cfg.apiKey = o.apiKey;
  if (o.metadata && Object.keys(o.metadata).length > 0) cfg.metadata = o.metadata as Record<string, string>;
  return cfg;
}

/** The loader hands certificates over as Uint8Array; the connection wants Buffers. */
function asBuffers(tls: unknown): TemporalConfig['tls'] {
  if (typeof tls === 'boolean' || tls === null || typeof tls !== 'object') return Boolean(tls);
  const t = tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate?: Uint8Array; serverNameOverride?: string };
  const out: Exclude<TemporalConfig['tls'], boolean> = {};
  if (t.clientCertPair) out.clientCertPair = { crt: Buffer.from(t.clientCertPair.crt), key: Buffer.from(t.clientCertPair.key) };
  if (t.serverRootCACertificate) out.serverRootCACertificate = Buffer.from(t.serverRootCACertificate);
  if (t.serverNameOverride) out.serverNameOverride = t.serverNameOverride;
  return out;
}

// ---------------------------------------------------------------- PostgreSQL and S3

/** DATABASE_URL (checked by db/client.ts parseDatabaseUrl where it is opened). */
export function databaseUrl(env: Env, name = 'DATABASE_URL'): string {
  const v = trimmed(env, name);
  if (!v) throw new ConfigError(name, 'is not set: run through `npm run stack -- up` / `npm test`, or export it (`eval "$(npm run -s stack -- env)"`)');
  return v;
}

export interface S3Config {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

export function s3Config(env: Env): S3Config {
  const need = (name: string): string => {
    const v = trimmed(env, name);
    if (!v) throw new ConfigError(name, 'is not set: the object store needs S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_BUCKET (run `npm run stack -- up`)');
    return v;
  };
  const endpoint = need('S3_ENDPOINT');
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigError('S3_ENDPOINT', `is malformed: expected a URL like http://127.0.0.1:7070, got "${endpoint}"`);
  }
  return { endpoint, region: trimmed(env, 'S3_REGION') ?? 'us-east-1', accessKeyId: need('S3_ACCESS_KEY_ID'), secretAccessKey: need('S3_SECRET_ACCESS_KEY'), bucket: need('S3_BUCKET') };
}

// ---------------------------------------------------------------- the ML library's options

export const BACKEND_NAMES = ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] as const;

/** What workers, benches and tests pass to ml/ (initBackend, the data loaders). */
export interface MlConfig {
  /** UNLEARN_BACKEND: use exactly this backend (fail if it cannot load) */
  backend?: (typeof BACKEND_NAMES)[number];
  /** TF_NUM_INTRAOP_THREADS (reported; libtensorflow reads it itself) */
  intraopThreads?: number;
  /** our wasm kernels: fused multiply-add (UNLEARN_WASM_FMA) and the ones turned off (UNLEARN_WASM_KERNELS_OFF) */
  wasmKernels: { fma: boolean; off: string[]; native: boolean };
  /** UNLEARN_DATA_DIR */
  dataDir: string;
  /** UNLEARN_SVHN_DIR */
  svhnDir?: string;
}

/** MlConfig as ml/backend.ts initBackend's options. */
export function backendOptions(ml: MlConfig): { force?: MlConfig['backend']; intraopThreads?: number; wasmKernels: MlConfig['wasmKernels'] } {
  return { force: ml.backend, intraopThreads: ml.intraopThreads, wasmKernels: ml.wasmKernels };
}

export function mlConfig(env: Env): MlConfig {
  const home = trimmed(env, 'HOME') ?? homedir();
  const cfg: MlConfig = {
    wasmKernels: {
      fma: flag(env, 'UNLEARN_WASM_FMA', true),
      native: flag(env, 'UNLEARN_NATIVE_KERNELS', true),
      off: (trimmed(env, 'UNLEARN_WASM_KERNELS_OFF') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    },
    dataDir: trimmed(env, 'UNLEARN_DATA_DIR') ?? join(home, '.cache', 'unlearn-data'),
  };
  const backend = oneOf(env, 'UNLEARN_BACKEND', BACKEND_NAMES);
  if (backend) cfg.backend = backend;
  const threads = positiveInt(env, 'TF_NUM_INTRAOP_THREADS');
  if (threads) cfg.intraopThreads = threads;
  const svhn = trimmed(env, 'UNLEARN_SVHN_DIR');
  if (svhn) cfg.svhnDir = svhn;
  return cfg;
}

// ---------------------------------------------------------------- workers, sweeps and the CLI

export interface QueueNames { gpu: string; io: string }

/** Task-queue names; UNLEARN_QUEUE_PREFIX isolates several deployments (or tests) on one namespace. */
export function queueNames(env: Env): QueueNames {
  const prefix = env.UNLEARN_QUEUE_PREFIX ?? '';
  if (/\s/.test(prefix)) throw new ConfigError('UNLEARN_QUEUE_PREFIX', `must not contain white space (got "${prefix}")`);
  return { gpu: `${prefix}gpu`, io: `${prefix}io` };
}

/**
 * The host a worker runs on, as stage rows and artifact metadata record it (`worker` = `<host>:<pid>:<queue>`):
 * UNLEARN_WORKER_HOST when set (e.g. a node name where hostnames repeat), else the hostname (a pod's name on
 * Kubernetes, the namespace's own name in the multi-host test).
 */
export function workerHost(env: Env): string {
  const host = trimmed(env, 'UNLEARN_WORKER_HOST') ?? hostname();
  if (host.includes(':')) throw new ConfigError('UNLEARN_WORKER_HOST', `must not contain ':' (it separates host, pid and queue in the worker identity), got "${host}"`);
  return host;
}

/** What a worker process needs: where the services are, its queues, its host name, and the ML options. */
export interface WorkerConfig {
  host: string;
  /** UNLEARN_NOOP_STAGE_MS: how long no-op gpu stages last (orchestration tests) */
  noopStageMs: number;
  temporal: TemporalConfig;
  databaseUrl: string;
  s3: S3Config;
  queues: QueueNames;
  ml: MlConfig;
}

export function workerConfig(env: Env): WorkerConfig {
  const noop = trimmed(env, 'UNLEARN_NOOP_STAGE_MS');
  const noopStageMs = noop === undefined ? 0 : Number(noop);
  if (!Number.isFinite(noopStageMs) || noopStageMs < 0) throw new ConfigError('UNLEARN_NOOP_STAGE_MS', `is "${noop}", expected milliseconds >= 0`);
  return { host: workerHost(env), noopStageMs, temporal: temporalConfig(env), databaseUrl: databaseUrl(env), s3: s3Config(env), queues: queueNames(env), ml: mlConfig(env) };
}

/** `unlearn query`: the SELECT-only URL when set, else DATABASE_URL. */
export function queryDatabaseUrl(env: Env): string {
  return trimmed(env, 'UNLEARN_QUERY_DATABASE_URL') ?? databaseUrl(env);
}

export function dashboardToken(env: Env): string | undefined {
  return trimmed(env, 'UNLEARN_DASHBOARD_TOKEN');
}

export function demoConfig(env: Env): { gpuWorkers: number; timingJson: boolean } {
  return { gpuWorkers: positiveInt(env, 'UNLEARN_DEMO_GPU_WORKERS') ?? 2, timingJson: flag(env, 'UNLEARN_DEMO_TIMING_JSON', false) };
}

/** A bench or test knob: a positive integer (default when unset). */
export function intVar(env: Env, name: string, dflt: number): number {
  return positiveInt(env, name) ?? dflt;
}

/** A comma-separated list (default when unset). */
export function listVar(env: Env, name: string, dflt: readonly string[]): string[] {
  const v = trimmed(env, name);
  return v === undefined ? [...dflt] : v.split(',').map((s) => s.trim()).filter(Boolean);
}

export { flag as flagVar };
