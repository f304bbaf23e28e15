import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDb } from './helpers.js';
import {
  recordCurve, recordForgetOutputs, recordMetrics, recordSweep, recordTrial, type TrialRecord,
} from '../../db/record.js';

let f: FreshDb;
before(async () => { f = await freshDatabase('record'); });
after(async () => { await f?.drop(); });

const trial: TrialRecord = {
  id: 'sw1/del/s0', sweepId: 'sw1', role: 'method', algorithm: 'del', label: 'del', settingKey: 'set1', methodKey: 'm1',
  dataset: 'mnist', model: 'mlp', recipeKey: 'r1', forgetSetKey: 'fs1',
  forgetKind: 'iid', forgetFraction: 0.1, localization: 'wg-channel', alpha: 0.3,
  hparams: { lr: 0.015, epochs: 5 }, seed: 0, stageKeys: { unlearn: 'k-unlearn', evaluate: 'k-eval' },
  status: 'running', wallSeconds: null, epochs: null, paramsChangedFraction: null,
};

async function q<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await f.handle.pool.query(text, values)).rows as T[];
}

void describe('record', () => {
  void test('re-recording the same sweep and trial leaves one row with the latest fields', async () => {
    await recordSweep(f.db, { id: 'sw1', name: 'first', config: { a: 1 }, status: 'running' });
    await recordSweep(f.db, { id: 'sw1', name: 'first', config: { a: 2 }, status: 'completed' });
    const sweeps = await q('SELECT * FROM sweeps WHERE id = $1', ['sw1']);
    assert.equal(sweeps.length, 1);
    assert.deepEqual(sweeps[0].config, { a: 2 });
    assert.equal(sweeps[0].status, 'completed');

    await recordTrial(f.db, trial);
    await recordTrial(f.db, trial);
    await recordTrial(f.db, { ...trial, status: 'completed', wallSeconds: 12.5, epochs: 5, paramsChangedFraction: 0.3, hparams: { epochs: 5, lr: 0.015 } });
    const rows = await q('SELECT * FROM trials WHERE id = $1', [trial.id]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 'completed');
    assert.equal(rows[0].wall_seconds, 12.5);
    assert.deepEqual(rows[0].stage_keys, { unlearn: 'k-unlearn', evaluate: 'k-eval' });
  });

  void test('metrics upsert by (trial, split, name) and the headline columns follow them', async () => {
    await recordMetrics(f.db, trial.id, [
      { split: 'forget', name: 'accuracy', value: 0.5 },
      { split: 'test', name: 'accuracy', value: 0.9 },
    ]);
    await recordMetrics(f.db, trial.id, [
      { split: 'forget', name: 'accuracy', value: 0.75 },
      { split: 'forget', name: 'mia_efficacy', value: 0.25 },
    ]);
    const ms = await q<{ split: string; name: string; value: number }>('SELECT split, name, value FROM metrics WHERE trial_id = $1 ORDER BY split, name', [trial.id]);
    assert.deepEqual(ms, [
      { split: 'forget', name: 'accuracy', value: 0.75 },
      { split: 'forget', name: 'mia_efficacy', value: 0.25 },
      { split: 'test', name: 'accuracy', value: 0.9 },
    ]);
    const [t] = await q('SELECT forget_acc, retain_acc, test_acc, mia_efficacy FROM trials WHERE id = $1', [trial.id]);
    assert.deepEqual(t, { forget_acc: 0.75, retain_acc: null, test_acc: 0.9, mia_efficacy: 0.25 });
    await q(`DELETE FROM metrics WHERE trial_id = $1 AND split = 'test'`, [trial.id]);
    const [t2] = await q('SELECT test_acc FROM trials WHERE id = $1', [trial.id]);
    assert.equal(t2.test_acc, null);
    // recording the trial again does not wipe the metric-derived columns
    await recordTrial(f.db, { ...trial, status: 'completed' });
    const [t3] = await q('SELECT forget_acc FROM trials WHERE id = $1', [trial.id]);
    assert.equal(t3.forget_acc, 0.75);
  });

  void test('a large metrics batch is written whole and idempotently', async () => {
    const many = Array.from({ length: 4500 }, (_, i) => ({ split: 'extra', name: `m${i}`, value: i / 7 }));
    await recordMetrics(f.db, trial.id, many);
    await recordMetrics(f.db, trial.id, many);
    const [c] = await q<{ n: number }>(`SELECT count(*)::int AS n, sum(value) AS s FROM metrics WHERE trial_id = $1 AND split = 'extra'`, [trial.id]);
    assert.equal(c.n, 4500);
  });

  void test('curves and forget outputs upsert', async () => {
    await recordCurve(f.db, 'k-unlearn', [{ epoch: 0, name: 'loss', value: 2 }, { epoch: 1, name: 'loss', value: 1 }]);
    await recordCurve(f.db, 'k-unlearn', [{ epoch: 1, name: 'loss', value: 0.5 }]);
    const cs = await q('SELECT epoch, value FROM curves WHERE stage_key = $1 ORDER BY epoch', ['k-unlearn']);
    assert.deepEqual(cs, [{ epoch: 0, value: 2 }, { epoch: 1, value: 0.5 }]);

    await recordForgetOutputs(f.db, trial.id, { ids: [5, 9, 11], trueProb: new Float32Array([0.25, 0.5, 0.75]), loss: [1.5, 0.5, 0.25], correct: [false, true, 1] });
    await recordForgetOutputs(f.db, trial.id, { ids: [5, 9, 11, 12], trueProb: [0.25, 0.5, 0.75, 1], loss: [1.5, 0.5, 0.25, 0], correct: [false, true, true, true] });
    const fo = await q('SELECT n, ids, true_prob, loss, correct FROM forget_outputs WHERE trial_id = $1', [trial.id]);
    assert.equal(fo.length, 1);
    assert.deepEqual(fo[0], { n: 4, ids: [5, 9, 11, 12], true_prob: [0.25, 0.5, 0.75, 1], loss: [1.5, 0.5, 0.25, 0], correct: [false, true, true, true] });
  });

  void test('bad input and missing trials fail with messages that name them', async () => {
    await assert.rejects(recordTrial(f.db, { ...trial, id: 'x', forgetFraction: 1.5 }), /recordTrial\("x"\): invalid input: forgetFraction/);
    await assert.rejects(recordTrial(f.db, { ...trial, id: 'x', status: 'done' as never }), /recordTrial\("x"\): invalid input: status/);
    await assert.rejects(recordMetrics(f.db, 'nope', [{ split: 'forget', name: 'accuracy', value: 1 }]), /recordMetrics\("nope"\): trial nope is not recorded; call recordTrial first/);
    await assert.rejects(recordMetrics(f.db, trial.id, [{ split: 'a', name: 'b', value: 1 }, { split: 'a', name: 'b', value: 2 }]), /given twice/);
    await assert.rejects(recordForgetOutputs(f.db, trial.id, { ids: [1, 2], trueProb: [0.1], loss: [1, 2], correct: [true, true] }), /trueProb has 1 entries, ids has 2/);
    const [c] = await q<{ n: number }>('SELECT count(*)::int AS n FROM trials');
    assert.equal(c.n, 1);
  });
});
