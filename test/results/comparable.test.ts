// Comparable settings on a real PostgreSQL: trials recorded from real plans (sweep/plan.ts through the row builder
// db/record.ts trialRecord) share a leaderboard row only when their settings are equal; a sweep cannot change
// another sweep's Δ-to-oracle; an existing database (0001–0003) migrates with no row lost and its leaderboard
// equal to a direct computation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { direct, dropDatabase, freshDatabase, rng, type FreshDb } from './helpers.js';
import { leaderboard, MEASURES, type LeaderboardRow } from '../../db/leaderboard.js';
import { recordMetrics, recordSettings, recordSweep, recordTrial, trialRecord, type TrialRecord } from '../../db/record.js';
import { listMigrations, MIGRATIONS_DIR, migrate } from '../../db/migrate.js';
import { openDb } from '../../db/client.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';

const BASE = `
name: cmp
seeds: [0, 1, 2]
grid:
  datasets: [{ id: mnist, subset: { perClass: 20, testPerClass: 10 } }]
  models: [{ id: cnn, params: { channels: [8], dense: 16 } }]
  recipes: [{ name: r, epochs: 1, batchSize: 32, lr: 0.05 }]
  forgetSets: [{ kind: classes, classes: [2, 5], fraction: 0.1 }]
  algorithms:
    - { name: finetune, hparams: { lr: 0.02, epochs: 1 } }
    - { name: del, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.05, epochs: 1 } }
`;

type Recorded = { trial: TrialRecord; metrics: { forget: number; retain: number; test: number; mia: number } };

/** Records every trial of the sweep file's plan, completed, with seeded metrics. */
async function recordPlan(db: FreshDb['db'], sweepId: string, text: string, seed: number): Promise<Recorded[]> {
  const plan = expandSweep(parseSweepText(text, `${sweepId}.yaml`), sweepId);
  await recordSweep(db, { id: sweepId, name: sweepId, config: {}, status: 'completed' });
  await recordSettings(db, plan.settings, plan.methods);
  const r = rng(seed);
  const out: Recorded[] = [];
  for (const t of plan.trials) {
    const stageKeys = { 'forgetset.select': t.stages.forgetSet, evaluate: t.stages.evaluate };
    const trial = trialRecord(sweepId, t, stageKeys, { status: 'completed', wallSeconds: 10 + 20 * r(), epochs: 2, paramsChangedFraction: r() });
    const metrics = { forget: r(), retain: 0.8 + 0.2 * r(), test: 0.7 + 0.2 * r(), mia: r() };
    await recordTrial(db, trial);
    await recordMetrics(db, trial.id, [
      { split: 'forget', name: 'accuracy', value: metrics.forget }, { split: 'retain', name: 'accuracy', value: metrics.retain },
      { split: 'test', name: 'accuracy', value: metrics.test }, { split: 'forget', name: 'mia_efficacy', value: metrics.mia },
    ]);
    out.push({ trial, metrics });
  }
  return out;
}

let f: FreshDb;
before(async () => { f = await freshDatabase('comparable'); });
after(async () => { await f?.drop(); });

