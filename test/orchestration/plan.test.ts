// Pure logic: hashing, sweep-file validation, stage-graph expansion (no services needed).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson, sha256Hex } from '../../sweep/hash.js';
import { expandSweep, expandGrid, TRAINING_KINDS, countByKind, planCounts } from '../../sweep/plan.js';
import { parseSweep, SweepFileError, type SweepConfig } from '../../sweep/schema.js';
import { loadSweepFile } from '../../cli/sweep-file.js';
import { mlRegistries } from '../../sweep/registries.js';
import { nodeSha256Hex } from '../../activities/plan-id.js';
import { estimateFromTimings, formatPlan } from '../../cli/sweep-plan.js';
import { smallGridYaml } from './fixtures.js';

void test('pure sha256 equals node:crypto on ASCII, unicode and block boundaries', () => {
  for (const s of ['', 'abc', 'α→β 🚀', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'w'.repeat(1000)]) {
    assert.equal(sha256Hex(s), createHash('sha256').update(s, 'utf8').digest('hex'), s.slice(0, 10));
  }
});

void test('canonicalJson ignores key order and undefined, keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } }), canonicalJson({ a: { d: [2, 1] }, b: 1 }));
  assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
  assert.throws(() => canonicalJson({ a: NaN }), /non-finite/);
  // the same text as the definition: keys sorted at every level, undefined members left out, in arrays null
  const v = { z: [3, { y: 'q"', x: undefined }, undefined, null], a: { c: true, b: 'é' }, m: [] as unknown[], e: {} };
  assert.equal(canonicalJson(v), '{"a":{"b":"é","c":true},"e":{},"m":[],"z":[3,{"y":"q\\""},null,null]}');
});

const base = `
name: t
seeds: [0, 1]
${smallGridYaml({ negGradPlus: true })}`;

function problems(text: string, file = 'sweeps/x.yaml'): string {
  try {
    parseSweep(text, file);
  } catch (e) {
    assert.ok(e instanceof SweepFileError);
    return e.message;
  }
  assert.fail('expected a SweepFileError');
}

void test('sweep file errors name the file, the path and the problem', () => {
  const bad = base.replace('beta: 0.95 }', 'beta: 0.95, lr: fast }').replace('{ lr: 0.05, epochs: 1, beta', '{ epochs: 1, beta');
  assert.match(problems(bad), /^sweeps\/x\.yaml: grid\.algorithms\[2\]\.hparams\.lr: expected number, received string$/m);
  assert.match(problems(base.replace('epochs: 2,', 'epochs: -2,')), /sweeps\/x\.yaml: grid\.recipes\[0\]\.epochs: .*>0|too small/);
  assert.match(problems(base.replace('seeds: [0, 1]', 'seeds: []')), /sweeps\/x\.yaml: seeds: /);
  assert.match(problems(base + 'bogus: 1\n'), /sweeps\/x\.yaml: \(root\): Unrecognized key.*bogus/);
  assert.match(problems(base.replace('{ kind: iid, fraction: 0.1 }', '{ kind: iid }')), /grid\.forgetSets\[0\]: give exactly one of fraction or count/);
  assert.match(problems('name: [unclosed\n'), /sweeps\/x\.yaml: line \d+: /);
  assert.equal(parseSweep(base, 'a.yaml').name, 't', 'a valid file parses');
});

void test('YAML alias bombs are refused (maxAliasCount)', () => {
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 8; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  assert.match(problems(bomb), /sweeps\/x\.yaml: \(root\): .*[Ee]xcessive alias count/);
});

void test('JSON sweep files are accepted and registries check names', () => {
  const cfg = parseSweep(JSON.stringify({ name: 'j', seeds: [0], grid: { datasets: [{ id: 'synthetic' }], models: [{ id: 'mlp' }], recipes: [{ name: 'r', epochs: 1, batchSize: 8, lr: 0.1 }], forgetSets: [{ kind: 'iid', count: 5 }], algorithms: [{ name: 'finetune' }] } }), 'x.json');
  assert.equal(cfg.execution.window, 8);
  assert.equal(cfg.compute, 'ml');
  assert.throws(() => parseSweep(base, 'x.yaml', { algorithms: ['del', 'finetune'] }), /x\.yaml: grid\.algorithms\[2\]\.name: unknown algorithm "neggrad-plus"/);
});

void test('example sweeps in sweeps/ validate', () => {
  for (const f of ['sweeps/demo.yaml', 'sweeps/synthetic-test.yaml', 'sweeps/cifar10-resnet18-paper.yaml', 'sweeps/noop-small.yaml', 'sweeps/mnist-del-tuning.yaml', 'sweeps/mnist-memorization.yaml']) loadSweepFile(f, mlRegistries());
});

