// Many hosts, proven on one machine: three worker hosts as Linux network namespaces on a bridge this test
// creates, the services (Temporal dev server, a dedicated PostgreSQL, versitygw) on the host side bound to the
// bridge address, gpu and io workers inside the namespaces with only TEMPORAL_ADDRESS / DATABASE_URL / S3_*
// pointing across. A no-op sweep (gpu stages last UNLEARN_NOOP_STAGE_MS) runs spread over the hosts; mid-sweep
// one host is cut off (its link goes down while its stages run). Its stages time out on their heartbeat and
// retry on the others; the sweep completes with every trial once and every artifact verified. Everything the
// test creates is removed at the end, also on failure. Needs root: without it the test fails and says so.
// This file does not use the stack `npm test` starts: its services must listen on the lab's bridge.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { migrate } from '../../db/migrate.js';
import { openDb, type DbHandle } from '../../db/client.js';
import { startSweep } from '../../cli/sweep.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';
import { s3Store } from '../../activities/store.js';
import { s3Config } from '../../config/index.js';
import { artifactKey, hostOfWorker, trialRowId } from '../../activities/stages.js';
import { ObjectStore } from '../../storage/object-store.js';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Lab, removeStaleLabs, requireLabPrerequisites, type LabWorker } from './lab.js';
import { root, waitFor } from '../orchestration/helpers.js';
import { smallGridYaml } from '../orchestration/fixtures.js';

const log = (l: string) => console.log(`[multihost] ${l}`);
let lab: Lab | undefined;
let db: DbHandle | undefined;
let connection: Connection | undefined;
const workers: LabWorker[] = [];

after(async () => {
  await connection?.close().catch(() => undefined);
  await db?.close().catch(() => undefined);
  lab?.cleanup();
});

const SWEEP = `
name: multihost
compute: noop
seeds: [0, 1, 2]
${smallGridYaml({ negGradPlus: true })}oracle: true
execution: { window: 12, heartbeatTimeoutS: 5, maxAttempts: 5, retryInitialS: 1 }
`;

