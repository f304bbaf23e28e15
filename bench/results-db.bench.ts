// `npm run bench -- results-db`: leaderboard query latency (median, p95) at 10k, 100k and 1M metric rows on
// PostgreSQL (DATABASE_URL; a scratch database is created on its server and dropped afterwards), with the
// EXPLAIN ANALYZE plan of each query, and the cost of writes (client and server time). Goals: leaderboard p95 < 20 ms
// at 10M metric rows, a new trial's write < 10 ms median at 1M.
// Env: RESULTS_BENCH_SIZES (default "10000,100000,1000000"), RESULTS_BENCH_RUNS (default 30), RESULTS_BENCH_WRITE_RUNS
// (default 40; the oracle change at most 20).
// Prints JSON to stdout and writes bench/results/results-db-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { createScratchDatabase } from '../infra/stack.js';
import { openDb, redactDatabaseUrl } from '../db/client.js';
import { leaderboard, type LeaderboardFilter } from '../db/leaderboard.js';
import * as record from '../db/record.js';
import { recordMetrics, recordTrial, type MetricRecord, type TrialRecord } from '../db/record.js';
import { intVar, listVar } from '../config/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.DATABASE_URL;
if (!base) {
  console.error('results-db bench: DATABASE_URL is not set (a PostgreSQL server where the role may create databases)');
  process.exit(2);
}
const sizes = listVar(process.env, 'RESULTS_BENCH_SIZES', ['10000', '100000', '1000000']).map(Number);
const RUNS = intVar(process.env, 'RESULTS_BENCH_RUNS', 30);
const RUNS_WRITE = intVar(process.env, 'RESULTS_BENCH_WRITE_RUNS', 40);
const loadAtStart = os.loadavg();
const METRICS_PER_TRIAL = 7; // accuracy ×3 splits, loss ×3 splits, forget MIA efficacy
const CONFIGS = 48; // per (dataset, forget kind): 1 oracle + 47 method configurations (algorithm × localization × α × lr)

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Seeds `trials` trials with 7 metrics each, set-based in SQL, with the leaderboard triggers off (one rebuild at
 * the end, what `results_rebuild_leaderboard()` is for). Layout: sweep × dataset(2) × kind(3) × config(48) ×
 * seed(5); one setting key per (dataset, kind) shared by every sweep, one method key per config: the all-sweeps
 * rows combine every sweep's rows, the worst case for the maintained aggregate.
 */
