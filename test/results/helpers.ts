// Test helpers for the results tests: a fresh, migrated database per test file (from DATABASE_URL, which
// must be set: the tests fail, never skip, without it) and a seeded data set with known values.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type DbHandle } from '../../db/client.js';
import { migrate } from '../../db/migrate.js';
import { recordMetrics, recordSweep, recordTrial, type ResultsDb, type TrialRecord } from '../../db/record.js';
import { MEASURES } from '../../db/leaderboard.js';
import { meanCI } from '../../ml/unlearn/stats.js';

export interface FreshDb {
  url: string;
  handle: DbHandle;
  db: ResultsDb;
  drop(): Promise<void>;
}

/**
 * A new database named unlearn_results_<label>_<random> on DATABASE_URL's server, migrated with every
 * db/migrations file. When the role may not create databases, a new schema in DATABASE_URL's database is used
 * instead (search_path set through the URL). drop() removes it.
 */
export async function freshDatabase(label: string): Promise<FreshDb> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: the results tests need a real PostgreSQL server (npm test starts one)');
  const name = `unlearn_results_${label}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 5000 });
  await admin.connect();
  let url: string;
  let cleanup: () => Promise<void>;
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    url = u.toString();
    cleanup = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try { await dropDatabase(c, name); } finally { await c.end(); }
    };
  } catch (e) {
    if ((e as { code?: string }).code !== '42501') throw e; // not a permission problem
    await admin.query(`CREATE SCHEMA "${name}"`);
    const u = new URL(base);
    u.searchParams.set('options', `-c search_path=${name}`);
    url = u.toString();
    cleanup = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try { await c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`); } finally { await c.end(); }
    };
  } finally {
    await admin.end();
  }
  await migrate(url);
  const handle = openDb(url);
  return {
    url, handle, db: handle.db,
    async drop() { await handle.close(); await cleanup(); },
  };
}

/**
 * DROP DATABASE, retried: a plain DROP stops autovacuum workers itself but fails while another session is
 * connected; WITH (FORCE) needs the right to signal every backend (it cannot signal autovacuum as a non-superuser).
 */
