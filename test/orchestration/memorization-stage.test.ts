// The memorization forget set through the stage adapters (activities/compute-ml.ts) with an in-memory stage
// context (pure logic: no Temporal, S3 or SQL): train.original keeps the per-example training history in its
// checkpoint, and forgetset.select ranks by it (learning speed) — on the synthetic set the planted, deliberately
// mislabelled examples are the most memorized.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlCompute, datasetFor } from '../../activities/compute-ml.js';
import { mlConfig } from '../../config/index.js';
import { bytesJson, InvalidConfigError, type StageContext } from '../../activities/compute.js';
import type { StageSpec } from '../../sweep/plan.js';

const ml = mlConfig(process.env);
const mlCompute = createMlCompute(ml);

const dataset = { id: 'synthetic', subset: { perClass: 60, testPerClass: 30, seed: 0 }, params: { numClasses: 4, shape: [8, 8, 1] } };

function ctxFor(stage: Partial<StageSpec>, inputs: Record<string, Uint8Array> = {}): StageContext {
  return {
    stage: { key: `k-${stage.kind}`, queue: 'gpu', version: 1, label: String(stage.kind), inputs: {}, params: {}, ...stage } as StageSpec,
    sweepId: 'memorization-test',
    attempt: 1,
    input: async (role) => {
      const b = inputs[role];
      if (!b) throw new Error(`no input ${role}`);
      return b;
    },
    resume: async () => null,
    saveEpoch: async () => undefined,
    heartbeat: () => undefined,
    progress: () => undefined,
    signal: new AbortController().signal,
    curve: async () => undefined,
    log: () => undefined,
  };
}

void test('a memorization forget set (top) selects the planted mislabelled examples from the original\'s history', async () => {
  const original = await mlCompute.run(
    ctxFor({
      kind: 'train.original',
      params: { dataset, model: { id: 'mlp', params: { hidden: [32] } }, recipe: { name: 'q', epochs: 8, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 0, schedule: 'cosine', optimizer: 'sgd' }, seed: 0, compute: 'ml' },
    }),
  );
  const select = (mode: 'top' | 'bottom') =>
    mlCompute.run(
      ctxFor(
        { kind: 'forgetset.select', params: { dataset, kind: 'memorization', fraction: null, count: 12, classes: null, params: { mode }, seed: 0, compute: 'ml' }, inputs: { original: 'k-train.original' } },
        { original: original.bytes },
      ),
    );
  const top = bytesJson<{ ids: number[] }>((await select('top')).bytes).ids;
  const bottom = bytesJson<{ ids: number[] }>((await select('bottom')).bytes).ids;
  const planted = new Set(((await datasetFor(dataset, ml)).meta as { memorizedIds: number[] }).memorizedIds);
  assert.equal(planted.size, 12);
  assert.equal(top.length, 12);
  const hitsTop = top.filter((id) => planted.has(id)).length;
  const hitsBottom = bottom.filter((id) => planted.has(id)).length;
  assert.ok(hitsTop >= 9, `top-12 most memorized hold ${hitsTop} of the 12 planted examples`);
  assert.equal(hitsBottom, 0, 'the least memorized hold none of them');
});

void test('forgetset.select (memorization) without a training history is an invalid configuration, not a retry', async () => {
  const original = await mlCompute.run(
    ctxFor({
      kind: 'train.oracle',
      params: { dataset, model: { id: 'mlp', params: { hidden: [8] } }, recipe: { name: 'q', epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 0, schedule: 'cosine', optimizer: 'sgd' }, seed: 0, compute: 'ml' },
    }, { forgetSet: new TextEncoder().encode(JSON.stringify({ ids: [] })) }),
  );
  await assert.rejects(
    mlCompute.run(
      ctxFor(
        { kind: 'forgetset.select', params: { dataset, kind: 'memorization', fraction: null, count: 4, classes: null, params: { mode: 'top' }, seed: 0, compute: 'ml' }, inputs: { original: 'x' } },
        { original: original.bytes },
      ),
    ),
    (e: Error) => e instanceof InvalidConfigError && /no per-example training history/.test(e.message),
  );
});
