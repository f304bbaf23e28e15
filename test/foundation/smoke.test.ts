// The smoke path through all three services: a client starts a workflow on the Temporal server; a real Worker
// runs the activity, which writes an object to S3 and a row to PostgreSQL; the test reads both back.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { createSmokeActivities } from '../../activities/smoke.js';
import { openDb, type DbHandle } from '../../db/client.js';
import { artifacts } from '../../db/schema.js';
import { connectionOptions } from '../../infra/temporal.js';
import { s3Config, temporalConfig } from '../../config/index.js';
import { ObjectStore } from '../../storage/object-store.js';
import { smokeWorkflow } from '../../workflows/smoke.js';
import { requireEnv, SERVICE_VARS, uniq } from './env.js';

let h: DbHandle;
let store: ObjectStore;
before(() => {
  requireEnv(...SERVICE_VARS);
  Runtime.install({ logger: new DefaultLogger('WARN') }); // no per-state-change INFO lines in test output
  h = openDb();
  store = new ObjectStore(s3Config(process.env));
});
after(async () => {
  await h.close();
  store.destroy();
});

void test('a workflow completes through Temporal; its activity wrote an object to S3 and a row to PostgreSQL', { timeout: 120_000 }, async () => {
  const cfg = temporalConfig(process.env);
  const taskQueue = `foundation-smoke-${uniq()}`;
  const nativeConnection = await NativeConnection.connect(connectionOptions(cfg));
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: cfg.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../workflows/smoke.ts', import.meta.url)),
    activities: createSmokeActivities({ store, db: h.db }),
  });
  const connection = await Connection.connect(connectionOptions(cfg));
  const client = new Client({ connection, namespace: cfg.namespace });
  const key = `foundation-test/smoke/${uniq()}.txt`;
  const text = `hello from the smoke workflow ${key}`;
  const workflowId = `smoke-${uniq()}`;
  try {
    const result = await worker.runUntil(
      client.workflow.execute(smokeWorkflow, { taskQueue, workflowId, args: [{ key, text }], workflowExecutionTimeout: '2 minutes' }),
    );
    const sha = createHash('sha256').update(text).digest('hex');
    assert.equal(result.workflowId, workflowId);
    assert.equal(result.sha256, sha);
    // The history on the server says the workflow completed.
    const desc = await client.workflow.getHandle(workflowId).describe();
    assert.equal(desc.status.name, 'COMPLETED');
    // The object, read back and verified.
    assert.equal((await store.getBytes(key)).toString('utf8'), text);
    // The row, read back through drizzle.
    const [row] = await h.db.select().from(artifacts).where(eq(artifacts.key, key));
    assert.ok(row, 'artifacts row missing');
    assert.equal(row.sha256, sha);
    assert.equal(row.bytes, Buffer.byteLength(text));
    assert.equal(row.uri, `s3://${store.bucket}/${key}`);
    assert.equal((row.metadata as { workflowId?: string }).workflowId, workflowId);
  } finally {
    await store.delete(key).catch(() => {});
    await connection.close();
    await nativeConnection.close();
  }
});