export async function dropDatabase(c: pg.Client, name: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      await c.query(i % 2 === 0 ? `DROP DATABASE IF EXISTS "${name}"` : `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`could not drop test database ${name}: ${(last as Error).message}`);
}

/** mulberry32: small deterministic PRNG for seeded test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeededTrial {
  trial: TrialRecord;
  metrics: { forget: number; retain: number; test: number; mia: number };
}

/**
 * Seeds sweep `sweepId`: dataset 'synth' (model 'mlp'), forget kinds iid and classes (10%), one setting key per
 * (dataset, forget kind), one method key per (role, algorithm, localization, α, hparams); an oracle
 * ('retrain') per (forget kind, seed); methods: del (wg-channel, α 0.3), finetune (lr 0.01 and 0.1),
 * salun (sal, α 0.5; only 2 seeds), neggrad (one seed: no interval); one failed trial (ignored).
 * Seeds 0..4. Returns what was recorded.
 */
export async function seedSweep(db: ResultsDb, sweepId: string, opts: { seed?: number; dataset?: string } = {}): Promise<SeededTrial[]> {
  const r = rng(opts.seed ?? 1);
  const dataset = opts.dataset ?? 'synth';
  await recordSweep(db, { id: sweepId, name: `test sweep ${sweepId}`, config: { totalTrials: 0 }, status: 'running' });
  const out: SeededTrial[] = [];
  const methods: { algorithm: string; localization: string | null; alpha: number | null; hparams: Record<string, unknown>; seeds: number[]; oracle?: boolean }[] = [
    { algorithm: 'retrain', localization: null, alpha: null, hparams: {}, seeds: [0, 1, 2, 3, 4], oracle: true },
    { algorithm: 'del', localization: 'wg-channel', alpha: 0.3, hparams: { lr: 0.015, epochs: 3 }, seeds: [0, 1, 2, 3, 4] },
    { algorithm: 'finetune', localization: null, alpha: null, hparams: { lr: 0.01 }, seeds: [0, 1, 2, 3, 4] },
    { algorithm: 'finetune', localization: null, alpha: null, hparams: { lr: 0.1 }, seeds: [0, 1, 2, 3, 4] },
    { algorithm: 'salun', localization: 'sal', alpha: 0.5, hparams: { lr: 0.01 }, seeds: [0, 1] },
    { algorithm: 'neggrad', localization: null, alpha: null, hparams: { beta: 0.95 }, seeds: [3] },
  ];
  for (const kind of ['iid', 'classes']) {
    for (const m of methods) {
      for (const seed of m.seeds) {
        const trial: TrialRecord = {
          id: `${sweepId}/${dataset}/${kind}/${m.algorithm}/${JSON.stringify(m.hparams)}/s${seed}`,
          sweepId, role: m.oracle ? 'oracle' : 'method', algorithm: m.algorithm, label: m.algorithm,
          settingKey: `setting-${dataset}-${kind}`, methodKey: `${m.oracle ? 'oracle' : 'method'}:${m.algorithm}:${m.localization}:${m.alpha}:${JSON.stringify(m.hparams)}`,
          dataset, model: 'mlp', recipeKey: `recipe-${dataset}`, forgetSetKey: `fs-${dataset}-${kind}-s${seed}`,
          forgetKind: kind, forgetFraction: 0.1, localization: m.localization, alpha: m.alpha,
          hparams: m.hparams, seed, stageKeys: { unlearn: `stage-${sweepId}-${kind}-${m.algorithm}-${seed}` },
          status: 'completed', wallSeconds: m.oracle ? 100 + 20 * r() : 5 + 30 * r(), epochs: m.oracle ? 30 : 3,
          paramsChangedFraction: m.alpha ?? 1,
        };
        const metrics = { forget: 0.6 + 0.4 * r(), retain: 0.85 + 0.15 * r(), test: 0.8 + 0.15 * r(), mia: r() };
        await recordTrial(db, trial);
        await recordMetrics(db, trial.id, [
          { split: 'forget', name: 'accuracy', value: metrics.forget },
          { split: 'retain', name: 'accuracy', value: metrics.retain },
          { split: 'test', name: 'accuracy', value: metrics.test },
          { split: 'forget', name: 'mia_efficacy', value: metrics.mia },
          { split: 'forget', name: 'loss', value: 3 * r() },
        ]);
        out.push({ trial, metrics });
      }
    }
  }
  const failed: TrialRecord = { ...out[1].trial, id: `${sweepId}/failed`, status: 'failed', error: 'out of memory', seed: 0 };
  await recordTrial(db, failed);
  await recordMetrics(db, failed.id, [{ split: 'forget', name: 'accuracy', value: 0 }]);
  await recordSweep(db, { id: sweepId, name: `test sweep ${sweepId}`, config: { totalTrials: out.length + 1 }, status: 'completed' });
  return out;
}

/** The SQL views' shape of a summary: mean and 95% half-width, null where undefined (n = 0, or n < 2 for the interval). */
function meanCi95(values: number[]): { n: number; mean: number | null; ci: number | null } {
  if (values.length === 0) return { n: 0, mean: null, ci: null };
  const s = meanCI(values);
  return { n: s.n, mean: s.mean, ci: s.n < 2 ? null : s.halfWidth };
}

/** The leaderboard computed directly from what was recorded (no SQL). */
export function direct(seeded: SeededTrial[]): Map<string, Record<string, { mean: number | null; ci: number | null; n: number }>> {
  // each trial against the oracle of its own sweep, setting and seed
  const oracle = new Map<string, SeededTrial>();
  for (const s of seeded) if (s.trial.role === 'oracle') oracle.set(`${s.trial.sweepId}|${s.trial.settingKey}|${s.trial.seed}`, s);
  const groups = new Map<string, Record<string, number[]>>();
  for (const s of seeded) {
    const t = s.trial;
    const o = oracle.get(`${t.sweepId}|${t.settingKey}|${t.seed}`)!;
    const k = `${t.settingKey}|${t.methodKey}`;
    if (!groups.has(k)) groups.set(k, Object.fromEntries(MEASURES.map((m) => [m, [] as number[]])));
    const g = groups.get(k)!;
    const u = s.metrics, om = o.metrics;
    g.forget_acc.push(u.forget); g.retain_acc.push(u.retain); g.test_acc.push(u.test); g.mia.push(u.mia);
    g.d_forget.push(om.forget - u.forget); g.d_retain.push(om.retain - u.retain); g.d_test.push(om.test - u.test); g.d_mia.push(om.mia - u.mia);
    g.tow.push((1 - Math.abs(u.forget - om.forget)) * (1 - Math.abs(u.retain - om.retain)) * (1 - Math.abs(u.test - om.test)));
    g.gap.push((Math.abs(om.forget - u.forget) + Math.abs(om.test - u.test) + Math.abs(om.mia - u.mia)) / 3);
    g.cost_rel.push(t.wallSeconds! / o.trial.wallSeconds!);
    g.epochs_rel.push(t.epochs! / o.trial.epochs!);
    g.wall_seconds.push(t.wallSeconds!);
    g.params_changed.push(t.paramsChangedFraction!);
  }
  return new Map([...groups].map(([k, g]) => [k, Object.fromEntries(MEASURES.map((m) => [m, meanCi95(g[m])]))]));
}

