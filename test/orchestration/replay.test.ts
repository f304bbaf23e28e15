// Workflow code upgrades must not break running sweeps: a worker with new workflow code replays the histories of
// sweeps that earlier code started (after a restart, a cache eviction, a host lost). This test replays the
// committed histories of every generation of the workflow's commands (test/orchestration/replay/histories/<gen>,
// the current one recorded by `npm run record:histories`) against the workflow bundle workers build now; a change that alters the sequence of commands for an existing history fails
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
import { CURRENT_GENERATION, HISTORIES_DIR } from './replay/record.js';

Runtime.install({ logger: new DefaultLogger('WARN') });
/** generation folder → its history files */
const generations = Object.fromEntries(
  readdirSync(HISTORIES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => [d.name, readdirSync(path.join(HISTORIES_DIR, d.name)).filter((f) => f.endsWith('.json')).sort()]),
);
const load = (gen: string, f: string) => historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, gen, f), 'utf8')));
const EventType = temporal.api.enums.v1.EventType;
const events = (gen: string, f: string) => load(gen, f).events ?? [];
const has = (gen: string, f: string, type: protos.temporal.api.enums.v1.EventType) => events(gen, f).some((e) => e.eventType === type);

void test('each generation of recorded histories covers a completed, an all-cached, a continued-as-new and a cancelled sweep', () => {
  assert.ok('before-chains' in generations && CURRENT_GENERATION in generations, Object.keys(generations).join(', '));
  for (const [gen, files] of Object.entries(generations)) {
    assert.ok(files.includes('completed.json') && files.includes('all-cached.json') && files.includes('cancelled.json'), `${gen}: ${files.join(', ')}`);
    const runs = files.filter((f) => f.startsWith('continued-as-new-run'));
    assert.ok(runs.length >= 2, `${gen}: continue-as-new recorded over several runs: ${runs.join(', ')}`);
    // The events that make them worth replaying.
    assert.ok(has(gen, 'completed.json', EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED), `${gen} completed: stage activities ran`);
    assert.ok(has(gen, runs[0], EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW), `${gen}: first run continued as new`);
    assert.ok(has(gen, 'cancelled.json', EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED), `${gen}: cancel requested`);
    assert.ok(has(gen, 'cancelled.json', EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), `${gen}: running stages were cancelled`);
  }
  // What tells the generations apart: the chains' patch marker and runChain activities, present only in the new one.
  const scheduled = (gen: string) => events(gen, 'completed.json').map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  const marker = (gen: string) => events(gen, 'completed.json').some((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
  assert.ok(scheduled(CURRENT_GENERATION).includes('runChain') && marker(CURRENT_GENERATION), `${CURRENT_GENERATION}: ${scheduled(CURRENT_GENERATION).join(', ')}`);
  assert.ok(!scheduled('before-chains').includes('runChain') && !marker('before-chains'), 'before-chains: one activity per stage, no patch marker');
});

void test('every recorded history of every generation replays on the current workflow code', async () => {
  const bundle = await workflowBundle();
  for (const [gen, files] of Object.entries(generations)) {
    for (const f of files) {
      await assert.doesNotReject(Worker.runReplayHistory({ workflowBundle: bundle }, load(gen, f), `${gen}/${f}`), `${gen}/${f} replays without nondeterminism`);
    }
  }
});

void test('replay catches a change in the commands a workflow issues (history with a stage scheduled on another activity)', async () => {
  const bundle = await workflowBundle();
  for (const gen of Object.keys(generations)) {
    const h = load(gen, 'completed.json');
    // Pretend the recorded run scheduled a different activity first: replay must report nondeterminism.
    const ev = (h.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
    assert.ok(ev, 'the history schedules an activity');
    ev.activityTaskScheduledEventAttributes!.activityType!.name = 'someOtherActivity';
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: bundle }, h, 'tampered'), (e: Error) => /determinism|nondetermin/i.test(`${e.name} ${e.message}`), gen);
  }
});
