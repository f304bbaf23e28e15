// Services the fault drill may stop and start at will, apart from the stack `npm test` shares between test files:
// a Temporal dev server with a persistent SQLite file (so a restart keeps every workflow), a dedicated PostgreSQL
// instance (initdb + pg_ctl in a temporary folder, never the machine's shared cluster) and versitygw on its own
// folder. Each keeps its port across restarts, so workers and clients reconnect to the same address.
// PostgreSQL runs as the OS user `postgres` when the test runs as root (PostgreSQL refuses root), else as the
// current user. Everything is removed by cleanup(), also when the test fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { toolPath } from '../../infra/stack.js';

const isRoot = () => process.getuid?.() === 0;

function pgBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error(`the fault drill starts its own PostgreSQL with initdb and pg_ctl, found under ${base}/<version>/bin: none there (apt-get install postgresql)`);
  return path.join(base, versions[0], 'bin');
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class DrillServices {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'unlearn-drill-'));
  private procs = new Map<string, ChildProcess>();
  private pgBin = pgBinDir();
  private pgdata = path.join(this.dir, 'pg');
  private pgUser = isRoot() ? 'postgres' : '';
  readonly ports = { temporal: 0, s3: 0, pg: 0 };
  readonly s3 = { accessKeyId: randomBytes(8).toString('hex'), secretAccessKey: randomBytes(18).toString('hex'), bucket: 'unlearn-drill', region: 'us-east-1' };
  private pgPassword = randomBytes(18).toString('hex');
  private cleaned = false;

  /** The environment workers and clients use to reach these services. */
  env(): Record<string, string> {
    return {
      TEMPORAL_ADDRESS: `127.0.0.1:${this.ports.temporal}`,
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: `postgres://unlearn:${this.pgPassword}@127.0.0.1:${this.ports.pg}/unlearn`,
      S3_ENDPOINT: `http://127.0.0.1:${this.ports.s3}`,
      S3_REGION: this.s3.region,
      S3_ACCESS_KEY_ID: this.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: this.s3.secretAccessKey,
      S3_BUCKET: this.s3.bucket,
    };
  }

  logTail(name: string, lines = 20): string {
    try {
      return readFileSync(path.join(this.dir, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private daemon(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const fd = openSync(path.join(this.dir, `${name}.log`), 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    this.procs.set(name, p);
    return p;
  }

  private async waitPort(name: string, port: number, timeoutMs = 90_000): Promise<void> {
    const t0 = Date.now();
    const p = this.procs.get(name);
    while (!(await portOpen(port))) {
      if (p && (p.exitCode !== null || p.signalCode !== null)) throw new Error(`${name} exited during start-up:\n${this.logTail(name)}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s:\n${this.logTail(name)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async stopDaemon(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async startAll(): Promise<void> {
    this.ports.temporal = await freePort();
    this.ports.s3 = await freePort();
    this.ports.pg = await freePort();
    mkdirSync(path.join(this.dir, 's3'));
    await this.initPostgres();
    await Promise.all([this.startTemporal(), this.startS3(), this.startPostgres()]);
    const s3 = new S3Client({ endpoint: this.env().S3_ENDPOINT, region: this.s3.region, forcePathStyle: true, credentials: { accessKeyId: this.s3.accessKeyId, secretAccessKey: this.s3.secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: this.s3.bucket }));
    s3.destroy();
    const admin = new pg.Client({ connectionString: this.env().DATABASE_URL.replace(/\/unlearn$/, '/postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE unlearn');
    await admin.end();
  }

  /** The dev server keeps its state in a SQLite file in the drill's folder: a restart loses nothing. */
  async startTemporal(): Promise<void> {
    const bin = await toolPath('temporal', { build: false });
    this.daemon('temporal', bin, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(this.ports.temporal), '--headless',
      '--db-filename', path.join(this.dir, 'temporal.sqlite'), '--log-level', 'warn']);
    await this.waitPort('temporal', this.ports.temporal);
  }
  async stopTemporal(): Promise<void> {
    await this.stopDaemon('temporal');
  }

  async startS3(): Promise<void> {
    const bin = await toolPath('versitygw', { build: false });
    this.daemon('s3', bin, ['--port', `127.0.0.1:${this.ports.s3}`, '--region', this.s3.region, '--quiet', 'posix', path.join(this.dir, 's3')],
      { ...process.env, ROOT_ACCESS_KEY: this.s3.accessKeyId, ROOT_SECRET_KEY: this.s3.secretAccessKey });
    await this.waitPort('s3', this.ports.s3);
  }
  async stopS3(): Promise<void> {
    await this.stopDaemon('s3');
  }

  private pgRun(bin: string, args: string[]): string {
    const full = path.join(this.pgBin, bin);
    return this.pgUser ? run('runuser', ['-u', this.pgUser, '--', full, ...args]) : run(full, args);
  }

  private async initPostgres(): Promise<void> {
    mkdirSync(this.pgdata, { mode: 0o700 });
    const pwfile = path.join(this.dir, 'pgpass');
    writeFileSync(pwfile, `${this.pgPassword}\n`, { mode: 0o600 });
    if (this.pgUser) {
      chmodSync(this.dir, 0o755);
      const uid = Number(run('id', ['-u', this.pgUser]).trim());
      const gid = Number(run('id', ['-g', this.pgUser]).trim());
      chownSync(this.pgdata, uid, gid);
      chownSync(pwfile, uid, gid);
    }
    try {
      this.pgRun('initdb', ['-D', this.pgdata, '-U', 'unlearn', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  async startPostgres(): Promise<void> {
    const opts = [`-c listen_addresses=127.0.0.1`, `-p ${this.ports.pg}`, `-c unix_socket_directories=${this.pgdata}`, '-c fsync=off', '-c max_connections=200'].join(' ');
    try {
      this.pgRun('pg_ctl', ['-D', this.pgdata, '-l', path.join(this.pgdata, 'server.log'), '-o', opts, '-w', '-t', '60', 'start']);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${readFileSync(path.join(this.pgdata, 'server.log'), 'utf8').slice(-2000)}`);
    }
  }
  /** A fast restart: connections are dropped, the server is back within seconds. */
  async restartPostgres(): Promise<void> {
    this.pgRun('pg_ctl', ['-D', this.pgdata, '-m', 'fast', '-w', '-t', '60', 'stop']);
    await new Promise((r) => setTimeout(r, 1000));
    await this.startPostgres();
  }

  /** Stops every process and the PostgreSQL instance and removes the folder. Idempotent. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const name of this.procs.keys()) await this.stopDaemon(name, 'SIGKILL');
    if (existsSync(path.join(this.pgdata, 'postmaster.pid'))) {
      try {
        this.pgRun('pg_ctl', ['-D', this.pgdata, '-m', 'immediate', '-w', 'stop']);
      } catch { /* already down */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
