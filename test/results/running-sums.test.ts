// The all-sweeps leaderboard rows kept by running sums (db/migrations/0007_leaderboard_running_sums.sql) against
// the direct computation after a random sequence of writes, and the one-statement trial write
// (recordTrialWithMetrics) against recordTrial + recordMetrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { dropDatabase, freshDatabase, rng, seedSweep, type FreshDb } from './helpers.js';
import { listMigrations, MIGRATIONS_DIR, migrate } from '../../db/migrate.js';
import { openDb } from '../../db/client.js';
import { recordMetrics, recordSweep, recordTrial, recordTrialWithMetrics, type MetricRecord, type ResultsDb, type TrialRecord } from '../../db/record.js';

let f: FreshDb;
before(async () => { f = await freshDatabase('sums'); });
after(async () => { await f?.drop(); });

function close(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected !== 'number') { assert.deepEqual(actual, expected, what); return; }
  assert.equal(typeof actual, 'number', `${what}: expected ${expected}, got ${String(actual)}`);
  const a = actual as number;
  assert.ok(Math.abs(a - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${a} != ${expected}`);
}

/** leaderboard_for (maintained) equals leaderboard_live_for (computed from the trials) for several filters. */
async function compareWithLive(what: string, sweeps: string[], pool: pg.Pool = f.handle.pool): Promise<number> {
  let rows = 0;
  for (const [sw, ds, fk] of [[null, null, null], [sweeps[0], null, null], [sweeps[2], null, null], [null, 'synth', 'iid']] as const) {
    const q = (fn: string) => pool.query(`SELECT * FROM ${fn}($1, $2, $3) ORDER BY setting_key, method_key`, [sw, ds, fk]);
    const [agg, live] = [(await q('leaderboard_for')).rows, (await q('leaderboard_live_for')).rows];
    assert.equal(agg.length, live.length, `${what}: row count (${sw}, ${ds}, ${fk})`);
    agg.forEach((a, i) => {
      for (const [k, v] of Object.entries(live[i])) close(a[k], v, `${what}: (${sw}, ${ds}, ${fk}) ${String(live[i].setting_key)}|${String(live[i].method_key)} ${k}`);
    });
    rows += agg.length;
  }
  // every column of the all-sweeps rows, seeds included, against the float8 re-combination of the per-sweep rows
  const star = (await pool.query(`SELECT * FROM leaderboard_agg WHERE sweep_id = '*' ORDER BY group_key`)).rows;
  const comb = (await pool.query(`SELECT * FROM leaderboard_combine(ARRAY(SELECT DISTINCT group_key FROM leaderboard_agg WHERE sweep_id <> '*')) ORDER BY group_key`)).rows;
  assert.equal(star.length, comb.length, `${what}: all-sweeps rows`);
  star.forEach((s, i) => { for (const [k, v] of Object.entries(comb[i])) close(s[k], v, `${what}: '*' ${String(s.group_key)} ${k}`); });
  return rows;
}

/** The maintained sums and seed counts equal, exactly (numeric), the ones computed afresh from the per-sweep rows. */
async function sumsExact(what: string, pool: pg.Pool = f.handle.pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('CREATE TEMP TABLE sums_before ON COMMIT DROP AS SELECT * FROM leaderboard_sums');
    await c.query('CREATE TEMP TABLE seeds_before ON COMMIT DROP AS SELECT * FROM leaderboard_seed_counts');
    await c.query('SELECT results_sums_rebuild(NULL)');
    for (const [a, b] of [['sums_before', 'leaderboard_sums'], ['leaderboard_sums', 'sums_before'], ['seeds_before', 'leaderboard_seed_counts'], ['leaderboard_seed_counts', 'seeds_before']]) {
      const { rows } = await c.query(`SELECT * FROM ${a} EXCEPT SELECT * FROM ${b}`);
      assert.deepEqual(rows, [], `${what}: rows of ${a} not in ${b}`);
    }
    const n = (await c.query('SELECT count(*)::int AS n FROM sums_before')).rows[0].n as number;
    assert.ok(n > 0, `${what}: no sums kept`);
  } finally {
    await c.query('ROLLBACK').catch(() => {});
    c.release();
  }
}

const SPLITS: [string, string][] = [['forget', 'accuracy'], ['retain', 'accuracy'], ['test', 'accuracy'], ['forget', 'mia_efficacy'], ['forget', 'loss']];

void describe('running sums', () => {
  void test('the delta-maintained aggregate equals the direct computation after random inserts, updates and deletes', async () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const sweeps = ['rs-a', 'rs-b', 'rs-c', 'rs-d'];
    for (const id of sweeps) await recordSweep(f.db, { id, name: id, config: {}, status: 'running' });
    const methods = [
      { role: 'oracle', algorithm: 'retrain', hparams: {} },
      { role: 'method', algorithm: 'finetune', hparams: { lr: 0.01 } },
      { role: 'method', algorithm: 'neggrad', hparams: { lr: 0.1 } },
      // wall seconds 1000 ± 0.001: mean² / variance ~ 1e12, where float8 running sums would lose every digit
      { role: 'method', algorithm: 'steady', hparams: {} },
    ] as const;
    const kinds = ['iid', 'classes'];
    const live = new Map<string, TrialRecord>();
    const trialOf = (sweepId: string, kind: string, m: (typeof methods)[number], seed: number): TrialRecord => ({
      id: `${sweepId}/${kind}/${m.algorithm}/s${seed}`, sweepId, role: m.role, algorithm: m.algorithm,
      // labels differ between sweeps for one method key: the all-sweeps row shows the least
      label: `${m.algorithm}-${pick(['x', 'y', 'z'])}`,
      settingKey: `setting-synth-${kind}`, methodKey: `${m.role}:${m.algorithm}:${JSON.stringify(m.hparams)}`,
      dataset: 'synth', model: 'mlp', recipeKey: 'recipe', forgetSetKey: `fs-${kind}-${seed}`, forgetKind: kind,
      forgetFraction: pick([0.1, 0.1, 0.12]), localization: null, alpha: null, hparams: m.hparams, seed,
      stageKeys: {}, status: r() < 0.85 ? 'completed' : pick(['failed', 'running'] as const),
      wallSeconds: m.algorithm === 'steady' ? 1000 + 0.001 * r() : m.role === 'oracle' ? 100 + 20 * r() : 5 + 30 * r(),
      epochs: m.role === 'oracle' ? 30 : pick([3, 5]), paramsChangedFraction: r(),
    });
    const metricsOf = (): MetricRecord[] => SPLITS.filter(() => r() < 0.95).map(([split, name]) => ({ split, name, value: name === 'loss' ? 3 * r() : 0.5 + 0.5 * r() }));
    const counts: Record<string, number> = {};
    let compared = 0;
    for (let step = 1; step <= 240; step++) {
      const x = r();
      const existing = [...live.values()];
      let op: string;
      if (x < 0.45 || existing.length < 8) {
        op = 'insert';
        const t = trialOf(pick(sweeps), pick(kinds), pick(methods), Math.floor(r() * 4));
        await recordTrialWithMetrics(f.db, t, metricsOf());
        live.set(t.id, t);
      } else if (x < 0.6) {
        op = 'oracle metric changed';
        const oracles = existing.filter((t) => t.role === 'oracle');
        if (oracles.length === 0) continue;
        await recordMetrics(f.db, pick(oracles).id, [{ split: pick(['forget', 'test']), name: 'accuracy', value: r() }]);
      } else if (x < 0.7) {
        op = 'method metric changed';
        await recordMetrics(f.db, pick(existing).id, [{ split: pick(['retain', 'test']), name: 'accuracy', value: r() }, { split: 'forget', name: 'mia_efficacy', value: r() }]);
      } else if (x < 0.82) {
        op = 'trial re-recorded';
        const old = pick(existing);
        const m = methods.find((mm) => mm.algorithm === old.algorithm)!;
        const t = { ...trialOf(old.sweepId, old.forgetKind, m, old.seed), id: old.id };
        if (r() < 0.5) await recordTrialWithMetrics(f.db, t, metricsOf());
        else await recordTrial(f.db, t);
        live.set(t.id, t);
      } else if (x < 0.95) {
        op = 'trial deleted';
        const t = pick(existing);
        await f.handle.pool.query('DELETE FROM trials WHERE id = $1', [t.id]);
        live.delete(t.id);
      } else {
        op = 'sweep and setting deleted (one statement)';
        const sw = pick(sweeps), kind = pick(kinds);
        await f.handle.pool.query('DELETE FROM trials WHERE sweep_id = $1 AND forget_kind = $2', [sw, kind]);
        for (const t of existing) if (t.sweepId === sw && t.forgetKind === kind) live.delete(t.id);
      }
      counts[op] = (counts[op] ?? 0) + 1;
      if (step % 20 === 0) {
        compared += await compareWithLive(`step ${step} (${op})`, sweeps);
        await sumsExact(`step ${step}`);
      }
    }
    // every kind of write happened, and the comparisons covered rows
    for (const op of ['insert', 'oracle metric changed', 'method metric changed', 'trial re-recorded', 'trial deleted', 'sweep and setting deleted (one statement)']) {
      assert.ok((counts[op] ?? 0) > 0, `no "${op}" in the sequence: ${JSON.stringify(counts)}`);
    }
    assert.ok(compared > 100, `compared only ${compared} rows`);
    // the steady method's all-sweeps interval is computed, not lost to cancellation
    const steady = (await f.handle.pool.query(`SELECT wall_seconds_n AS n, wall_seconds_ci AS ci FROM leaderboard_agg WHERE sweep_id = '*' AND method_key LIKE '%steady%' AND wall_seconds_n > 2`)).rows;
    assert.ok(steady.length > 0 && steady.every((s) => s.ci > 0 && s.ci < 0.01), `steady rows: ${JSON.stringify(steady)}`);
    // deleting everything leaves no all-sweeps row, sum or seed count behind
    await f.handle.pool.query(`DELETE FROM trials WHERE sweep_id LIKE 'rs-%'`);
    const left = (await f.handle.pool.query(`SELECT (SELECT count(*) FROM leaderboard_agg)::int AS agg, (SELECT count(*) FROM leaderboard_sums)::int AS sums, (SELECT count(*) FROM leaderboard_seed_counts)::int AS seeds`)).rows[0];
    assert.deepEqual(left, { agg: 0, sums: 0, seeds: 0 });
  });

  void test('recordTrialWithMetrics writes what recordTrial + recordMetrics write, with one leaderboard refresh', async () => {
    await recordSweep(f.db, { id: 'one', name: 'one', config: {}, status: 'running' });
    const base: TrialRecord = {
      id: 'one/a', sweepId: 'one', role: 'method', algorithm: 'finetune', label: 'finetune', settingKey: 's', methodKey: 'm',
      dataset: 'synth', model: 'mlp', recipeKey: 'recipe', forgetSetKey: 'fs', forgetKind: 'iid', forgetFraction: 0.1,
      localization: null, alpha: null, hparams: { lr: 0.1 }, seed: 0, stageKeys: { unlearn: 'u' }, status: 'completed',
      wallSeconds: 3, epochs: 2, paramsChangedFraction: 1, provenance: { code: { package: '0.1.0', commit: 'abc' }, backend: 'wasm', device: 'cpu' },
    };
    const ms: MetricRecord[] = [
      { split: 'forget', name: 'accuracy', value: 0.7 }, { split: 'retain', name: 'accuracy', value: 0.9 },
      { split: 'test', name: 'accuracy', value: 0.85 }, { split: 'forget', name: 'mia_efficacy', value: 0.4 }, { split: 'test', name: 'loss', value: 0.5 },
    ];
    // this transaction's writes: each leaderboard refresh writes its group's sums row once (insert or update)
    // (differences within one transaction: PostgreSQL 15's xact counters also hold counts not yet flushed)
    const counters = async (tx: ResultsDb) => {
      const res = await tx.execute(sql`SELECT (pg_stat_get_xact_tuples_inserted('leaderboard_sums'::regclass) + pg_stat_get_xact_tuples_updated('leaderboard_sums'::regclass))::int AS refreshes,
                                              pg_stat_get_xact_tuples_updated('trials'::regclass)::int AS trials_updated`);
      return (res as unknown as { rows: { refreshes: number; trials_updated: number }[] }).rows[0];
    };
    const writes = async (fn: (db: ResultsDb) => Promise<void>) => f.db.transaction(async (tx) => {
      const t0 = await counters(tx as unknown as ResultsDb);
      await fn(tx as unknown as ResultsDb);
      const t1 = await counters(tx as unknown as ResultsDb);
      return { refreshes: t1.refreshes - t0.refreshes, trials_updated: t1.trials_updated - t0.trials_updated };
    });
    const two = await writes(async (db) => { await recordTrial(db, { ...base, id: 'one/b' }); await recordMetrics(db, 'one/b', ms); });
    const one = await writes((db) => recordTrialWithMetrics(db, base, ms));
    assert.deepEqual(two, { refreshes: 2, trials_updated: 1 }, 'recordTrial + recordMetrics: the metrics rewrite the trial row and refresh again');
    assert.deepEqual(one, { refreshes: 1, trials_updated: 0 }, 'recordTrialWithMetrics: one statement, one refresh');
    const row = async (id: string) => (await f.handle.pool.query(`SELECT role, algorithm, label, setting_key, method_key, hparams, status, wall_seconds, provenance, code_version, backend,
        forget_acc, retain_acc, test_acc, mia_efficacy, (SELECT json_object_agg(split || '.' || name, value) FROM metrics WHERE trial_id = $1) AS metrics FROM trials WHERE id = $1`, [id])).rows[0];
    assert.deepEqual(await row('one/a'), await row('one/b'));
    assert.equal((await row('one/a')).forget_acc, 0.7);
    // re-recorded with only some metrics: the others and their headline columns stay
    await recordTrialWithMetrics(f.db, { ...base, label: 'ft' }, [{ split: 'test', name: 'accuracy', value: 0.8 }]);
    const again = await row('one/a');
    assert.equal(again.label, 'ft');
    assert.deepEqual([again.forget_acc, again.retain_acc, again.test_acc, again.mia_efficacy], [0.7, 0.9, 0.8, 0.4]);
    assert.equal(again.metrics['test.loss'], 0.5);
    // without metrics it is recordTrial; a trial that is not valid is refused before anything is written
    await recordTrialWithMetrics(f.db, { ...base, id: 'one/c' }, []);
    assert.equal((await row('one/c')).forget_acc, null);
    await assert.rejects(recordTrialWithMetrics(f.db, { ...base, id: 'one/d', forgetFraction: 2 }, ms), /recordTrialWithMetrics\("one\/d"\): invalid input: forgetFraction/);
    await assert.rejects(recordTrialWithMetrics(f.db, { ...base, id: 'one/d' }, [ms[0], ms[0]]), /recordTrialWithMetrics\("one\/d"\): metric \(forget, accuracy\) given twice/);
    assert.equal((await f.handle.pool.query(`SELECT count(*)::int AS n FROM trials WHERE id = 'one/d'`)).rows[0].n, 0);
    // the leaderboard rows of the sweep equal the direct computation
    await compareWithLive('after recordTrialWithMetrics', ['one', 'one', 'one']);
  });
  void test('a database at 0006 migrates to 0007 with every row kept and its leaderboard equal to the direct computation', async () => {
    const base = process.env.DATABASE_URL!;
    const name = `unlearn_results_sums_migrate_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    const url = u.toString();
    const h = openDb(url);
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'unlearn-migrations-'));
      for (const m of listMigrations().filter((x) => x.name < '0007')) copyFileSync(path.join(MIGRATIONS_DIR, m.name), path.join(dir, m.name));
      const first = await migrate(url, { dir });
      assert.ok(first.applied.includes('0006_leaderboard_refresh_plans.sql') && !first.applied.some((x) => x.startsWith('0007')));
      // three sweeps of the same settings and methods: every all-sweeps row combines three per-sweep rows
      for (const [i, sw] of ['mg-a', 'mg-b', 'mg-c'].entries()) await seedSweep(h.db, sw, { seed: 31 + i });
      const count = async () => (await h.pool.query(`SELECT (SELECT count(*) FROM trials)::int AS trials, (SELECT count(*) FROM metrics)::int AS metrics,
          (SELECT count(*) FROM leaderboard_agg WHERE sweep_id <> '*')::int AS per_sweep, (SELECT count(*) FROM leaderboard_agg WHERE sweep_id = '*')::int AS star`)).rows[0];
      const before = await count();
      const second = await migrate(url);
      assert.deepEqual(second.applied, listMigrations().filter((x) => x.name >= '0007').map((x) => x.name));
      assert.deepEqual(await count(), before, 'no row lost or added');
      assert.ok(before.star > 0 && before.per_sweep === 3 * before.star, JSON.stringify(before));
      await compareWithLive('after migrating', ['mg-a', 'mg-b', 'mg-c'], h.pool);
      await sumsExact('after migrating', h.pool);
      // and it stays equal through writes on the new path
      const t = (await h.pool.query(`SELECT id FROM trials WHERE sweep_id = 'mg-b' AND role = 'oracle' ORDER BY id LIMIT 1`)).rows[0].id as string;
      await recordMetrics(h.db, t, [{ split: 'forget', name: 'accuracy', value: 0.01 }]);
      await h.pool.query(`DELETE FROM trials WHERE sweep_id = 'mg-c' AND seed = 3`);
      await compareWithLive('after writes', ['mg-a', 'mg-b', 'mg-c'], h.pool);
      await sumsExact('after writes', h.pool);
    } finally {
      await h.close();
      await dropDatabase(admin, name);
      await admin.end();
    }
  });
});

