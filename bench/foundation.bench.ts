// `npm run bench -- foundation`: how fast the foundation's pieces are on this machine.
//   stack: cold start of a private stack (Temporal dev server + versitygw started; PostgreSQL reused), then a
//          second start (starts nothing);
//   s3:    64 MiB putBytes (multipart) and getBytes (streamed + sha256 verified), MB/s; 4 KiB objects, latency;
//   db:    artifacts rows through drizzle: batched inserts (rows/s) and single upserts (latency);
//   temporal: smoke workflow round trips through a real Worker (latency after the worker is up).
// Uses the test profile's stack (started if needed, stopped after if this run started it). Prints JSON on stdout and
// writes bench/results/foundation-<timestamp>.json with the machine, load average at start and all numbers.
// Other engineers share the machine's cores: compare runs by their load average.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import { createSmokeActivities } from '../activities/smoke.js';
import { openDb } from '../db/client.js';
import { artifacts } from '../db/schema.js';
import { createScratchDatabase, ensureStack, REPO_ROOT, stackEnv } from '../infra/stack.js';
import { connectionOptions } from '../infra/temporal.js';
import { temporalConfig } from '../config/index.js';
import { ObjectStore } from '../storage/object-store.js';
import { smokeWorkflow } from '../workflows/smoke.js';

const quiet = () => {};
const ms = (t0: number) => performance.now() - t0;
function pct(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const r1 = (x: number) => Math.round(x * 10) / 10;

const startedAt = new Date();
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), loadavg: loadavg().map(r1), node: process.version };
Runtime.install({ logger: new DefaultLogger('WARN') });