async function seed(client: pg.Client, trials: number): Promise<void> {
  await client.query(`
    INSERT INTO sweeps (id, name, config, status)
    SELECT 'bench-sweep-' || s, 'bench ' || s, '{}'::jsonb, 'completed'
      FROM generate_series(0, ($1::int - 1) / (2 * 3 * ${CONFIGS} * 5)) s`, [trials]);
  await client.query(`
    INSERT INTO settings (key, spec, summary)
    SELECT 'setting-' || ds || '-' || k, jsonb_build_object('dataset', (ARRAY['cifar10', 'svhn'])[ds + 1], 'forget', (ARRAY['iid', 'classes', 'memo'])[k + 1]),
           (ARRAY['cifar10', 'svhn'])[ds + 1] || ' | resnet18 | forget ' || (ARRAY['iid', 'classes', 'memo'])[k + 1] || ' 10%'
      FROM generate_series(0, 1) ds, generate_series(0, 2) k`);
  await client.query('ALTER TABLE trials DISABLE TRIGGER USER');
  await client.query('ALTER TABLE metrics DISABLE TRIGGER USER');
  await client.query(`
    INSERT INTO trials (id, sweep_id, role, algorithm, label, setting_key, method_key, dataset, model, recipe_key, forget_set_key,
                        forget_kind, forget_fraction, localization, alpha, hparams, seed, stage_keys, status, wall_seconds, epochs,
                        params_changed_fraction, forget_acc, retain_acc, test_acc, mia_efficacy)
    SELECT 'bench-' || i, 'bench-sweep-' || sw, CASE WHEN c = 0 THEN 'oracle' ELSE 'method' END, alg, alg,
           'setting-' || ds || '-' || k, 'method-' || c, (ARRAY['cifar10', 'svhn'])[ds + 1], 'resnet18', 'recipe-' || ds,
           'fs-' || sw || '-' || ds || '-' || k || '-' || sd, (ARRAY['iid', 'classes', 'memo'])[k + 1], 0.1,
           CASE WHEN c = 0 OR c % 2 = 0 THEN NULL ELSE (ARRAY['wg-channel', 'salloc', 'magnitude'])[c % 3 + 1] END,
           CASE WHEN c = 0 OR c % 2 = 0 THEN NULL ELSE (ARRAY[0.1, 0.3, 0.5])[(c / 3) % 3 + 1] END,
           CASE WHEN c = 0 THEN '{}'::jsonb ELSE jsonb_build_object('lr', (ARRAY[0.001, 0.01, 0.1])[(c / 8) % 3 + 1], 'epochs', 5) END,
           sd, jsonb_build_object('unlearn', 'stage-' || i), 'completed',
           CASE WHEN c = 0 THEN 100 + 10 * random() ELSE 5 + 30 * random() END, CASE WHEN c = 0 THEN 30 ELSE 5 END,
           CASE WHEN c = 0 THEN 1 ELSE random() END,
           0.5 + 0.5 * random(), 0.5 + 0.5 * random(), 0.5 + 0.5 * random(), 0.5 + 0.5 * random()
      FROM (SELECT i, i % 5 AS sd, (i / 5) % ${CONFIGS} AS c, (i / (5 * ${CONFIGS})) % 3 AS k,
                   (i / (15 * ${CONFIGS})) % 2 AS ds, i / (30 * ${CONFIGS}) AS sw,
                   CASE WHEN (i / 5) % ${CONFIGS} = 0 THEN 'retrain'
                        ELSE (ARRAY['del', 'finetune', 'neggrad', 'l1sparse', 'randlabel', 'salun', 'ssd', 'scrub'])[((i / 5) % ${CONFIGS}) % 8 + 1] END AS alg
              FROM generate_series(0, $1::int - 1) i) g`, [trials]);
  await client.query(`
    INSERT INTO methods (key, spec, summary)
    SELECT DISTINCT ON (method_key) method_key, jsonb_build_object('algorithm', algorithm, 'hparams', hparams), label || ' ' || hparams::text
      FROM trials ORDER BY method_key`);
  // the headline columns were written with the trials; the metric rows carry the same values
  await client.query(`
    INSERT INTO metrics (trial_id, split, name, value)
    SELECT t.id, m.split, m.name,
           CASE m.split || '.' || m.name WHEN 'forget.accuracy' THEN t.forget_acc WHEN 'retain.accuracy' THEN t.retain_acc
                WHEN 'test.accuracy' THEN t.test_acc WHEN 'forget.mia_efficacy' THEN t.mia_efficacy ELSE 3 * random() END
      FROM trials t CROSS JOIN (VALUES ('forget', 'accuracy'), ('retain', 'accuracy'), ('test', 'accuracy'),
                                       ('forget', 'mia_efficacy'), ('forget', 'loss'), ('retain', 'loss'), ('test', 'loss')) m(split, name)`);
  await client.query('ALTER TABLE trials ENABLE TRIGGER USER');
  await client.query('ALTER TABLE metrics ENABLE TRIGGER USER');
  await client.query('VACUUM ANALYZE trials');
  await client.query('VACUUM ANALYZE metrics');
  await client.query('SELECT results_rebuild_leaderboard()');
  await client.query('VACUUM ANALYZE leaderboard_agg');
}

/** The statement leaderboard() runs (db/leaderboard.ts), for EXPLAIN. */
const RANKED_SQL = `SELECT CASE WHEN l.role <> 'method' THEN NULL ELSE rank() OVER (PARTITION BY l.setting_key, l.role ORDER BY gap_mean NULLS LAST, label) END AS rank, l.*
  FROM leaderboard_for($1, $2, $3) l
 ORDER BY l.dataset, l.model, l.forget_kind, l.forget_fraction, l.setting_summary, l.setting_key, l.role = 'oracle', l.role = 'original', rank NULLS LAST, l.label, l.method_key`;

interface WriteResult { name: string; runs: number; median_ms: number; p95_ms: number; server_median_ms: number | null; server_p95_ms: number | null }
interface QueryResult { name: string; filter: LeaderboardFilter; rows: number; runs: number; median_ms: number; p95_ms: number; min_ms: number; max_ms: number; server_median_ms: number; server_p95_ms: number; plan: string }