void test('a sweep spreads over three hosts; a host cut off mid-sweep has its stages retried on the others; every trial once, every artifact verified', async () => {
  requireLabPrerequisites();
  removeStaleLabs(log);
  const t0 = Date.now();
  lab = new Lab(log);
  const [h1, h2, h3] = lab.createHosts(3);
  const svc = await lab.startServices();
  log(`lab: bridge ${lab.bridge} ${lab.hostAddress}/24; hosts ${lab.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}; ` +
    `temporal ${svc.temporalAddress}, postgres ${svc.databaseUrl.replace(/:[^:@/]+@/, ':***@')}, s3 ${svc.s3.endpoint} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const serviceEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: svc.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: svc.databaseUrl,
    S3_ENDPOINT: svc.s3.endpoint,
    S3_REGION: svc.s3.region,
    S3_ACCESS_KEY_ID: svc.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: svc.s3.secretAccessKey,
    S3_BUCKET: svc.s3.bucket,
  };
  // This process is the client on the host side: same services, no queue prefix (the Temporal server is ours).
  Object.assign(process.env, serviceEnv);
  delete process.env.UNLEARN_QUEUE_PREFIX;
  await migrate(svc.databaseUrl);
  const raw = new ObjectStore(s3Config(process.env));
  await raw.client.send(new CreateBucketCommand({ Bucket: svc.s3.bucket }));
  raw.destroy();
  const store = s3Store(s3Config(process.env));

  // Workers: io + gpu on h1 and h2, gpu on h3; gpu stages take 1 s each, 2 at once per gpu worker.
  const workerEnv = { ...serviceEnv, UNLEARN_NOOP_STAGE_MS: '1000' };
  for (const [h, queues] of [[h1, ['io', 'gpu']], [h2, ['io', 'gpu']], [h3, ['gpu']]] as const) {
    for (const q of queues) workers.push(lab.startWorker(h, q === 'gpu' ? ['--queue', 'gpu', '--concurrency', '2'] : ['--queue', 'io'], workerEnv, root));
  }
  await Promise.all(workers.map((w) => w.ready));
  log(`${workers.length} workers ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  connection = await Connection.connect({ address: svc.temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  db = openDb(svc.databaseUrl);
  const q = async (text: string, values: unknown[] = []) => (await db!.pool.query(text, values)).rows;
  const cfg = parseSweepText(SWEEP, 'multihost.yaml');
  const id = `multihost-${Date.now().toString(36)}`;
  const plan = expandSweep(cfg, id);
  const keys = plan.stages.map((s) => s.key);
  const tSweep = Date.now();
  const { handle } = await startSweep(client, cfg, { id });

  // Cut h2 once every host has finished a stage and h2 has just started a gpu stage (≥ 0.6 s of its 1 s left).
  const hostsDone = async () => new Set((await q(`SELECT worker FROM stages WHERE key = ANY($1) AND status = 'done'`, [keys])).map((r) => hostOfWorker(r.worker)));
  await waitFor('every host finished a stage and h2 starts a gpu stage', async () => {
    const done = await hostsDone();
    if (!['h1', 'h2', 'h3'].every((h) => done.has(h))) return undefined;
    const rows = await q(`SELECT key FROM stages WHERE key = ANY($1) AND status = 'running' AND worker LIKE 'h2:%:gpu' AND started_at > now() - interval '400 milliseconds'`, [keys]);
    return rows.length > 0;
  }, 240_000, 50);
  lab.cut(h2);
  const cutAt = new Date();
  // What h2 was running when it was cut off: its rows still `running` a moment later (h2 can no longer write).
  await new Promise((r) => setTimeout(r, 1500));
  const runningOnH2 = await q(`SELECT key, kind FROM stages WHERE key = ANY($1) AND status = 'running' AND worker LIKE 'h2:%'`, [keys]);
  const doneBeforeCut = await q(`SELECT split_part(worker, ':', 1) AS host, count(*)::int AS n FROM stages WHERE key = ANY($1) AND status = 'done' AND finished_at <= $2 GROUP BY 1 ORDER BY 1`, [keys, cutAt]);
  log(`cut h2 off after ${((cutAt.getTime() - tSweep) / 1000).toFixed(1)} s of sweep; stages running there: ${runningOnH2.map((r) => r.kind).join(', ')}; ` +
    `done before the cut: ${doneBeforeCut.map((r) => `${r.host}=${r.n}`).join(' ')}`);
  assert.ok(runningOnH2.some((r) => r.key), 'h2 was running a stage when it was cut off');

  const r = await handle.result();
  const sweepSeconds = (Date.now() - tSweep) / 1000;
  assert.equal(r.status, 'completed', JSON.stringify(r.errors));
  assert.equal(r.trials.done, plan.trials.length);
  assert.equal((r.byStatus.ran ?? 0) + (r.byStatus.cached ?? 0), plan.stages.length);

  // More than one host ran stages, and nothing finished on h2 after it was cut off.
  const perHost = await q(`SELECT split_part(worker, ':', 1) AS host, count(*)::int AS n FROM stages WHERE key = ANY($1) AND status = 'done' GROUP BY 1 ORDER BY 1`, [keys]);
  const by = Object.fromEntries(perHost.map((x) => [x.host, x.n]));
  assert.equal(perHost.reduce((a, x) => a + x.n, 0), plan.stages.length, `every stage done: ${JSON.stringify(by)}`);
  assert.ok(perHost.filter((x) => x.n > 0).length >= 2, `stages ran on more than one host: ${JSON.stringify(by)}`);
  assert.deepEqual(await q(`SELECT key FROM stages WHERE key = ANY($1) AND worker LIKE 'h2:%' AND finished_at > $2`, [keys, cutAt]), []);

  // The stages h2 was running when it was cut off were retried and finished on another host.
  const moved = await q(`SELECT key, kind, worker, attempts FROM stages WHERE key = ANY($1)`, [runningOnH2.map((x) => x.key)]);
  const retriedElsewhere = moved.filter((x) => hostOfWorker(x.worker) !== 'h2' && x.attempts >= 2);
  assert.ok(retriedElsewhere.length >= 1, `a stage running on h2 at the cut was retried on another host: ${JSON.stringify(moved)}`);
  const retries = await q(`SELECT kind, worker, attempts FROM stages WHERE key = ANY($1) AND attempts > 1`, [keys]);

  // Every trial exactly once, completed, with its metrics once each.
  const trials = await q(`SELECT id, status FROM trials WHERE sweep_id = $1`, [id]);
  assert.equal(trials.length, plan.trials.length);
  assert.deepEqual(new Set(trials.map((t) => t.id)), new Set(plan.trials.map((t) => trialRowId(id, t.id))));
  assert.ok(trials.every((t) => t.status === 'completed'));
  const dupMetrics = await q(`SELECT trial_id FROM metrics WHERE trial_id = ANY($1) GROUP BY trial_id, split, name HAVING count(*) > 1`, [trials.map((t) => t.id)]);
  assert.deepEqual(dupMetrics, []);

  // Every artifact is there and its bytes match the recorded sha256 (a full read, verified).
  const arts = new Map((await q(`SELECT key, sha256, bytes FROM artifacts WHERE key = ANY($1)`, [keys])).map((a) => [a.key, a]));
  for (const s of plan.stages) {
    const a = arts.get(s.key);
    assert.ok(a, `artifact row of ${s.kind} ${s.key}`);
    const bytes = await store.get(artifactKey(s), a.sha256);
    assert.equal(bytes.byteLength, a.bytes, artifactKey(s));
  }

  log(`figures: ${plan.stages.length} stages, ${plan.trials.length} trials; stages per host ${JSON.stringify(by)}; ` +
    `running on h2 at the cut ${runningOnH2.length}, of which retried elsewhere ${retriedElsewhere.length} (${retriedElsewhere.map((x) => `${x.kind}→${hostOfWorker(x.worker)} attempt ${x.attempts}`).join(', ')}); ` +
    `stages with >1 attempt ${retries.length}; sweep wall ${sweepSeconds.toFixed(1)} s; test wall ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // Cleanup leaves nothing behind.
  await connection.close();
  connection = undefined;
  await db.close();
  db = undefined;
  const l = lab;
  lab = undefined;
  await l.cleanupAndWait();
  assert.deepEqual(l.leftovers(), []);
});