const stack = await ensureStack({ profile: 'test', log: quiet });
const env = stackEnv(stack);
const scratch = stack.sources.postgres === 'env' ? undefined : await createScratchDatabase(stack.databaseUrl, 'bench_foundation');
const results: Record<string, unknown> = {};
try {
  // ---- stack start, cold and warm (private state dir; PostgreSQL from the running stack)
  {
    const stateDir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
    const e = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: scratch?.url ?? stack.databaseUrl };
    let t0 = performance.now();
    const a = await ensureStack({ profile: 'test', env: e, stateDir, log: quiet });
    const cold = ms(t0);
    t0 = performance.now();
    const b = await ensureStack({ profile: 'test', env: e, stateDir, log: quiet });
    const warm = ms(t0);
    await b.stop();
    t0 = performance.now();
    await a.stop();
    const stop = ms(t0);
    rmSync(stateDir, { recursive: true, force: true });
    results.stack = { coldStartMs: Math.round(cold), startedCold: a.started, warmStartMs: Math.round(warm), startedWarm: b.started, stopMs: Math.round(stop) };
  }

  // ---- S3
  {
    const store = new ObjectStore({ ...stack.s3 });
    const prefix = `bench/foundation-${Date.now()}`;
    const big = randomBytes(64 * 1024 * 1024);
    const runs = 3;
    const put: number[] = [];
    const get: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      await store.putBytes(`${prefix}/big-${i}`, big);
      put.push(ms(t0));
      t0 = performance.now();
      const back = await store.getBytes(`${prefix}/big-${i}`);
      get.push(ms(t0));
      if (back.length !== big.length) throw new Error('short read');
    }
    const small = randomBytes(4096);
    const sput: number[] = [];
    const sget: number[] = [];
    for (let i = 0; i < 200; i++) {
      let t0 = performance.now();
      await store.putBytes(`${prefix}/small/${i}`, small);
      sput.push(ms(t0));
      t0 = performance.now();
      await store.getBytes(`${prefix}/small/${i}`);
      sget.push(ms(t0));
    }
    const t0 = performance.now();
    const listed = await store.list(`${prefix}/small/`, 50);
    const listMs = ms(t0);
    for (const o of await store.list(`${prefix}/`)) await store.delete(o.key);
    store.destroy();
    const mbps = (t: number) => r1(64 / (t / 1000));
    results.s3 = {
      server: stack.sources.s3 === 'env' ? 'from S3_ENDPOINT' : 'versitygw v1.8.0 (POSIX backend)',
      put64MiB: { runs, medianMs: Math.round(pct(put, 50)), MBps: mbps(pct(put, 50)) },
      get64MiBVerified: { runs, medianMs: Math.round(pct(get, 50)), MBps: mbps(pct(get, 50)) },
      put4KiB: { n: 200, p50Ms: r1(pct(sput, 50)), p95Ms: r1(pct(sput, 95)) },
      get4KiBVerified: { n: 200, p50Ms: r1(pct(sget, 50)), p95Ms: r1(pct(sget, 95)) },
      list200InPagesOf50Ms: Math.round(listMs),
      listed: listed.length,
    };
  }

  // ---- PostgreSQL through drizzle
  {
    const h = openDb(scratch?.url ?? stack.databaseUrl);
    const tag = `bench-${Date.now()}`;
    const row = (i: number) => ({ key: `${tag}-${i}`, kind: 'bench', uri: `s3://b/${tag}/${i}`, sha256: 'ab'.repeat(32), bytes: i, metadata: { i } });
    let t0 = performance.now();
    for (let b = 0; b < 20; b++) await h.db.insert(artifacts).values(Array.from({ length: 100 }, (_, j) => row(b * 100 + j)));
    const batched = ms(t0);
    const single: number[] = [];
    for (let i = 0; i < 200; i++) {
      t0 = performance.now();
      await h.db
        .insert(artifacts)
        .values(row(i))
        .onConflictDoUpdate({ target: artifacts.key, set: { bytes: i + 1 } });
      single.push(ms(t0));
    }
    await h.db.delete(artifacts).where(sql`${artifacts.kind} = 'bench' AND ${artifacts.key} LIKE ${tag + '%'}`);
    await h.close();
    results.db = {
      insert2000RowsBatched100: { ms: Math.round(batched), rowsPerS: Math.round(2000 / (batched / 1000)) },
      upsertSingleRow: { n: 200, p50Ms: r1(pct(single, 50)), p95Ms: r1(pct(single, 95)) },
    };
  }

  // ---- Temporal: smoke workflow round trips
  {
    const cfg = temporalConfig(env);
    const store = new ObjectStore({ ...stack.s3 });
    const h = openDb(scratch?.url ?? stack.databaseUrl);
    const taskQueue = `bench-foundation-${Date.now()}`;
    let t0 = performance.now();
    const nc = await NativeConnection.connect(connectionOptions(cfg));
    const worker = await Worker.create({
      connection: nc,
      namespace: cfg.namespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('../workflows/smoke.ts', import.meta.url)),
      activities: createSmokeActivities({ store, db: h.db }),
    });
    const workerCreateMs = ms(t0);
    const conn = await Connection.connect(connectionOptions(cfg));
    const client = new Client({ connection: conn, namespace: cfg.namespace });
    const lat: number[] = [];
    await worker.runUntil(async () => {
      for (let i = 0; i < 20; i++) {
        t0 = performance.now();
        await client.workflow.execute(smokeWorkflow, { taskQueue, workflowId: `${taskQueue}-${i}`, args: [{ key: `bench/smoke/${taskQueue}/${i}`, text: `x${i}` }] });
        lat.push(ms(t0));
      }
    });
    for (const o of await store.list(`bench/smoke/${taskQueue}/`)) await store.delete(o.key);
    await conn.close();
    await nc.close();
    await h.close();
    store.destroy();
    results.temporal = {
      workerCreateWithBundleMs: Math.round(workerCreateMs),
      smokeWorkflowRoundTrip: { n: 20, p50Ms: r1(pct(lat, 50)), p95Ms: r1(pct(lat, 95)) },
    };
  }
} finally {
  await scratch?.drop();
  await stack.stop();
}

const out = { bench: 'foundation', startedAt: startedAt.toISOString(), machine, backend: 'n/a (services, no tensors)', stackSources: stack.sources, results };
const dir = join(REPO_ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `foundation-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out, null, 2));
console.error(`wrote ${file}`);
process.exit(0);