const cfgOf = (text: string): SweepConfig => parseSweep(text, 't.yaml');

void test('expansion shares originals, forget sets, oracles and masks; one unlearn/evaluate/record per trial', () => {
  const plan = expandSweep(cfgOf(base), 's1');
  const c = countByKind(plan.stages);
  assert.deepEqual(c, { 'forgetset.select': 4, 'train.original': 2, 'train.oracle': 4, localize: 4, unlearn: 12, evaluate: 20, record: 20 });
  // 2 forget sets × 2 seeds × (3 algorithms + retrain + original) trials
  assert.equal(plan.trials.length, 20);
  assert.equal(new Set(plan.stages.map((s) => s.key)).size, plan.stages.length);
  // topological order
  const pos = new Map(plan.stages.map((s, i) => [s.key, i]));
  for (const s of plan.stages) for (const k of Object.values(s.inputs)) assert.ok((pos.get(k) ?? Infinity) < (pos.get(s.key) as number));
  // the original of a seed serves both forget sets and all algorithms
  const unlearnOriginals = new Set(plan.stages.filter((s) => s.kind === 'unlearn').map((s) => s.inputs.original));
  assert.equal(unlearnOriginals.size, 2);
  // deterministic
  assert.deepEqual(expandSweep(cfgOf(base), 's1').stages.map((s) => s.key), plan.stages.map((s) => s.key));
  // node:crypto's digests (the planning activity and the CLI) give the same plan: keys, trial ids, setting and method keys
  assert.deepEqual(expandSweep(cfgOf(base), 's1', { sha256: nodeSha256Hex }), plan);
});

void test('a second localized algorithm with the same strategy and α shares the mask', () => {
  const two = base.replace('    - { name: finetune', '    - { name: salun-like, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.01 } }\n    - { name: finetune');
  const c = countByKind(expandSweep(cfgOf(two), 's').stages);
  assert.equal(c.localize, 4);
  assert.equal(c.unlearn, 16);
});

void test('adding an algorithm adds only its own stages; another sweep id changes only record keys', () => {
  const a = expandSweep(cfgOf(base), 's1');
  const more = base + '    - { name: l1-sparse, hparams: { lr: 0.05, epochs: 1 } }\n';
  const b = expandSweep(cfgOf(more), 's1');
  const ka = new Set(a.stages.map((s) => s.key));
  const added = b.stages.filter((s) => !ka.has(s.key));
  assert.ok(a.stages.every((s) => b.stages.some((t) => t.key === s.key)), 'old stages keep their keys');
  assert.deepEqual(countByKind(added), { unlearn: 4, evaluate: 4, record: 4 });
  assert.ok(!added.some((s) => s.kind === 'train.original' || s.kind === 'train.oracle'));
  const c = expandSweep(cfgOf(base), 's2');
  const changed = c.stages.filter((s) => !ka.has(s.key));
  assert.ok(changed.length > 0 && changed.every((s) => s.kind === 'record'));
  // the compute mode is part of every key
  const noop = expandSweep(cfgOf(base + 'compute: noop\n'), 's1');
  assert.ok(noop.stages.every((s) => !ka.has(s.key)));
  assert.ok(TRAINING_KINDS.includes('train.original'));
});

void test('hyperparameter grids expand as a cartesian product', () => {
  assert.deepEqual(expandGrid({ lr: [0.1, 0.2], epochs: 3, b: [true, false] }), [
    { b: true, epochs: 3, lr: 0.1 }, { b: true, epochs: 3, lr: 0.2 }, { b: false, epochs: 3, lr: 0.1 }, { b: false, epochs: 3, lr: 0.2 },
  ]);
  const grid = base.replace('hparams: { lr: 0.05, epochs: 1 } }\n    - { name: neggrad', 'hparams: { lr: [0.01, 0.05, 0.1], epochs: [1, 2] } }\n    - { name: neggrad');
  assert.equal(countByKind(expandSweep(cfgOf(grid), 's').stages).unlearn, 4 * (1 + 6 + 1));
  void readFileSync;
});

