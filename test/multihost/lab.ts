// A small multi-host lab on one Linux machine, for the multi-host test: a bridge with its own /24 subnet, one
// network namespace per "host" (a veth pair into the bridge, its own address, no default route, so a host reaches
// only the bridge subnet), and the services on the host side bound to the bridge address only: a Temporal dev
// server, a dedicated PostgreSQL instance (initdb + pg_ctl, never the machine's shared cluster) and versitygw.
// Worker processes run inside the namespaces with their own hostname (a UTS namespace), so the stage rows name
// the host that ran each stage. Everything is removed by cleanup(), which is synchronous so that it also runs
// from a process 'exit' handler; labs left by a killed run (owner pid gone) are removed by the next run.
// Needs root (namespaces, links, running PostgreSQL as the postgres user).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolPath } from '../../infra/stack.js';

/** Every name this lab creates starts with this, followed by the owner's pid in base 36 (for stale-lab removal). */
const PREFIX = 'umh';
const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface LabHost { name: string; netns: string; hostVeth: string; address: string }
export interface LabServices {
  temporalAddress: string;
  databaseUrl: string;
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string };
}

function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Fails with a clear message where the lab cannot be built (never a silent skip). */
export function requireLabPrerequisites(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(
      'the multi-host test needs root: it creates network namespaces, veth pairs and a bridge, and runs PostgreSQL as the postgres user. ' +
        'Run `npm test` as root (or with CAP_NET_ADMIN + CAP_SYS_ADMIN).',
    );
  }
  for (const [bin, why] of [['ip', 'iproute2 (namespaces, links)'], ['unshare', 'util-linux (a hostname per host)'], ['runuser', 'util-linux (PostgreSQL runs as postgres)']]) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`the multi-host test needs \`${bin}\` from ${why}; install it`);
  }
  for (const bin of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(path.join(PG_BIN, bin))) throw new Error(`the multi-host test starts its own PostgreSQL with ${PG_BIN}/${bin}, which is missing (apt-get install postgresql-15)`);
  }
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) throw new Error('the multi-host test runs PostgreSQL as the OS user `postgres`, which does not exist');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces, links and temp folders of labs whose owner process is gone (a SIGKILLed earlier run). */
export function removeStaleLabs(log: (l: string) => void = () => {}): void {
  const owners = new Set<string>();
  const nsNames = run('ip', ['netns', 'list'], { allowFail: true }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(PREFIX));
  const links = run('ip', ['-o', 'link', 'show'], { allowFail: true }).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter((n) => n.startsWith(PREFIX));
  for (const n of [...nsNames, ...links]) {
    const m = /^umh([0-9a-z]+)[-bvp]/.exec(n);
    if (m) owners.add(m[1]);
  }
  for (const tag of owners) {
    const pid = Number.parseInt(tag, 36);
    if (pid === process.pid || pidAlive(pid)) continue;
    log(`removing a stale multi-host lab of dead pid ${pid}`);
    for (const ns of nsNames.filter((n) => n.startsWith(`${PREFIX}${tag}-`))) killNamespaceProcesses(ns);
    for (const ns of nsNames.filter((n) => n.startsWith(`${PREFIX}${tag}-`))) run('ip', ['netns', 'delete', ns], { allowFail: true });
    for (const l of links.filter((n) => n.startsWith(`${PREFIX}${tag}`))) run('ip', ['link', 'delete', l], { allowFail: true });
  }
  for (const d of readdirSync(os.tmpdir()).filter((d) => d.startsWith('unlearn-multihost-'))) {
    const pid = Number(d.split('-')[2]);
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) {
      const pgdata = path.join(os.tmpdir(), d, 'pg');
      if (existsSync(path.join(pgdata, 'postmaster.pid'))) run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', pgdata, '-m', 'immediate', 'stop'], { allowFail: true });
      rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
    }
  }
}

