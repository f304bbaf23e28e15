// Cancellation in bulk (real PostgreSQL): the `markStages` activity marks a cancelled sweep's unfinished stages
// and trials with set-based statements (db/plan-store.ts markPlanRanges, db/record.ts recordTrials). The trial
// rows must be exactly those the one-row-at-a-time path wrote (trialRecord + a status check + recordTrial per
// trial), finished trials and stages must keep their rows, and the counts by kind must match the plan. Also: the
// CLI's start counts cached stages from the stored plan (no expansion).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parseSweepText } from '../../sweep/registries.js';
import { createActivities, type ActivityDeps } from '../../activities/stages.js';
import type { MarkStagesInput, MarkStagesResult, PlanInfo } from '../../activities/types.js';
import { codeVersion } from '../../activities/provenance.js';
import { readPlanStages, splitRanges, type IdxRange } from '../../db/plan-store.js';
import { recordTrial, recordTrials, trialRecord, TRIALS_CHUNK, type TrialRecord } from '../../db/record.js';
import { STAGE_VERSIONS, type StageSpec } from '../../sweep/plan.js';
import type { StageKind } from '../../sweep/stages.js';
import { freshDatabase, type FreshDb } from '../results/helpers.js';
import { upsertArtifact } from '../../db/stage-rows.js';
import { planReport } from '../../cli/sweep-plan.js';
import { root } from './helpers.js';

// noop-small with 40 finetune learning rates: 176 trials, a few hundred stages
const text = readFileSync(path.join(root, 'sweeps', 'noop-small.yaml'), 'utf8')
  .replace('{ name: finetune, hparams: { lr: 0.05, epochs: 1 } }', `{ name: finetune, hparams: { lr: [${Array.from({ length: 40 }, (_, i) => (0.001 * (i + 1)).toFixed(3)).join(', ')}], epochs: 1 } }`);
const cfg = parseSweepText(text, 'cancel-bulk.yaml');

/** What a test reads back: every written column (timestamps excluded: they say when, not what). */
async function trialRows(f: FreshDb, sweepId: string): Promise<Record<string, unknown>[]> {
  const r = await f.handle.pool.query('SELECT * FROM trials WHERE sweep_id = $1 ORDER BY id', [sweepId]);
  return r.rows.map(({ created_at: _c, updated_at: _u, ...rest }) => rest);
}

/** The previous path, one trial at a time (activities/stages.ts before bulk cancellation). */
async function oneByOne(f: FreshDb, sweepId: string, params: StageSpec<'record'>['params'], status: string, error: string): Promise<void> {
  const stageVersions = Object.fromEntries(Object.keys(params.stageKeys).filter((k): k is StageKind => k in STAGE_VERSIONS).map((k) => [k, STAGE_VERSIONS[k]]));
  const row = trialRecord(sweepId, params.trial, params.stageKeys, { status: 'failed', error: `${status}: ${error}`, provenance: { code: codeVersion(), stageVersions } });
  const had = (await f.handle.pool.query('SELECT status FROM trials WHERE id = $1', [row.id])).rows[0]?.status;
  if (had === 'completed') return;
  await recordTrial(f.db, row);
}

void test('splitRanges: the same positions, in order, in batches of at most n', () => {
  const ranges: IdxRange[] = [[0, 5], [7, 8], [10, 23]];
  const batches = splitRanges(ranges, 4);
  const flat = (rs: IdxRange[]) => rs.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
  assert.deepEqual(batches.flatMap(flat), flat(ranges));
  for (const b of batches) assert.ok(flat(b).length <= 4, JSON.stringify(b));
  assert.equal(batches.length, Math.ceil(flat(ranges).length / 4));
  assert.throws(() => splitRanges(ranges, 0), /maxPositions must be a positive integer/);
});

