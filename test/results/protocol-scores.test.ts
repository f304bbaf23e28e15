// The evaluation protocol's scores in the results database: the record stage writes them as split 'protocol'
// metrics of a method's first-seed trial; the protocol_scores view (migration 0005) pivots them per trial with the
// keys the leaderboard groups by, and protocolScores() reads them, best challenge score first.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { recordMetrics, recordTrial, type TrialRecord } from '../../db/record.js';
import { protocolScores } from '../../db/leaderboard.js';
import { freshDatabase, type FreshDb } from './helpers.js';

let fresh: FreshDb;
before(async () => {
  fresh = await freshDatabase('protocol');
});
after(async () => {
  await fresh?.drop();
});

const trial = (id: string, label: string, sweepId = 'p'): TrialRecord => ({
  id, sweepId, role: 'method', algorithm: label, label, settingKey: 'setting-a', methodKey: `method-${label}`,
  dataset: 'mnist', model: 'cnn', recipeKey: 'r', forgetSetKey: 'fs', forgetKind: 'iid', forgetFraction: 0.1,
  localization: null, alpha: null, hparams: {}, seed: 0, stageKeys: {}, status: 'completed', wallSeconds: 1, epochs: 1,
  paramsChangedFraction: 1,
});

void test('protocol scores are read back per trial with their setting and method keys, best score first; other sweeps and plain trials are not', async () => {
  const db = fresh.db;
  for (const [id, label, score, auc] of [['p/a', 'finetune', 0.08, 0.79], ['p/b', 'del', 0.12, 0.55]] as const) {
    await recordTrial(db, trial(id, label));
    await recordMetrics(db, id, [
      { split: 'forget', name: 'accuracy', value: 0.8 },
      { split: 'protocol', name: 'neurips23_score', value: score },
      { split: 'protocol', name: 'neurips23_forget_quality', value: score / 2 },
      { split: 'protocol', name: 'lira_auc', value: auc },
      { split: 'protocol', name: 'lira_tpr_at_1fpr', value: 0.01 },
      { split: 'protocol', name: 'lira_tpr_at_5fpr', value: 0.05 },
    ]);
  }
  await recordTrial(db, trial('p/plain', 'salun'));
  await recordMetrics(db, 'p/plain', [{ split: 'forget', name: 'accuracy', value: 0.7 }]);
  await recordTrial(db, trial('q/a', 'finetune', 'q'));
  await recordMetrics(db, 'q/a', [{ split: 'protocol', name: 'neurips23_score', value: 0.5 }]);

  const rows = await protocolScores(db, 'p');
  assert.deepEqual(rows.map((r) => r.label), ['del', 'finetune']);
  assert.equal(rows[0].neurips23_score, 0.12);
  assert.equal(rows[0].neurips23_forget_quality, 0.06);
  assert.equal(rows[1].lira_auc, 0.79);
  assert.equal(rows[0].setting_key, 'setting-a');
  assert.equal(rows[1].method_key, 'method-finetune');
  assert.equal((await protocolScores(db)).length, 3, 'all sweeps');
});
