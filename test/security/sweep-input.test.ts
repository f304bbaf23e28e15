// A sweep config arriving in a workflow input is re-validated by the worker (planSweep) with the CLI's schema and
// registries before anything is recorded or planned: a crafted input that no sweep file could produce fails
// non-retryably (InvalidConfig), naming the field; a config the CLI accepts still plans.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, defaultDeps, type ActivityDeps } from '../../activities/stages.js';
import { noopCompute } from '../../activities/compute.js';
import { parseSweepText } from '../../sweep/registries.js';
import type { SweepConfig } from '../../sweep/schema.js';
import { requireEnv, uniq } from '../foundation/env.js';
import { workerConfig } from '../../config/index.js';

let deps: ActivityDeps;
before(() => {
  requireEnv('DATABASE_URL', 'S3_ENDPOINT');
  const cfg = workerConfig(process.env);
  deps = defaultDeps({ noop: noopCompute }, 'security-test', { s3: cfg.s3, databaseUrl: cfg.databaseUrl, host: cfg.host });
});
after(async () => { await deps?.db.close(); });

const valid = (): SweepConfig => {
  const cfg = parseSweepText(readFileSync(new URL('../../sweeps/noop-small.yaml', import.meta.url), 'utf8'), 'noop-small.yaml');
  return { ...cfg, cacheNamespace: `sec-${uniq()}` } as SweepConfig;
};

void test('planSweep refuses a crafted workflow input before recording anything, naming the field', async () => {
  const acts = createActivities(deps);
  const env = new MockActivityEnvironment();
  const base = valid();
  const crafted: [string, unknown, RegExp][] = [
    ['unknown algorithm', { ...base, grid: { ...base.grid, algorithms: [{ name: 'rm-rf' }] } }, /grid\.algorithms\[0\]\.name: unknown algorithm "rm-rf"/],
    ['negative epochs', { ...base, grid: { ...base.grid, recipes: [{ ...base.grid.recipes[0], epochs: -5 }] } }, /grid\.recipes\[0\]\.epochs/],
    ['unknown field', { ...base, shell: 'touch /tmp/x' }, /shell/],
    ['not an object', 'name: x', /expected an object/],
    ['unknown dataset', { ...base, grid: { ...base.grid, datasets: [{ id: '../../etc' }] } }, /grid\.datasets\[0\]\.id/],
  ];
  for (const [what, config, why] of crafted) {
    const sweepId = `sec-crafted-${uniq()}`;
    await assert.rejects(env.run(acts.planSweep, { sweepId, config: config as SweepConfig }), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure, `${what}: ${String(e)}`);
      assert.equal(e.type, 'InvalidConfig', what);
      assert.equal(e.nonRetryable, true, what);
      assert.match(e.message, /invalid sweep config: workflow input of sweep "sec-crafted-/, what);
      assert.match(e.message, why, what);
      return true;
    });
    const rows = await deps.db.pool.query('SELECT 1 FROM sweeps WHERE id = $1', [sweepId]);
    assert.equal(rows.rowCount, 0, `${what}: nothing recorded`);
  }
});

void test('a config the CLI accepts is planned', async () => {
  const acts = createActivities(deps);
  const sweepId = `sec-valid-${uniq()}`;
  const info = (await new MockActivityEnvironment().run(acts.planSweep, { sweepId, config: valid() })) as { stages: number };
  assert.ok(info.stages > 0);
  await deps.db.pool.query('DELETE FROM trials WHERE sweep_id = $1', [sweepId]);
});
