// Pure logic: a sweep file is checked against the data, the models and the labels before anything starts;
// roles, setting keys and method keys come from the planner; plan counts are arithmetic (no services needed).
import test from 'node:test';
import assert from 'node:assert/strict';
import { SweepFileError } from '../../sweep/schema.js';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep, countByKind, planCounts, planSettings } from '../../sweep/plan.js';
import { DATASET_FACTS, datasetFacts, modelSize, MODEL_PARAMS, DATASET_PARAMS, FORGET_PARAMS } from '../../sweep/catalog.js';
import { DATASETS, MODELS, FORGET_KINDS } from '../../sweep/registries.js';

import { BAD_INPUTS, BASE as base, FILE } from './bad-inputs.js';

function refused(text: string): string {
  try {
    parseSweepText(text, FILE);
  } catch (e) {
    assert.ok(e instanceof SweepFileError, `expected a SweepFileError, got ${String(e)}`);
    for (const line of e.message.split('\n')) assert.match(line, /^sweeps\/bad\.yaml: \S+: \S/, `every problem reads file: path: problem (${line})`);
    return e.message;
  }
  assert.fail('expected the file to be refused');
}

void test('the base file is valid', () => {
  assert.equal(parseSweepText(base, FILE).name, 'v');
});

for (const [what, from, to, expect] of BAD_INPUTS) {
  void test(`refused before anything starts: ${what}`, () => {
    assert.ok(base.includes(from), `fixture: ${from}`);
    assert.match(refused(base.replace(from, to)), expect);
  });
}

void test('the catalog covers every registered data set, model and forget kind', () => {
  for (const d of DATASETS) assert.ok(DATASET_PARAMS[d], d);
  for (const m of MODELS) assert.ok(MODEL_PARAMS[m], m);
  for (const f of FORGET_KINDS) assert.ok(FORGET_PARAMS[f], f);
  for (const [id, f] of Object.entries(DATASET_FACTS)) assert.equal(f.trainPerClass.length, f.numClasses, id);
  assert.equal(datasetFacts({ id: 'mnist' })!.train, 60000);
  assert.equal(datasetFacts({ id: 'mnist', subset: { perClass: 200 } })!.train, 2000);
  // ResNet-18 on CIFAR-10: 11.17M parameters
  const r18 = modelSize({ id: 'resnet', params: { width: 64, blocksPerStage: [2, 2, 2, 2] } }, [32, 32, 3], 10);
  assert.ok('params' in r18 && Math.abs(r18.params - 11_173_962) / 11_173_962 < 0.01, JSON.stringify(r18));
});

void test('roles come from the planner; algorithm and label are separate fields', () => {
  const cfg = parseSweepText(base.replace('{ name: finetune, hparams', '{ name: finetune, label: my-ft, hparams'), FILE);
  const plan = expandSweep(cfg, 's');
  const roles = new Map(plan.trials.map((t) => [t.label, [t.role, t.algorithm]]));
  assert.deepEqual(roles.get('original'), ['original', null]);
  assert.deepEqual(roles.get('retrain'), ['oracle', 'retrain']);
  assert.deepEqual(roles.get('my-ft'), ['method', 'finetune']);
  assert.equal(new Set(plan.trials.map((t) => t.settingKey)).size, 2, 'one setting per forget set');
  for (const t of plan.trials) {
    assert.ok(plan.settings[t.settingKey], 'every setting key has its spec');
    assert.ok(plan.methods[t.methodKey], 'every method key has its spec');
  }
  assert.match(plan.settings[plan.trials[0].settingKey].summary, /^mnist 20\/class train, 10\/class test \| cnn channels=\[8\] dense=16 \| r: 1 ep, batch 32, lr 0.05 cosine, sgd m=0.9 \| forget iid 10%$/);
});