void describe('comparable settings', () => {
  void test('two sweeps that differ only in subset, model width, recipe or forget classes never share a row', async () => {
    await recordPlan(f.db, 'base', BASE, 1);
    const variants: [string, string, string][] = [
      ['subset', 'perClass: 20', 'perClass: 30'],
      ['width', 'channels: [8]', 'channels: [16]'],
      ['recipe', 'epochs: 1, batchSize: 32', 'epochs: 3, batchSize: 32'],
      ['classes', 'classes: [2, 5]', 'classes: [3, 7]'],
    ];
    for (const [what, from, to] of variants) await recordPlan(f.db, `v-${what}`, BASE.replace(from, to), 2);
    // control: the same file under another sweep id is the same setting and does share the rows
    await recordPlan(f.db, 'base-again', BASE, 3);

    const perSweep = new Map<string, LeaderboardRow[]>();
    for (const s of ['base', 'base-again', ...variants.map(([w]) => `v-${w}`)]) {
      const rows = await leaderboard(f.db, { sweep: s });
      assert.equal(rows.length, 4, `${s}: original, oracle, finetune, del`);
      for (const r of rows) assert.equal(r.n_trials, 3, `${s} ${r.label}: its own 3 seeds`);
      perSweep.set(s, rows);
    }
    const all = await leaderboard(f.db);
    const settingsOf = (s: string) => new Set(perSweep.get(s)!.map((r) => r.setting_key));
    for (const [w] of variants) {
      const shared = [...settingsOf(`v-${w}`)].filter((k) => settingsOf('base').has(k));
      assert.deepEqual(shared, [], `${w}: no setting shared with the base sweep`);
    }
    for (const r of all) {
      const fromBase = settingsOf('base').has(r.setting_key);
      assert.equal(r.n_trials, fromBase ? 6 : 3, `across sweeps: ${r.label} ${r.setting_summary}`);
    }
    assert.equal(all.length, 4 * (1 + variants.length), 'one row per (setting, method) across sweeps');
    // the rows say what the setting is
    const classesRow = all.find((r) => r.setting_summary?.includes('classes 3,7'));
    assert.match(classesRow!.setting_summary!, /^mnist 20\/class train, 10\/class test \| cnn channels=\[8\] dense=16 \| r: 1 ep/);
  });

  void test('a sweep cannot change another sweep\'s Δ-to-oracle', async () => {
    await recordPlan(f.db, 'iso-a', BASE, 5);
    const b = await recordPlan(f.db, 'iso-b', BASE, 6);
    const before = await leaderboard(f.db, { sweep: 'iso-a' });
    const gapsBefore = (await f.handle.pool.query(`SELECT trial_id, oracle_trial_id, d_forget FROM trial_gaps WHERE sweep_id = 'iso-a' ORDER BY trial_id`)).rows;
    // sweep b changes its oracle's numbers and records a newer completed oracle of the same setting and seed
    const oracleB = b.find((x) => x.trial.role === 'oracle' && x.trial.seed === 0)!;
    await recordMetrics(f.db, oracleB.trial.id, [{ split: 'forget', name: 'accuracy', value: 0 }]);
    const newer = { ...oracleB.trial, id: `${oracleB.trial.id}-newer` };
    await recordTrial(f.db, newer);
    await recordMetrics(f.db, newer.id, [{ split: 'forget', name: 'accuracy', value: 1 }, { split: 'test', name: 'accuracy', value: 0 }]);
    assert.deepEqual(await leaderboard(f.db, { sweep: 'iso-a' }), before, 'sweep a\'s leaderboard is unchanged');
    const gapsAfter = (await f.handle.pool.query(`SELECT trial_id, oracle_trial_id, d_forget FROM trial_gaps WHERE sweep_id = 'iso-a' ORDER BY trial_id`)).rows;
    assert.deepEqual(gapsAfter, gapsBefore);
    const aOracles = new Set((await f.handle.pool.query(`SELECT id FROM trials WHERE sweep_id = 'iso-a' AND role = 'oracle'`)).rows.map((r) => r.id));
    for (const g of gapsAfter) assert.ok(aOracles.has(g.oracle_trial_id), 'paired with an oracle of its own sweep');
    // sweep b's own Δ did move (the test can fail)
    const bRows = await leaderboard(f.db, { sweep: 'iso-b' });
    const bGaps = (await f.handle.pool.query(`SELECT oracle_trial_id FROM trial_gaps WHERE sweep_id = 'iso-b' AND seed = 0 AND role = 'method'`)).rows;
    assert.ok(bGaps.every((g) => g.oracle_trial_id === newer.id), 'sweep b pairs with its newest oracle');
    assert.notDeepEqual(bRows.map((r) => r.d_forget_mean), before.map((r) => r.d_forget_mean));
  });

  void test('the maintained rows equal the direct aggregation for the whole database', async () => {
    for (const sweep of [null, 'base', 'iso-b']) {
      const q = (fn: string) => f.handle.pool.query(`SELECT * FROM ${fn}($1, NULL, NULL) ORDER BY setting_key, method_key`, [sweep]);
      const [agg, live] = [(await q('leaderboard_for')).rows, (await q('leaderboard_live_for')).rows];
      assert.equal(agg.length, live.length);
      agg.forEach((a, i) => {
        for (const [k, v] of Object.entries(live[i])) {
          if (typeof v === 'number') assert.ok(Math.abs(a[k] - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${sweep} ${k}: ${a[k]} != ${v}`);
          else assert.deepEqual(a[k], v, `${sweep} ${k}`);
        }
      });
    }
  });
});

void describe('migration 0004', () => {
  let url = '';
  let name = '';
  let admin: pg.Client;
  before(async () => {
    const base = process.env.DATABASE_URL;
    if (!base) throw new Error('DATABASE_URL is not set: this test needs a real PostgreSQL server (npm test starts one)');
    name = `unlearn_results_migrate_${randomBytes(4).toString('hex')}`;
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    url = u.toString();
    // the database as it was before 0004
    const dir = mkdtempSync(path.join(tmpdir(), 'unlearn-migrations-'));
    for (const m of listMigrations().filter((x) => x.name < '0004')) copyFileSync(path.join(MIGRATIONS_DIR, m.name), path.join(dir, m.name));
    assert.deepEqual((await migrate(url, { dir })).applied, ['0001_core.sql', '0002_results.sql', '0003_leaderboard_agg.sql']);
  });
  after(async () => {
    await dropDatabase(admin, name);
    await admin.end();
  });

  void test('an existing database migrates with no row lost, re-keyed, its leaderboard equal to a direct computation', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      // What the old planner wrote: two sweeps on MNIST that differ only in the subset (the old key merged them),
      // labels in `algorithm`, the oracle as is_oracle, the original as algorithm 'original', one label that is not
      // an algorithm name; plus one trial whose stage rows are gone.
      const r = rng(7);
      const legacy: { id: string; sweep: string; sub: number; role: string; label: string; alg: string; seed: number; m: number[] }[] = [];
      for (const [sweep, sub] of [['old-20', 20], ['old-200', 200]] as const) {
        await c.query(`INSERT INTO sweeps (id, name) VALUES ($1, $1)`, [sweep]);
        for (const seed of [0, 1]) {
          const sfx = `${sweep}-${seed}`;
          await c.query(`INSERT INTO stages (key, kind, params) VALUES ($1, 'train.original', $2), ($3, 'forgetset.select', $4), ($5, 'evaluate', $6), ($7, 'unlearn', $8)`, [
            `o-${sfx}`, { dataset: { id: 'mnist', subset: { perClass: sub, seed: 0 }, params: {} }, model: { id: 'cnn', params: {} }, recipe: { name: 'r', epochs: 6 }, seed, compute: 'ml' },
            `f-${sfx}`, { kind: 'classes', fraction: 0.1, count: null, classes: [2, 5], params: {}, seed },
            `e-${sfx}`, { evaluation: { mia: true, perExample: true, batchSize: 256 } },
            `u-${sfx}`, { algorithm: 'finetune' },
          ]);
          for (const [role, label] of [['oracle', 'retrain'], ['original', 'original'], ['method', 'ft-long']]) {
            const id = `${sfx}-${label}`;
            const stageKeys: Record<string, string> = { 'train.original': `o-${sfx}`, 'forgetset.select': `f-${sfx}`, evaluate: `e-${sfx}` };
            if (role === 'method') stageKeys.unlearn = `u-${sfx}`;
            await c.query(`INSERT INTO trials (id, sweep_id, dataset, model, recipe_key, forget_set_key, forget_kind, forget_fraction, algorithm, hparams, seed, is_oracle, stage_keys, status, wall_seconds, epochs, params_changed_fraction)
                           VALUES ($1, $2, 'mnist', 'cnn', 'rk', $3, 'classes', 0.1, $4, $5, $6, $7, $8, 'completed', $9, 6, 1)`,
            [id, sweep, `f-${sfx}`, label, role === 'method' ? { lr: 0.02 } : {}, seed, role === 'oracle', stageKeys, role === 'oracle' ? 100 : 10]);
            const m = [r(), 0.8 + 0.2 * r(), 0.7 + 0.2 * r(), r()];
            await c.query(`INSERT INTO metrics (trial_id, split, name, value) VALUES ($1, 'forget', 'accuracy', $2), ($1, 'retain', 'accuracy', $3), ($1, 'test', 'accuracy', $4), ($1, 'forget', 'mia_efficacy', $5), ($1, 'forget', 'loss', 1)`, [id, ...m]);
            await c.query(`INSERT INTO forget_outputs (trial_id, n, ids, true_prob, loss, correct) VALUES ($1, 1, '{3}', '{0.5}', '{0.7}', '{t}')`, [id]);
            legacy.push({ id, sweep, sub, role, label, alg: role === 'method' ? 'finetune' : role === 'oracle' ? 'retrain' : '', seed, m });
          }
        }
      }
      await c.query(`INSERT INTO trials (id, sweep_id, dataset, model, recipe_key, forget_set_key, forget_kind, forget_fraction, algorithm, hparams, seed, is_oracle, stage_keys, status)
                     VALUES ('orphan', 'old-20', 'mnist', 'cnn', 'rk', 'gone', 'iid', 0.1, 'finetune', '{}', 0, false, '{}', 'completed')`);
      await c.query(`INSERT INTO curves (stage_key, epoch, name, value) VALUES ('u-old-20-0', 0, 'loss', 1), ('u-old-20-0', 1, 'loss', 0.5)`);
      const count = async () => {
        const out: Record<string, number> = {};
        for (const t of ['sweeps', 'stages', 'trials', 'metrics', 'forget_outputs', 'curves']) out[t] = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        return out;
      };
      const before = await count();
      // the old leaderboard merged the two subsets into one row
      const merged = (await c.query(`SELECT n_trials FROM leaderboard_for(NULL, NULL, NULL) WHERE algorithm = 'ft-long'`)).rows;
      assert.deepEqual(merged.map((x) => Number(x.n_trials)), [4]);

      const res = await migrate(url);
      assert.ok(res.applied.includes('0004_comparable_settings.sql'));
      assert.deepEqual(await count(), before, 'no row lost');

      const rows = (await c.query(`SELECT id, sweep_id, role, algorithm, label, setting_key, method_key, is_oracle FROM trials ORDER BY id`)).rows;
      for (const l of legacy) {
        const t = rows.find((x) => x.id === l.id)!;
        assert.equal(t.role, l.role, l.id);
        assert.equal(t.label, l.label, l.id);
        assert.equal(t.algorithm, l.alg || null, `${l.id}: the algorithm name comes from its unlearn stage, not the label`);
        assert.equal(t.is_oracle, l.role === 'oracle');
        assert.match(t.setting_key, /^legacy-/);
      }
      const keysOf = (sweep: string) => new Set(rows.filter((x) => x.sweep_id === sweep && x.id !== 'orphan').map((x) => x.setting_key));
      assert.equal(keysOf('old-20').size, 1);
      assert.equal([...keysOf('old-20')].filter((k) => keysOf('old-200').has(k)).length, 0, 'the two subsets are two settings now');
      const summary = (await c.query(`SELECT summary FROM settings s JOIN trials t ON t.setting_key = s.key WHERE t.id = 'orphan'`)).rows[0].summary;
      assert.match(summary, /^legacy \(stage rows missing\)/);

      // leaderboard: maintained = live = direct (each trial against its own sweep's oracle of the same setting and seed)
      const h = openDb(url);
      try {
        const lb = await leaderboard(h.db);
        const seeded = legacy.map((l) => {
          const t = rows.find((x) => x.id === l.id)!;
          return {
            trial: { sweepId: l.sweep, settingKey: t.setting_key, methodKey: t.method_key, role: l.role, seed: l.seed, wallSeconds: l.role === 'oracle' ? 100 : 10, epochs: 6, paramsChangedFraction: 1 } as unknown as TrialRecord,
            metrics: { forget: l.m[0], retain: l.m[1], test: l.m[2], mia: l.m[3] },
          };
        });
        const expected = direct(seeded);
        const legacyRows = lb.filter((x) => !(x.n_paired === 0 && x.label === 'finetune'));
        assert.equal(legacyRows.length, expected.size);
        for (const row of legacyRows) {
          const e = expected.get(`${row.setting_key}|${row.method_key}`)!;
          assert.ok(e, `row ${row.label} ${row.setting_key}`);
          assert.equal(row.n_trials, 2);
          for (const m of MEASURES) {
            const want = e[m].mean;
            assert.ok(want === null ? row[`${m}_mean`] === null : Math.abs(row[`${m}_mean`]! - want) < 1e-9, `${row.label} ${m}: ${row[`${m}_mean`]} vs ${want}`);
          }
        }
        const live = (await c.query(`SELECT count(*) AS n FROM leaderboard_live_for(NULL, NULL, NULL)`)).rows[0].n;
        assert.equal(Number(live), lb.length);
      } finally {
        await h.close();
      }
    } finally {
      await c.end();
    }
  });
});