const started = new Date();
const report = {
  bench: 'results-db',
  started_at: started.toISOString(),
  machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), loadavg_at_start: loadAtStart },
  note: 'shared machine: other engineers run CPU-heavy jobs on the same cores; see loadavg_at_start',
  backend: 'postgresql',
  database: redactDatabaseUrl(base),
  server_version: '',
  runs_per_query: RUNS,
  sizes: [] as { metric_rows: number; trials: number; seed_seconds: number; queries: QueryResult[]; writes: WriteResult[] }[],
};

for (const size of sizes) {
  // a fresh, migrated database per size (infra/stack.ts, as npm test gets one), dropped at the end
  const scratch = await createScratchDatabase(base, 'unlearn_results_bench');
  const url = scratch.url;
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    report.server_version = (await client.query('SHOW server_version')).rows[0].server_version as string;
    const trials = Math.round(size / METRICS_PER_TRIAL);
    const t0 = performance.now();
    await seed(client, trials);
    const seedSeconds = (performance.now() - t0) / 1000;
    const metricRows = Number((await client.query('SELECT count(*) AS n FROM metrics')).rows[0].n);
    console.error(`[results-db] ${metricRows} metric rows (${trials} trials) seeded in ${seedSeconds.toFixed(1)} s`);
    const h = openDb(url);
    const queries: QueryResult[] = [];
    const cases: [string, LeaderboardFilter][] = [
      ['all sweeps (unfiltered)', {}],
      ['one sweep', { sweep: 'bench-sweep-0' }],
      ['dataset + forget kind', { dataset: 'cifar10', forgetKind: 'classes' }],
    ];
    for (const [label, filter] of cases) {
      for (let i = 0; i < 3; i++) await leaderboard(h.db, filter); // warm-up
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        const s = performance.now();
        rows = (await leaderboard(h.db, filter)).length;
        times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      const plan = (await client.query(
        `EXPLAIN (ANALYZE, BUFFERS) ${RANKED_SQL}`,
        [filter.sweep ?? null, filter.dataset ?? null, filter.forgetKind ?? null])).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      // Server-side time (planning + execution, from EXPLAIN ANALYZE without per-node timing): what the database
      // itself spends, apart from the client and from CPU contention with other processes on this shared machine.
      const server: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const j = (await client.query(
          `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${RANKED_SQL}`,
          [filter.sweep ?? null, filter.dataset ?? null, filter.forgetKind ?? null])).rows[0]['QUERY PLAN'][0] as { 'Planning Time': number; 'Execution Time': number };
        server.push(j['Planning Time'] + j['Execution Time']);
      }
      server.sort((a, b) => a - b);
      const q: QueryResult = {
        name: label, filter, rows, runs: RUNS,
        median_ms: +quantile(times, 0.5).toFixed(2), p95_ms: +quantile(times, 0.95).toFixed(2),
        min_ms: +times[0].toFixed(2), max_ms: +times[times.length - 1].toFixed(2),
        server_median_ms: +quantile(server, 0.5).toFixed(3), server_p95_ms: +quantile(server, 0.95).toFixed(3), plan,
      };
      queries.push(q);
      console.error(`[results-db] ${metricRows} rows, ${label}: ${rows} leaderboard rows, median ${q.median_ms} ms, p95 ${q.p95_ms} ms (server: median ${q.server_median_ms} ms, p95 ${q.server_p95_ms} ms)`);
    }
    // Write cost with the triggers that keep the aggregate fresh: a new trial (recordTrial + 7 metrics), and a
    // changed oracle metric (re-aggregates every configuration paired with that oracle, in its sweep and overall).
    const writes: WriteResult[] = [];
    // Server time of a write: planning + execution of its statements, triggers included, from pg_stat_statements
    // (reset before each write, read after it); null when the server does not load the extension.
    const pgss = await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(() => client.query('SELECT 1 FROM pg_stat_statements LIMIT 1')).then(() => true, () => false);
    const serverMs = async (): Promise<number | null> => {
      if (!pgss) return null;
      const r = await client.query(`SELECT coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS ms FROM pg_stat_statements
                                     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND userid = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                                       AND query NOT ILIKE '%pg_stat_statements%'`);
      return Number(r.rows[0].ms);
    };
    const timeIt = async (label: string, n: number, fn: (i: number) => Promise<void>) => {
      const times: number[] = [];
      const server: number[] = [];
      for (let i = 0; i < n; i++) {
        if (pgss) await client.query('SELECT pg_stat_statements_reset()');
        const s0 = performance.now();
        await fn(i);
        times.push(performance.now() - s0);
        const ms = await serverMs();
        if (ms !== null) server.push(ms);
      }
      times.sort((a, b) => a - b);
      server.sort((a, b) => a - b);
      const w: WriteResult = {
        name: label, runs: n, median_ms: +quantile(times, 0.5).toFixed(2), p95_ms: +quantile(times, 0.95).toFixed(2),
        server_median_ms: server.length ? +quantile(server, 0.5).toFixed(3) : null, server_p95_ms: server.length ? +quantile(server, 0.95).toFixed(3) : null,
      };
      writes.push(w);
      console.error(`[results-db] ${metricRows} rows, write ${label}: median ${w.median_ms} ms, p95 ${w.p95_ms} ms (server: median ${w.server_median_ms} ms, p95 ${w.server_p95_ms} ms)`);
    };
    // the floor under every client time on this machine: a trivial statement through the same pool
    await timeIt('floor: SELECT 1 (no write)', RUNS_WRITE, async () => { await h.db.execute(sql`SELECT 1`); });
    // ... and under every durable write: one row into a table without triggers or indexes, committed (WAL flush)
    await client.query('CREATE TABLE bench_floor (i integer)');
    await timeIt('floor: one-row insert + commit (no trigger)', RUNS_WRITE, async (i) => { await h.db.execute(sql`INSERT INTO bench_floor VALUES (${i})`); });
    const tmpl = (await client.query(`SELECT * FROM trials WHERE id = 'bench-5'`)).rows[0];
    const newTrial = (id: string, seed: number): TrialRecord => ({
      id, sweepId: tmpl.sweep_id, role: tmpl.role, algorithm: tmpl.algorithm, label: tmpl.label, settingKey: tmpl.setting_key,
      methodKey: tmpl.method_key, dataset: tmpl.dataset, model: tmpl.model, recipeKey: tmpl.recipe_key, forgetSetKey: tmpl.forget_set_key,
      forgetKind: tmpl.forget_kind, forgetFraction: tmpl.forget_fraction, localization: tmpl.localization,
      alpha: tmpl.alpha, hparams: tmpl.hparams, seed, stageKeys: {}, status: 'completed',
      wallSeconds: 10, epochs: 5, paramsChangedFraction: 0.3,
      provenance: { code: { package: '0.1.0', commit: null }, backend: 'wasm', device: 'cpu', workerHost: os.hostname() },
    });
    const newMetrics = (): MetricRecord[] => [['forget', 'accuracy'], ['retain', 'accuracy'], ['test', 'accuracy'], ['forget', 'mia_efficacy'], ['forget', 'loss'], ['retain', 'loss'], ['test', 'loss']]
      .map(([split, name]) => ({ split, name, value: Math.random() }));
    // what the record stage does (activities/stages.ts): one call, one statement, one leaderboard refresh
    const oneCall = (record as Record<string, unknown>).recordTrialWithMetrics as ((db: unknown, t: TrialRecord, m: MetricRecord[]) => Promise<void>) | undefined;
    if (oneCall) {
      await timeIt('new trial: recordTrialWithMetrics(7)', RUNS_WRITE, async (i) => {
        await oneCall(h.db, newTrial(`bench-one-${i}`, 1000 + i), newMetrics());
      });
    }
    await timeIt('new trial: recordTrial + recordMetrics(7)', RUNS_WRITE, async (i) => {
      const id = `bench-new-${i}`;
      await recordTrial(h.db, newTrial(id, 100 + i));
      await recordMetrics(h.db, id, newMetrics());
    });
    await timeIt('method metric changed: recordMetrics(1)', RUNS_WRITE, async () => {
      await recordMetrics(h.db, 'bench-5', [{ split: 'test', name: 'accuracy', value: Math.random() }]);
    });
    await timeIt('oracle metric changed: recordMetrics(1) on an oracle', Math.min(RUNS_WRITE, 20), async () => {
      await recordMetrics(h.db, 'bench-0', [{ split: 'forget', name: 'accuracy', value: Math.random() }]);
    });
    await h.close();
    await client.end();
    report.sizes.push({ metric_rows: metricRows, trials, seed_seconds: +seedSeconds.toFixed(1), queries, writes });
  } finally {
    await scratch.drop();
  }
}

const out = JSON.stringify(report, null, 2);
mkdirSync(path.join(here, 'results'), { recursive: true });
const file = path.join(here, 'results', `results-db-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, out + '\n');
console.log(out);
console.error(`[results-db] wrote ${file}`);