void test('cancelling a sweep marks every unfinished stage and trial in bulk, with the rows the one-by-one path wrote', async () => {
  const f = await freshDatabase('cancelbulk');
  try {
    const untouched = new Proxy({}, { get: (_t, p) => { throw new Error(`markStages must not use the object store (${String(p)})`); } });
    // a small batch so that the positions of the plan go through many statements
    const acts = createActivities({ store: untouched, db: f.handle, computes: {}, identity: 'test:1:io', markBatch: 97 } as unknown as ActivityDeps);
    const env = new MockActivityEnvironment();
    const sweepId = 'cancel-bulk';
    const plan: PlanInfo = await env.run(acts.planSweep, { sweepId, config: cfg });
    assert.equal(plan.trials, 176);
    const n = plan.stages;
    const all = await readPlanStages(f.handle.pool, plan.planId, Array.from({ length: n }, (_, i) => i));
    const records = [...all.values()].filter((s) => s.kind === 'record').sort((a, b) => a.idx - b.idx);
    assert.equal(records.length, plan.trials);

    // What finished before the cancel: the first 10 trials completed (rows and record stages done), two shared
    // stages done; the workflow sends the rest as ranges (the finished positions left out of them, as it does).
    const finished = new Set<number>([...records.slice(0, 10).map((r) => r.idx), 0, 1]);
    for (const r of records.slice(0, 10)) {
      const p = r.params as unknown as StageSpec<'record'>['params'];
      await recordTrial(f.db, trialRecord(sweepId, p.trial, p.stageKeys, { status: 'completed', wallSeconds: 1.5, epochs: 1, paramsChangedFraction: 0.5 }));
    }
    await f.handle.pool.query(`UPDATE stages SET status = 'done' WHERE key = ANY($1::text[])`, [[...finished].map((i) => all.get(i)!.key)]);
    for (const i of finished) await upsertArtifact(f.handle.pool, { key: all.get(i)!.key, kind: all.get(i)!.kind, uri: 'test://', sha256: 'x', bytes: 1, metadata: {} });

    // `sweep start` counts cached stages from the stored plan of the same config, never by expanding the grid
    const fromStored = await planReport(cfg, sweepId, f.url, { expandMaxStages: 0 });
    const cachedKinds: Record<string, number> = {};
    for (const i of finished) cachedKinds[all.get(i)!.kind] = (cachedKinds[all.get(i)!.kind] ?? 0) + 1;
    assert.deepEqual(fromStored.cached, cachedKinds);
    assert.equal(fromStored.cachedTrials, 10);
    const noStored = await planReport(cfg, 'another-id', f.url, { expandMaxStages: 0 });
    assert.equal(noStored.cached, undefined);
    assert.match(noStored.cacheNote ?? '', /no stored plan of this config yet: counted as all new/);
    // A trial that failed earlier has a row already: the cancel replaces it (as the one-by-one path did).
    const failedEarlier = records[10].params as unknown as StageSpec<'record'>['params'];
    await recordTrial(f.db, trialRecord(sweepId, failedEarlier.trial, failedEarlier.stageKeys, { status: 'failed', error: 'failed: earlier' }));
    const ranges: IdxRange[] = [];
    for (let i = 0; i < n; ) {
      if (finished.has(i)) { i++; continue; }
      let j = i + 1;
      while (j < n && !finished.has(j)) j++;
      ranges.push([i, j]);
      i = j;
    }
    const before = await trialRows(f, sweepId);

    // expected: the one-by-one path
    for (const r of records) if (!finished.has(r.idx)) await oneByOne(f, sweepId, r.params as unknown as StageSpec<'record'>['params'], 'cancelled', 'sweep cancelled');
    const expected = await trialRows(f, sweepId);
    assert.equal(expected.length, plan.trials);
    // back to the state before the cancel, then the bulk path through the activity
    await f.handle.pool.query(`DELETE FROM trials WHERE sweep_id = $1 AND status <> 'completed'`, [sweepId]);
    await recordTrial(f.db, trialRecord(sweepId, failedEarlier.trial, failedEarlier.stageKeys, { status: 'failed', error: 'failed: earlier' }));
    assert.deepEqual(await trialRows(f, sweepId), before);

    const t0 = Date.now();
    const cancel: MarkStagesInput = { sweepId, planId: plan.planId, marks: [], ranges: { ranges, status: 'cancelled', error: 'sweep cancelled' } };
    const out: MarkStagesResult = await env.run(acts.markStages, cancel);
    const ms = Date.now() - t0;
    const got = await trialRows(f, sweepId);
    assert.deepEqual(got, expected, 'the bulk rows equal the one-by-one rows, column by column');
    const completed = got.filter((r) => r.status === 'completed');
    assert.equal(completed.length, 10, 'finished trials keep their rows');
    assert.ok(completed.every((r) => r.error === null && r.wall_seconds === 1.5));
    const cancelled = got.filter((r) => r.status === 'failed');
    assert.equal(cancelled.length, plan.trials - 10);
    assert.ok(cancelled.every((r) => r.error === 'cancelled: sweep cancelled'), 'every unfinished trial says why');

    // stages: the finished ones stay done, every other one of the plan is cancelled with the error
    const st = await f.handle.pool.query(
      `SELECT p.idx, s.status, s.error FROM plan_stages p JOIN stages s ON s.key = p.key WHERE p.plan_id = $1 ORDER BY p.idx`, [plan.planId]);
    assert.equal(st.rows.length, n);
    for (const row of st.rows) {
      if (finished.has(row.idx)) assert.equal(row.status, 'done', `position ${row.idx}`);
      else assert.deepEqual([row.status, row.error], ['cancelled', 'sweep cancelled'], `position ${row.idx}`);
    }
    // counts by kind: every position the ranges hold
    const byKind: Record<string, number> = {};
    for (const s of all.values()) if (!finished.has(s.idx)) byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    assert.deepEqual(out.rangesByKind, byKind);

    // idempotent: a retried activity writes the same rows again
    await env.run(acts.markStages, cancel);
    assert.deepEqual(await trialRows(f, sweepId), expected);

    // the marks path (a failed record stage) writes the same row as the builder, and leaves a completed trial alone
    const failIdx = records[20].idx;
    const marks: MarkStagesInput = { sweepId, planId: plan.planId, marks: [{ index: failIdx, status: 'failed', error: 'boom' }, { index: records[0].idx, status: 'skipped', error: 'late' }] };
    await env.run(acts.markStages, marks);
    const p20 = records[20].params as unknown as StageSpec<'record'>['params'];
    const marked = (await trialRows(f, sweepId)).find((r) => r.id === trialRecord(sweepId, p20.trial, p20.stageKeys, { status: 'failed' }).id)!;
    assert.equal(marked.error, 'failed: boom');
    assert.equal((await trialRows(f, sweepId)).filter((r) => r.status === 'completed').length, 10);
    console.log(`[cancel-bulk] ${plan.trials} trials, ${n} stages, batch 97 positions: markStages ${ms} ms`);
  } finally {
    await f.drop();
  }
});