void test('an original and its oracle written at the same time still pair (the second writer of a setting waits, then sees the first)', async () => {
  const sweepId = 'race';
  await recordSweep(f.db, { id: sweepId, name: sweepId, config: {}, status: 'running' });
  const trial = (role: 'original' | 'oracle'): TrialRecord => ({
    id: `race/${role}`, sweepId, role, algorithm: role === 'oracle' ? 'retrain' : null, label: role,
    settingKey: 'setting-race', methodKey: role, dataset: 'synth', model: 'mlp', recipeKey: 'recipe', forgetSetKey: 'fs-race-0',
    forgetKind: 'iid', forgetFraction: 0.1, localization: null, alpha: null, hparams: {}, seed: 0, stageKeys: {},
    status: 'completed', wallSeconds: role === 'oracle' ? 100 : 90, epochs: 3, paramsChangedFraction: 1,
  });
  const metricsWith = (forget: number): MetricRecord[] => [
    { split: 'forget', name: 'accuracy', value: forget }, { split: 'retain', name: 'accuracy', value: 0.99 },
    { split: 'test', name: 'accuracy', value: 0.8 }, { split: 'forget', name: 'mia_efficacy', value: 0.5 },
  ];
  const c1 = await f.handle.pool.connect();
  const c2 = await f.handle.pool.connect();
  try {
    // the original's transaction writes first and stays open; the oracle's writes meanwhile from another session
    await c1.query('BEGIN');
    await c2.query('BEGIN');
    await recordTrialWithMetrics(drizzle(c1) as unknown as ResultsDb, trial('original'), metricsWith(1));
    const oracleDone = recordTrialWithMetrics(drizzle(c2) as unknown as ResultsDb, trial('oracle'), metricsWith(0.4)).then(() => c2.query('COMMIT'));
    await new Promise((r) => setTimeout(r, 300));
    await c1.query('COMMIT');
    await oracleDone;
  } finally {
    c1.release();
    c2.release();
  }
  const { rows } = await f.handle.pool.query(`SELECT n_paired, d_forget_mean FROM leaderboard_for($1, NULL, NULL) WHERE role = 'original'`, [sweepId]);
  assert.equal(rows.length, 1);
  assert.equal(Number(rows[0].n_paired), 1, 'the original is paired with the oracle written at the same time');
  close(rows[0].d_forget_mean, 0.4 - 1, 'Δforget of the original');
  await compareWithLive('concurrent original and oracle', [sweepId, sweepId, sweepId]);
});