void test('memorization forget sets: selected once per original, after it; labelled by their end of the ranking; checked against the library', () => {
  const text = base.replace(
    '    - { kind: classes, classes: [1], fraction: 0.1 }',
    '    - { kind: memorization, count: 6, params: { mode: top } }\n    - { kind: memorization, count: 6, params: { mode: bottom } }',
  );
  const plan = expandSweep(cfgOf(text), 's1');
  const selects = plan.stages.filter((s) => s.kind === 'forgetset.select');
  const originals = plan.stages.filter((s) => s.kind === 'train.original');
  // iid: one per seed, no inputs; memorization: one per (mode, seed), fed by that seed's original
  assert.equal(selects.filter((s) => Object.keys(s.inputs).length === 0).length, 2);
  const mem = selects.filter((s) => s.inputs.original);
  assert.equal(mem.length, 4);
  for (const s of mem) assert.ok(originals.some((o) => o.key === s.inputs.original));
  const pos = new Map(plan.stages.map((s, i) => [s.key, i]));
  for (const s of mem) assert.ok((pos.get(s.inputs.original as string) as number) < (pos.get(s.key) as number));
  // distinct labels, so the two memorization sets keep separate trials (3 forget sets × 2 seeds × 5)
  assert.deepEqual([...new Set(plan.trials.map((t) => t.forgetSet))].sort(), ['iid:0.1', 'memorization:bottom:n6', 'memorization:top:n6']);
  assert.equal(plan.trials.length, 30);
  // and separate result groups (the leaderboard groups by forget kind and fraction)
  assert.deepEqual([...new Set(plan.trials.map((t) => t.forgetKind))].sort(), ['iid', 'memorization-bottom', 'memorization-top']);
  // a memorization entry without its mode is refused with the path, before anything starts
  const bad = base.replace('    - { kind: classes, classes: [1], fraction: 0.1 }', '    - { kind: memorization, count: 6 }');
  const mlReg = mlRegistries();
  assert.throws(() => parseSweep(bad, 'sweeps/m.yaml', mlReg), (e: Error) => /sweeps\/m\.yaml: grid\.forgetSets\[1\]\.params\.mode: /.test(e.message));
});

void test("a sweep sets the channel aggregation of a localization; absent, the mask stage leaves it to the architecture", () => {
  const withMean = base.replace('localization: { strategy: wg-channel, alpha: 0.3 }', 'localization: { strategy: wg-channel, alpha: 0.3, channelAggregate: mean }');
  const masks = (text: string) => expandSweep(parseSweep(text, 'x.yaml', mlRegistries()), 's').stages.filter((s) => s.kind === 'localize');
  const dflt = masks(base), mean = masks(withMean);
  assert.ok(dflt.length > 0);
  assert.ok(dflt.every((s) => !('channelAggregate' in s.params)));
  assert.ok(mean.every((s) => s.params.channelAggregate === 'mean'));
  assert.notEqual(dflt[0].key, mean[0].key, 'a different aggregation is a different mask');
  const delTrials = (text: string) => expandSweep(parseSweep(text, 'x.yaml', mlRegistries()), 's').trials.filter((t) => t.algorithm === 'del');
  assert.notEqual(delTrials(base)[0].methodKey, delTrials(withMean)[0].methodKey, 'and a different method: never one leaderboard row');
  assert.match(problems(base.replace('alpha: 0.3 }', 'alpha: 0.3, channelAggregate: median }')), /grid\.algorithms\[0\]\.localization\.channelAggregate: /);
});

