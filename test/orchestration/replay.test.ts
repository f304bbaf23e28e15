// Workflow code upgrades must not break running sweeps: a worker with new workflow code replays the histories of
// sweeps that earlier code started (after a restart, a cache eviction, a host lost). This test replays the
// committed histories (test/orchestration/replay/histories, recorded by `npm run record:histories`) against the
// workflow bundle workers build now; a change that alters the sequence of commands for an existing history fails
// here (guard it with `patched()`, see docs/deployment.md). No services needed: replay runs in the process.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import protos from '@temporalio/proto';
const { temporal } = protos;
import { workflowBundle } from '../../workers/worker.js';
import { HISTORIES_DIR } from './replay/record.js';

Runtime.install({ logger: new DefaultLogger('WARN') });
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();
const load = (f: string) => historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8')));
const EventType = temporal.api.enums.v1.EventType;
const has = (f: string, type: protos.temporal.api.enums.v1.EventType) => (load(f).events ?? []).some((e) => e.eventType === type);

void test('the recorded histories cover a completed, an all-cached, a continued-as-new and a cancelled sweep', () => {
  assert.ok(files.includes('completed.json') && files.includes('all-cached.json') && files.includes('cancelled.json'), files.join(', '));
  const runs = files.filter((f) => f.startsWith('continued-as-new-run'));
  assert.ok(runs.length >= 2, `continue-as-new recorded over several runs: ${runs.join(', ')}`);
  // The events that make them worth replaying.
  assert.ok(has('completed.json', EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED), 'completed: stage activities ran');
  assert.ok(has(runs[0], EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW), 'first run continued as new');
  assert.ok(has('cancelled.json', EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED), 'cancel requested');
  assert.ok(has('cancelled.json', EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), 'running stages were cancelled');
});

void test('every recorded history replays on the current workflow code', async () => {
  const bundle = await workflowBundle();
  for (const f of files) {
    await assert.doesNotReject(Worker.runReplayHistory({ workflowBundle: bundle }, load(f), f), `${f} replays without nondeterminism`);
  }
});

void test('replay catches a change in the commands a workflow issues (history with a stage scheduled on another activity)', async () => {
  const bundle = await workflowBundle();
  const h = load('completed.json');
  // Pretend the recorded run scheduled a different activity first: the current code issues runStage/prepareSweep,
  // so replay must report nondeterminism.
  const ev = (h.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
  assert.ok(ev, 'the history schedules an activity');
  ev.activityTaskScheduledEventAttributes!.activityType!.name = 'someOtherActivity';
  await assert.rejects(Worker.runReplayHistory({ workflowBundle: bundle }, h, 'tampered'), (e: Error) => /determinism|nondetermin/i.test(`${e.name} ${e.message}`));
});
