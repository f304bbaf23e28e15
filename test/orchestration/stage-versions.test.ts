// Stage code upgrades: a kind's code version (STAGE_VERSIONS) is part of its stage keys and of the setting key
// results are grouped by, so a changed stage recomputes (with everything downstream), an unchanged one stays
// cached, and results of two versions never share a setting. In a mixed fleet (old and new workers on the same
// queues) a worker refuses a stage planned with another version of its kind, so no artifact is ever stored
// under a key that promises other code.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { expandSweep, STAGE_VERSIONS, stageKey } from '../../sweep/plan.js';
import { settingSpec, specKey } from '../../sweep/keys.js';
import { parseSweepText } from '../../sweep/registries.js';
import type { StageKind } from '../../sweep/stages.js';
import { checkStageVersion, createActivities, type ActivityDeps } from '../../activities/stages.js';
import { root } from './helpers.js';

const cfg = parseSweepText(readFileSync(path.join(root, 'sweeps', 'noop-small.yaml'), 'utf8'), 'noop-small.yaml');

/** Expands the sweep as a release whose `kind` is one version ahead would. */
function expandWithBump(kind: StageKind) {
  const before = STAGE_VERSIONS[kind];
  STAGE_VERSIONS[kind] = before + 1;
  try {
    return expandSweep(cfg, 'versions');
  } finally {
    STAGE_VERSIONS[kind] = before;
  }
}

void test('a changed stage kind recomputes with everything downstream; unchanged stages keep their keys (stay cached)', () => {
  const now = expandSweep(cfg, 'versions');
  const next = expandWithBump('evaluate');
  assert.equal(next.stages.length, now.stages.length);
  const changed = new Map<string, number>();
  for (let i = 0; i < now.stages.length; i++) {
    if (now.stages[i].key !== next.stages[i].key) changed.set(now.stages[i].kind, (changed.get(now.stages[i].kind) ?? 0) + 1);
  }
  const count = (k: string) => now.stages.filter((s) => s.kind === k).length;
  // evaluate re-keyed, and record (its consumer); training, masks and forget sets untouched
  assert.deepEqual(Object.fromEntries(changed), { evaluate: count('evaluate'), record: count('record') });
  // a new train.original re-keys everything that depends on an original model; forget sets, oracles (trained
  // from scratch on the retain set) and the oracles' evaluations stay cached
  const retrain = expandWithBump('train.original');
  const kept = now.stages.filter((s, i) => s.key === retrain.stages[i].key);
  assert.deepEqual([...new Set(kept.map((s) => s.kind))].sort(), ['evaluate', 'forgetset.select', 'train.oracle']);
  const oracles = new Set(now.stages.filter((s) => s.kind === 'train.oracle').map((s) => s.key));
  for (const s of kept.filter((x) => x.kind === 'evaluate')) assert.ok(oracles.has(Object.values(s.inputs).find((k) => oracles.has(k)) ?? ''), 'only oracle evaluations stay');
});

void test('the setting key covers the code version of every stage that makes a number: two versions, two settings', () => {
  const plan = expandSweep(cfg, 'versions');
  const numbers = Object.fromEntries(Object.entries(STAGE_VERSIONS).filter(([k]) => k !== 'record' && k !== 'protocol.score'));
  const g = cfg.grid;
  const trial = plan.trials.find((t) => t.forgetSet === 'iid:0.1')!;
  const now = specKey(settingSpec(cfg, g.datasets[0], g.models[0], g.recipes[0], g.forgetSets[0], numbers));
  assert.equal(trial.settingKey, now, 'the trial\'s setting key is the one built from the current stage versions');
  for (const kind of Object.keys(numbers)) {
    const bumped = specKey(settingSpec(cfg, g.datasets[0], g.models[0], g.recipes[0], g.forgetSets[0], { ...numbers, [kind]: numbers[kind] + 1 }));
    assert.notEqual(bumped, now, `a new ${kind} version is another setting`);
  }
});

void test('a worker refuses a stage planned with another version of its kind (retryable: another worker takes it)', async () => {
  const plan = expandSweep(cfg, 'versions');
  // every stage of the current plan passes on the current code
  for (const s of plan.stages) assert.doesNotThrow(() => checkStageVersion(s, 'w'));
  // a stage planned by a release one evaluate version ahead
  const s = plan.stages.find((x) => x.kind === 'evaluate')!;
  const planned = { ...s, key: stageKey(s.kind, s.params, s.inputs, STAGE_VERSIONS.evaluate + 1) };
  // storage and database stand-ins that fail when used (any call through them), so the check must come first
  const untouched: object = new Proxy(function unused() {}, {
    get: (_t, p) => (p === 'then' ? undefined : untouched),
    apply: () => { throw new Error('used storage or the database before the version check'); },
  });
  const activities = createActivities({ store: untouched, db: untouched, computes: {}, identity: 'old-host:1:gpu' } as unknown as ActivityDeps);
  await assert.rejects(
    new MockActivityEnvironment().run(activities.runStage, { sweepId: 'versions', stage: planned, inputKinds: { model: 'unlearn', forgetSet: 'forgetset.select' } }),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'StageVersionMismatch' && !e.nonRetryable && /old-host:1:gpu runs evaluate code version/.test(e.message),
  );
});