void test('evaluation protocol: N retrained and N unlearned models per setting of the first seed, shared with the ordinary trials and across sweeps', () => {
  const N = 4;
  const withProtocol = (text: string) => text + `evaluation: { mia: true, perExample: true, batchSize: 256, protocol: { kind: neurips23, models: ${N} } }\n`;
  const cfg = parseSweep(withProtocol(base), 'p.yaml', mlRegistries());
  const plan = expandSweep(cfg, 'p');
  const plain = expandSweep(parseSweep(base, 'b.yaml', mlRegistries()), 'p');
  const byKind = countByKind(plan.stages), plainByKind = countByKind(plain.stages);
  const settings = 2; // 1 dataset × 1 model × 1 recipe × 2 forget sets, first seed only
  const methods = 3; // del, finetune, neggrad-plus
  assert.equal(byKind['train.oracle'], plainByKind['train.oracle'] + settings * (N - 1));
  assert.equal(byKind.unlearn, plainByKind.unlearn + settings * methods * (N - 1));
  assert.equal(byKind['protocol.score'], settings * methods);
  assert.equal(byKind['train.original'], plainByKind['train.original'], 'every unlearned model starts from the one original');
  assert.deepEqual(planCounts(cfg).byKind, byKind, 'the arithmetic count equals the expansion');

  const stage = new Map(plan.stages.map((s) => [s.key, s]));
  for (const t of plan.trials.filter((x) => x.role === 'method')) {
    const record = stage.get(t.stages.record)!;
    const protocolKey = (record.inputs as Record<string, string>).protocol;
    if (t.seed !== cfg.seeds[0]) {
      assert.equal(protocolKey, undefined, 'later seeds carry no protocol');
      continue;
    }
    const p = stage.get(protocolKey)!;
    assert.equal(p.kind, 'protocol.score');
    const inputs = p.inputs as Record<string, string>;
    assert.equal(Object.keys(inputs).length, 2 * N);
    assert.equal(inputs['unlearn.0'], t.stages.evaluate, "model 0 is the ordinary trial's");
    const oracleTrial = plan.trials.find((o) => o.role === 'oracle' && o.seed === t.seed && o.forgetSet === t.forgetSet)!;
    assert.equal(inputs['retrain.0'], oracleTrial.stages.evaluate, "retrained model 0 is the ordinary oracle's");
    const seeds = new Set(Object.keys(inputs).filter((r) => r.startsWith('unlearn.')).map((r) => (stage.get((stage.get(inputs[r])!.inputs as Record<string, string>).model)!.params as { seed: number }).seed));
    assert.equal(seeds.size, N, 'N distinct unlearning seeds');
  }

  // a second protocol sweep over the same setting, other name and methods: every retrained model is the same stage
  const other = expandSweep(parseSweep(withProtocol(base.replace('name: t', 'name: other').replace(/    - \{ name: del.*\n/, '').replace(/    - \{ name: neggrad-plus.*\n/, '')), 'o.yaml', mlRegistries()), 'o');
  const oracles = (p: typeof plan) => new Set(p.stages.filter((s) => s.kind === 'train.oracle').map((s) => s.key));
  assert.deepEqual(oracles(other), oracles(plan), 'no new retrain: the oracles are shared stages');
  // a larger N reuses every model (and its evaluation) of a smaller one: N is not part of the evaluate stages' keys
  const plan8 = expandSweep(parseSweep(withProtocol(base).replace(`models: ${N}`, 'models: 8'), 'p8.yaml', mlRegistries()), 'p');
  const keys8 = new Set(plan8.stages.map((s) => s.key));
  for (const s of plan.stages) if (s.kind !== 'protocol.score' && s.kind !== 'record') assert.ok(keys8.has(s.key), `N = 8 reuses ${s.kind} ${s.label}`);

  assert.match(problems(withProtocol(base) + 'oracle: false\n'), /evaluation\.protocol: needs the oracle/);
  assert.match(problems(withProtocol(base).replace('models: 4', 'models: 2')), /evaluation\.protocol\.models: /);
});

void test('the compute estimate uses timings of the same data set and model only; cached stages are taken off', () => {
  const yaml = (ds: string) => `name: est\nseeds: [0, 1]\ngrid:\n  datasets: [${ds}]\n  models: [{ id: mlp, params: { hidden: [8] } }]\n  recipes: [{ name: r, epochs: 1, batchSize: 8, lr: 0.1 }]\n  forgetSets: [{ kind: iid, fraction: 0.1 }]\n  algorithms: [{ name: finetune, hparams: { lr: 0.01, epochs: 1 } }]\n`;
  const cfg = parseSweep(yaml('{ id: synthetic }'), 'est.yaml');
  const counts = planCounts(cfg);
  const dataset = { id: 'synthetic', subset: null, params: {} };
  const model = { id: 'mlp', params: { hidden: [8] } };
  const times: Record<string, number> = { 'forgetset.select': 0.5, 'train.original': 10, 'train.oracle': 9, unlearn: 3, evaluate: 1, record: 0.1 };
  // the same kinds timed on another data set (e.g. CIFAR-10 stages of minutes): never used for this one
  const other = Object.entries(times).map(([kind, t]) => ({ kind, dataset: { id: 'mnist', subset: null, params: {} }, model, median: t * 100 }));
  const none = estimateFromTimings(cfg, counts, undefined, other.filter((t) => t.kind !== 'record'));
  assert.deepEqual(none.missing, ['forgetset.select', 'train.original', 'train.oracle', 'unlearn', 'evaluate', 'record']);
  assert.equal(none.seconds, 0);
  assert.match(formatPlan(cfg, 'est', { counts, settings: 1, methods: 3, estimate: none }), /estimate: unknown/);

  const same = Object.entries(times).map(([kind, t]) => ({
    kind, dataset: kind === 'record' ? null : dataset, model: kind === 'record' || kind === 'forgetset.select' ? null : model, median: t,
  }));
  const all = estimateFromTimings(cfg, counts, undefined, [...other, ...same]);
  assert.deepEqual(all.missing, []);
  const expected = Object.entries(times).reduce((a, [kind, t]) => a + counts.byKind[kind as keyof typeof counts.byKind] * t, 0);
  assert.ok(Math.abs(all.seconds - expected) < 1e-9, `${all.seconds} vs ${expected}`);
  // every original and oracle cached: their time is taken off
  const cached = { 'train.original': counts.byKind['train.original'], 'train.oracle': counts.byKind['train.oracle'] };
  const rest = estimateFromTimings(cfg, counts, cached, same);
  assert.ok(Math.abs(rest.seconds - (expected - counts.byKind['train.original'] * 10 - counts.byKind['train.oracle'] * 9)) < 1e-9);
});