void test('a label never enters a key; the seed never enters the setting key', () => {
  const a = expandSweep(parseSweepText(base, FILE), 's');
  const b = expandSweep(parseSweepText(base.replace('{ name: finetune, hparams', '{ name: finetune, label: other, hparams').replace('seeds: [0]', 'seeds: [1]'), FILE), 's');
  assert.deepEqual(a.trials.map((t) => [t.settingKey, t.methodKey]).sort(), b.trials.map((t) => [t.settingKey, t.methodKey]).sort());
  // a recipe's name is display only too
  const c = expandSweep(parseSweepText(base.replace('name: r,', 'name: renamed,'), FILE), 's');
  assert.deepEqual(new Set(c.trials.map((t) => t.settingKey)), new Set(a.trials.map((t) => t.settingKey)));
});

void test('subset, model width, recipe or forget classes each change the setting key', () => {
  const keys = (text: string) => new Set(expandSweep(parseSweepText(text, FILE), 's').trials.map((t) => t.settingKey));
  const ref = keys(base);
  for (const [from, to] of [
    ['perClass: 20', 'perClass: 21'],
    ['channels: [8]', 'channels: [9]'],
    ['epochs: 1, batchSize: 32', 'epochs: 2, batchSize: 32'],
    ['classes: [2, 5]', 'classes: [2, 6]'],
    ['testPerClass: 10', 'testPerClass: 11'],
  ]) {
    const other = keys(base.replace(from, to));
    const shared = [...other].filter((k) => ref.has(k));
    // the class change leaves the iid forget set's setting as it was, every other change moves both
    assert.equal(shared.length, from.startsWith('classes') ? 1 : 0, `${from} -> ${to}`);
  }
});

void test('plan counts are arithmetic and equal the expanded plan', () => {
  const files = [
    base,
    base.replace('seeds: [0]', 'seeds: [0, 1, 2]').replace('{ name: finetune, hparams: { lr: 0.02, epochs: 1 } }',
      '{ name: finetune, hparams: { lr: [0.01, 0.02], epochs: [1, 2] } }\n    - { name: del, localization: { strategy: wg-channel, alpha: [0.1, 0.3] }, hparams: { lr: 0.05, epochs: 1 } }\n    - { name: salun, hparams: { lr: 0.05, epochs: 1 } }\n    - { name: finetune, label: ft-loc, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.05, epochs: 1 } }'),
    base.replace('    - { kind: iid, fraction: 0.1 }', '    - { kind: memorization, fraction: 0.05, params: { mode: top } }').replace('recipes: [', 'recipes: [{ name: r2, epochs: 2, batchSize: 32, lr: 0.05 }, '),
    base + 'oracle: false\n',
  ];
  for (const text of files) {
    const cfg = parseSweepText(text, FILE);
    const plan = expandSweep(cfg, 's');
    const c = planCounts(cfg);
    assert.equal(c.trials, plan.trials.length);
    assert.equal(c.stages, plan.stages.length);
    const kinds = countByKind(plan.stages);
    for (const [k, n] of Object.entries(c.byKind)) assert.equal(n, kinds[k] ?? 0, k);
    assert.equal(c.roles.method, plan.trials.filter((t) => t.role === 'method').length);
    // the settings and methods recorded before the plan is expanded are the plan's
    assert.deepEqual(planSettings(cfg), { settings: plan.settings, methods: plan.methods });
  }
});

void test('a 10^6-trial grid is counted without expanding it', () => {
  const lrs = Array.from({ length: 1000 }, (_, i) => +(0.001 * (i + 1)).toFixed(3)).join(', ');
  const seeds = Array.from({ length: 100 }, (_, i) => i).join(', ');
  const cfg = parseSweepText(base.replace('seeds: [0]', `seeds: [${seeds}]`).replace('{ lr: 0.02, epochs: 1 }', `{ lr: [${lrs}], epochs: [1, 2, 3, 4, 5] }`), FILE);
  const c = planCounts(cfg);
  assert.equal(c.roles.method, 100 * 2 * 5000);
  assert.equal(c.trials, 100 * 2 * (5000 + 2));
});
