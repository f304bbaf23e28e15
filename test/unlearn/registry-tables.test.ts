// Every name a registry offers has the entries docs/extending.md lists: an algorithm needs hyperparameters in the
// `unlearn` bench's table and a case in the baseline test's table (or a stated reason not to), and a row in
// docs/method.md; a localization strategy and a forget-set kind need theirs too. Pure: no services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ALGORITHM_NAMES } from '../../ml/unlearn/registry.js';
import { STRATEGIES } from '../../ml/unlearn/localize.js';
import { ForgetSetSpec } from '../../ml/unlearn/forget-sets.js';
import { FORGET_KINDS } from '../../sweep/registries.js';
import { BENCH_HPARAMS } from '../../bench/unlearn-hparams.js';
import { BASELINE_CASES } from './baselines.js';

const method = readFileSync(new URL('../../docs/method.md', import.meta.url), 'utf8');

/** Algorithms the baseline test leaves out, and why (a new algorithm is not exempt by default). */
const NOT_IN_BASELINE_TEST: Record<string, string> = {
  del: 'tested by its own cases in test/unlearn/unlearn.test.ts (reset, mask, head, budget)',
  retrain: 'the oracle, the reference the baselines are measured against',
};
const NOT_IN_BENCH: Record<string, string> = { retrain: 'the bench trains the oracle itself, with the original\'s recipe' };

void test('every registered algorithm has its entry in the bench\'s and the tests\' tables and in docs/method.md', () => {
  const tested = new Set(BASELINE_CASES.map((c) => c.algorithm));
  for (const name of ALGORITHM_NAMES) {
    assert.ok(name in BENCH_HPARAMS || name in NOT_IN_BENCH, `${name}: add its hyperparameters to bench/unlearn-hparams.ts`);
    assert.ok(tested.has(name) || name in NOT_IN_BASELINE_TEST, `${name}: add a case to test/unlearn/baselines.ts`);
    assert.ok(method.includes(`\`${name}\``), `${name}: describe it in docs/method.md ("Baselines")`);
  }
  // and nothing stale: every table entry names a registered algorithm
  for (const name of [...Object.keys(BENCH_HPARAMS), ...tested]) assert.ok((ALGORITHM_NAMES as string[]).includes(name), `${name} is not a registered algorithm`);
});

void test('every localization strategy and forget-set kind is in docs/method.md, and the sweep schema offers the library\'s kinds', () => {
  for (const s of STRATEGIES) assert.ok(method.includes(`\`${s}\``), `strategy ${s}: add it to docs/method.md ("Localization")`);
  const libraryKinds = ForgetSetSpec.options.map((o) => o.shape.kind.value).sort();
  assert.deepEqual([...FORGET_KINDS].sort(), libraryKinds, 'sweep/registries.ts FORGET_KINDS must list ml/unlearn/forget-sets.ts kinds');
  for (const k of FORGET_KINDS) assert.ok(method.includes(`\`${k}\``), `forget-set kind ${k}: add it to docs/method.md ("Forget sets")`);
});