void test('recordTrials: more rows than one statement holds, identical to recordTrial row by row; bad input named', async () => {
  const f = await freshDatabase('recordtrials');
  try {
    const base = (i: number, sweepId: string): TrialRecord => ({
      id: `${sweepId}-${i}`, sweepId, role: 'method', algorithm: 'finetune', label: 'ft', settingKey: 's', methodKey: `m${i % 7}`,
      dataset: 'synthetic', model: 'mlp', recipeKey: 'r', forgetSetKey: 'fs', forgetKind: 'iid', forgetFraction: 0.1,
      localization: i % 2 ? 'wg-channel' : null, alpha: i % 2 ? 0.3 : null, hparams: { lr: i / 1000 }, seed: i % 3, stageKeys: { unlearn: `u${i}` },
      status: 'failed', error: `cancelled: ${i}`, wallSeconds: null, epochs: null, paramsChangedFraction: null,
      provenance: { code: { package: '0.1.0', commit: 'abcdef0123456789' }, backend: 'wasm', device: 'cpu', workerHost: 'h' },
    });
    const count = TRIALS_CHUNK + 37;
    for (let i = 0; i < count; i++) await recordTrial(f.db, base(i, 'one'));
    assert.equal(await recordTrials(f.db, Array.from({ length: count }, (_, i) => base(i, 'bulk'))), count);
    const strip = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, id: String(r.id).replace(/^(one|bulk)-/, ''), sweep_id: null }));
    const one = strip(await trialRows(f, 'one'));
    const bulk = strip(await trialRows(f, 'bulk'));
    assert.equal(bulk.length, count);
    assert.deepEqual(bulk, one);
    // keepCompleted: a completed row stays; without it the row is replaced
    await recordTrial(f.db, { ...base(1, 'bulk'), status: 'completed', error: null });
    assert.equal(await recordTrials(f.db, [base(1, 'bulk'), base(2, 'bulk')], { keepCompleted: true }), 1);
    assert.equal((await f.handle.pool.query(`SELECT status FROM trials WHERE id = 'bulk-1'`)).rows[0].status, 'completed');
    await recordTrials(f.db, [base(1, 'bulk')]);
    assert.equal((await f.handle.pool.query(`SELECT status FROM trials WHERE id = 'bulk-1'`)).rows[0].status, 'failed');
    await assert.rejects(recordTrials(f.db, [base(3, 'bulk'), { ...base(4, 'bulk'), forgetFraction: 2 }]), /recordTrials\[1\]\("bulk-4"\): invalid input: forgetFraction/);
    await assert.rejects(recordTrials(f.db, [base(3, 'bulk'), base(3, 'bulk')]), /trial bulk-3 given twice/);
    assert.equal(await recordTrials(f.db, []), 0);
  } finally {
    await f.drop();
  }
});