function killNamespaceProcesses(ns: string): void {
  for (const p of run('ip', ['netns', 'pids', ns], { allowFail: true }).split('\n').map(Number).filter((p) => p > 0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch { /* gone */ }
  }
}

/** A /24 in 10.200.0.0–10.231.255.0 that no interface or route on this machine uses. */
function freeSubnet(): string {
  const used = run('ip', ['-4', 'route', 'show', 'table', 'all'], { allowFail: true }) + run('ip', ['-4', 'addr'], { allowFail: true });
  for (let i = 0; i < 100; i++) {
    const b = 200 + Math.floor(Math.random() * 32);
    const c = Math.floor(Math.random() * 256);
    const net24 = `10.${b}.${c}.`;
    if (!used.includes(net24)) return net24;
  }
  throw new Error('no free 10.2xx.x.0/24 subnet for the multi-host lab');
}

export class Lab {
  readonly tag = `${PREFIX}${process.pid.toString(36)}`;
  readonly bridge = `${this.tag}b`;
  readonly subnet = freeSubnet();
  readonly hostAddress = `${this.subnet}1`;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), `unlearn-multihost-${process.pid}-`));
  readonly hosts: LabHost[] = [];
  private readonly procs: ChildProcess[] = [];
  private pgdata?: string;
  private cleaned = false;
  private readonly onExit = () => this.cleanup();

  constructor(readonly log: (l: string) => void = () => {}) {
    process.on('exit', this.onExit);
  }

  /** Bridge on the host side (address .1) and `count` namespaces h1..hN at .11, .12, … */
  createHosts(count: number): LabHost[] {
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge]);
    run('ip', ['link', 'set', this.bridge, 'up']);
    for (let i = 1; i <= count; i++) {
      const h: LabHost = { name: `h${i}`, netns: `${this.tag}-h${i}`, hostVeth: `${this.tag}v${i}`, address: `${this.subnet}${10 + i}` };
      const peer = `${this.tag}p${i}`;
      run('ip', ['netns', 'add', h.netns]);
      this.hosts.push(h);
      run('ip', ['link', 'add', h.hostVeth, 'type', 'veth', 'peer', 'name', peer]);
      run('ip', ['link', 'set', peer, 'netns', h.netns]);
      run('ip', ['link', 'set', h.hostVeth, 'master', this.bridge, 'up']);
      run('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', peer]);
      run('ip', ['-n', h.netns, 'link', 'set', peer, 'up']);
      run('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    }
    return this.hosts;
  }

  /** Cuts a host off the network (its link on the bridge goes down); its processes keep running, unreachable. */
  cut(host: LabHost): void {
    run('ip', ['link', 'set', host.hostVeth, 'down']);
  }

  /** A port on the bridge address nobody listens on (the address is this lab's alone). */
  private async freePort(address = this.hostAddress): Promise<number> {
    for (;;) {
      const port = 20000 + Math.floor(Math.random() * 12768);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(port, address, () => s.close(() => resolve(true)));
      });
      if (ok) return port;
    }
  }

  private daemon(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const logPath = path.join(this.dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    this.procs.push(p);
    return p;
  }

  logTail(name: string, lines = 20): string {
    try {
      return readFileSync(path.join(this.dir, `${name}.log`), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitPort(name: string, proc: ChildProcess, port: number, address = this.hostAddress, timeoutMs = 90_000): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited during start-up:\n${this.logTail(name)}`);
      const open = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, address);
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      if (open) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${name} did not listen on ${address}:${port} within ${timeoutMs / 1000} s:\n${this.logTail(name)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Temporal dev server (in memory), PostgreSQL and versitygw, all on the bridge address only. */
  async startServices(): Promise<LabServices> {
    const [temporal, s3, databaseUrl] = await Promise.all([this.startTemporal(), this.startS3(), this.startPostgres()]);
    return { temporalAddress: temporal, databaseUrl, s3 };
  }

  /**
   * The Temporal CLI's dev server (v1.5.1) dials its own matching/history services at 127.0.0.1 whatever `--ip`
   * says, so it cannot serve on the bridge address directly: it runs on loopback and a forwarder process
   * (forward.mjs) serves the bridge address. Workers see one frontend address, as they would in a cluster.
   */
  private async startTemporal(): Promise<string> {
    const bin = await toolPath('temporal', { build: false });
    const [port, httpPort, metricsPort] = [await this.freePort('127.0.0.1'), await this.freePort('127.0.0.1'), await this.freePort('127.0.0.1')];
    const p = this.daemon('temporal', bin, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort),
      '--metrics-port', String(metricsPort), '--headless', '--log-level', 'warn'], process.env);
    await this.waitPort('temporal', p, port, '127.0.0.1');
    const bridgePort = await this.freePort();
    const f = this.daemon('forward', process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'forward.mjs'), this.hostAddress, String(bridgePort), '127.0.0.1', String(port)], process.env);
    await this.waitPort('forward', f, bridgePort);
    return `${this.hostAddress}:${bridgePort}`;
  }

  private async startS3(): Promise<LabServices['s3']> {
    const bin = await toolPath('versitygw', { build: false });
    const port = await this.freePort();
    const data = path.join(this.dir, 's3');
    mkdirSync(data);
    const creds = { accessKeyId: randomBytes(8).toString('hex'), secretAccessKey: randomBytes(18).toString('hex') };
    const p = this.daemon('s3', bin, ['--port', `${this.hostAddress}:${port}`, '--region', 'us-east-1', '--quiet', 'posix', data],
      { ...process.env, ROOT_ACCESS_KEY: creds.accessKeyId, ROOT_SECRET_KEY: creds.secretAccessKey });
    await this.waitPort('s3', p, port);
    return { endpoint: `http://${this.hostAddress}:${port}`, region: 'us-east-1', bucket: 'unlearn-multihost', ...creds };
  }

  /**
   * A dedicated PostgreSQL 15 instance for the lab (the machine's cluster listens on localhost only and is shared:
   * it is left alone). Dead clients are noticed within seconds (TCP keepalives, tcp_user_timeout) and a transaction
   * left open by a cut-off host is ended after 10 s, so its row locks never block the retry on another host.
   */
  private async startPostgres(): Promise<string> {
    const port = await this.freePort();
    const pgdata = path.join(this.dir, 'pg');
    const sock = path.join(this.dir, 'pgsock');
    const password = randomBytes(18).toString('hex');
    chmodSync(this.dir, 0o755);
    const pgUid = Number(run('id', ['-u', 'postgres']).trim());
    const pgGid = Number(run('id', ['-g', 'postgres']).trim());
    for (const d of [pgdata, sock]) {
      mkdirSync(d, { mode: 0o700 });
      chownSync(d, pgUid, pgGid);
    }
    const pwfile = path.join(this.dir, 'pgpass.tmp');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chownSync(pwfile, pgUid, pgGid);
    try {
      run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'initdb'), '-D', pgdata, '-U', 'unlearn', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
    } finally {
      rmSync(pwfile, { force: true });
    }
    appendFileSync(path.join(pgdata, 'pg_hba.conf'), `host all all ${this.subnet}0/24 scram-sha-256\n`);
    this.pgdata = pgdata;
    const opts = [
      `-c listen_addresses=${this.hostAddress}`, `-p ${port}`, `-c unix_socket_directories=${sock}`, '-c fsync=off',
      '-c tcp_keepalives_idle=5', '-c tcp_keepalives_interval=2', '-c tcp_keepalives_count=3', '-c tcp_user_timeout=10000',
      '-c idle_in_transaction_session_timeout=10s', '-c max_connections=200',
    ].join(' ');
    try {
      run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', pgdata, '-l', path.join(sock, 'postgres.log'), '-o', opts, '-w', '-t', '60', 'start']);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logTail('pgsock/postgres')}`);
    }
    const admin = `postgres://unlearn:${password}@${this.hostAddress}:${port}/postgres`;
    const pg = await import('pg');
    const c = new pg.default.Client({ connectionString: admin });
    await c.connect();
    await c.query('CREATE DATABASE unlearn');
    await c.end();
    return `postgres://unlearn:${password}@${this.hostAddress}:${port}/unlearn`;
  }

  /**
   * Starts `unlearn worker` inside a host's namespace, with its own hostname and only the service addresses
   * (plus PATH/HOME) in its environment.
   */
  startWorker(host: LabHost, args: string[], env: Record<string, string>, root: string): LabWorker {
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const argv = [process.execPath, '--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'worker', ...args];
    const p = spawn('ip', ['netns', 'exec', host.netns, 'unshare', '--uts', 'sh', '-c', `hostname "$0" && exec "$@"`, host.name, ...argv], {
      cwd: root, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.procs.push(p);
    return new LabWorker(host, args.join(' '), p);
  }

  /** Stops every process, the PostgreSQL instance, the namespaces, the links and the temp folder. Idempotent. */
  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    process.off('exit', this.onExit);
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch { /* gone */ }
      }
    }
    for (const h of this.hosts) killNamespaceProcesses(h.netns);
    if (this.pgdata && existsSync(path.join(this.pgdata, 'postmaster.pid'))) {
      run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', this.pgdata, '-m', 'immediate', 'stop'], { allowFail: true });
    }
    for (const h of this.hosts) {
      run('ip', ['link', 'delete', h.hostVeth], { allowFail: true });
      run('ip', ['netns', 'delete', h.netns], { allowFail: true });
    }
    run('ip', ['link', 'delete', this.bridge], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** cleanup(), then waits until every process this lab started has been reaped. */
  async cleanupAndWait(timeoutMs = 10_000): Promise<void> {
    const exits = this.procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise<void>((r) => p.once('exit', () => r())));
    this.cleanup();
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /** What of this lab is still there (for the test's last assertion). */
  leftovers(): string[] {
    const out: string[] = [];
    const ns = run('ip', ['netns', 'list'], { allowFail: true });
    const links = run('ip', ['-o', 'link', 'show'], { allowFail: true });
    for (const h of this.hosts) if (ns.includes(h.netns)) out.push(`namespace ${h.netns}`);
    for (const name of [this.bridge, ...this.hosts.map((h) => h.hostVeth)]) if (new RegExp(`: ${name}[:@]`).test(links)) out.push(`link ${name}`);
    if (existsSync(this.dir)) out.push(this.dir);
    for (const p of this.procs) if (p.pid && p.exitCode === null && p.signalCode === null && pidAlive(p.pid)) out.push(`pid ${p.pid}`);
    return out;
  }
}

export class LabWorker {
  private out = '';
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;

  constructor(readonly host: LabHost, readonly what: string, readonly proc: ChildProcess) {
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; });
    const onData = (d: Buffer) => {
      this.out += d.toString();
      if (this.out.length > 200_000) this.out = this.out.slice(-100_000);
      if (/state: 'RUNNING'/.test(this.out) && /\[worker .*backend=/.test(this.out)) resolveReady();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    this.exited = new Promise((res) => proc.on('exit', (code) => {
      rejectReady(new Error(`worker ${what} on ${host.name} exited with ${code} before it was ready:\n${this.out.slice(-3000)}`));
      res(code);
    }));
    const timer = setTimeout(() => rejectReady(new Error(`worker ${what} on ${host.name} not ready after 240 s:\n${this.out.slice(-3000)}`)), 240_000);
    void this.ready.finally(() => clearTimeout(timer)).catch(() => undefined);
  }

  output(): string {
    return this.out;
  }
}
