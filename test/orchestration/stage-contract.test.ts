// The stage contract (sweep/stages.ts): the planner's params carry exactly the fields each kind's type names, and
// failures are classified by error class into the one list of non-retryable types the workflow's retry policy
// reads. Pure logic: no services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSweepText } from '../../sweep/registries.js';
import { expandSweep } from '../../sweep/plan.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES, STAGE_KINDS, type StageParamsByKind } from '../../sweep/stages.js';
import { boundedErrorText, nonRetryableType, STAGE_ERROR_CHARS } from '../../activities/stages.js';
import { InvalidConfigError } from '../../activities/compute.js';
import { DivergenceError, InvalidHparamsError, InvalidInputError, UnknownAlgorithmError } from '../../ml/errors.js';
import { getAlgorithm, parseHparams } from '../../ml/unlearn/registry.js';
import { selectForgetSet } from '../../ml/unlearn/forget-sets.js';
import { localize } from '../../ml/unlearn/localize.js';

// The fields of each kind's params type (sweep/stages.ts), written out: a planner change that adds, drops or
// renames a field fails here until the type and this list say the same.
const FIELDS: { [K in keyof StageParamsByKind]-?: (keyof StageParamsByKind[K])[] } = {
  'forgetset.select': ['dataset', 'kind', 'fraction', 'count', 'classes', 'params', 'seed', 'compute'],
  'train.original': ['dataset', 'model', 'recipe', 'seed', 'compute'],
  'train.oracle': ['dataset', 'model', 'recipe', 'seed', 'compute'],
  localize: ['dataset', 'model', 'strategy', 'alpha', 'seed', 'compute', 'channelAggregate'],
  unlearn: ['dataset', 'model', 'recipe', 'algorithm', 'hparams', 'seed', 'compute', 'maskStrategy', 'maskAlpha'],
  evaluate: ['dataset', 'model', 'evaluation', 'compute'],
  'protocol.score': ['dataset', 'model', 'kind', 'models', 'compute'],
  record: ['sweepId', 'trial', 'model', 'stageKeys', 'compute'],
};
const OPTIONAL = new Set(['maskStrategy', 'maskAlpha', 'cacheNamespace', 'channelAggregate']);

void test('every stage the planner makes carries exactly the fields of its kind\'s params type', () => {
  const demo = readFileSync('sweeps/demo.yaml', 'utf8');
  const sources: [string, string][] = [
    ['sweeps/demo.yaml', demo],
    ['sweeps/mnist-memorization.yaml', readFileSync('sweeps/mnist-memorization.yaml', 'utf8')],
    ['demo with the evaluation protocol', demo.replace(/^evaluation: .*$/m, 'evaluation: { mia: true, perExample: true, batchSize: 256, protocol: { kind: neurips23, models: 3 } }')],
  ];
  const seen = new Set<string>();
  for (const [file, text] of sources) {
    const plan = expandSweep(parseSweepText(text, file), 'contract');
    for (const s of plan.stages) {
      seen.add(s.kind);
      const want = FIELDS[s.kind] as string[];
      const got = Object.keys(s.params);
      for (const k of got) assert.ok(want.includes(k), `${file}: ${s.kind} has field ${k} its type does not name`);
      for (const k of want) if (!OPTIONAL.has(k)) assert.ok(got.includes(k), `${file}: ${s.kind} lacks field ${k}`);
    }
  }
  assert.deepEqual([...seen].sort(), [...STAGE_KINDS].sort(), 'the plans have every stage kind between them');
});

void test('the library throws typed errors for bad input, and the activity classifies them without reading messages', async () => {
  assert.throws(() => getAlgorithm('no-such-algorithm'), UnknownAlgorithmError);
  assert.throws(() => parseHparams('finetune', { lr: -1 }), InvalidHparamsError);
  assert.throws(() => selectForgetSet({ kind: 'iid', seed: 0 } as never, { labels: [0, 1, 0, 1] }), InvalidInputError);
  assert.throws(() => selectForgetSet({ kind: 'classes', classes: [2], count: 1, seed: 0 }, { labels: [0, 1, 0, 1] }), InvalidInputError);
  await assert.rejects(localize({ model: { params: () => [], spec: { arch: 'mlp' } } as never, forget: {} as never }, { strategy: 'nope' as never, alpha: 0.1 }), InvalidInputError);

  // Classified by class: a message that merely looks like one is retried.
  assert.equal(nonRetryableType(new UnknownAlgorithmError('x', ['del'])), FailureType.InvalidConfig);
  assert.equal(nonRetryableType(new InvalidHparamsError('del', ['del.lr: too small'])), FailureType.InvalidConfig);
  assert.equal(nonRetryableType(new InvalidConfigError('recipe q: optimizer adam')), FailureType.InvalidConfig);
  assert.equal(nonRetryableType(new DivergenceError(1, 2, NaN)), FailureType.Diverged);
  assert.equal(nonRetryableType(new Error('invalid hyperparameters: looks like one')), undefined);
  assert.equal(nonRetryableType(Object.assign(new Error('x'), { name: 'DivergenceError' })), undefined);
  // every type the activity can raise is one the workflow will not retry
  for (const t of Object.values(FailureType)) assert.ok(NON_RETRYABLE_FAILURE_TYPES.includes(t));
});

void test('a stage error text is bounded and storable: no NUL, cut at the limit with its full length named', () => {
  assert.equal(boundedErrorText('short\u0000 text'), 'short text');
  const long = 'x'.repeat(3_000_000);
  const b = boundedErrorText(long);
  assert.ok(b.length < STAGE_ERROR_CHARS + 100, `${b.length} characters`);
  assert.ok(b.startsWith('x'.repeat(STAGE_ERROR_CHARS)));
  assert.match(b, /3,000,000 characters; the whole text is in the worker's log/);
  assert.equal(boundedErrorText('y'.repeat(STAGE_ERROR_CHARS)), 'y'.repeat(STAGE_ERROR_CHARS));
});
