// The stack entry point: a second start starts nothing; bad configuration fails fast, naming the variable.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureStack, pidAlive, stopStack } from '../../infra/stack.js';
import { requireEnv } from './env.js';

const quiet = () => {};

void test('a stack start when everything already runs starts nothing twice; the last user stops it', { timeout: 120_000 }, async () => {
  const { DATABASE_URL } = requireEnv('DATABASE_URL');
  // A private state dir: Temporal and S3 come up locally (their env vars are left out); PostgreSQL from the env.
  const stateDir = mkdtempSync(join(tmpdir(), 'stack-test-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, DATABASE_URL };
  const pids = () => {
    const st = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { temporal?: { pid: number }; s3?: { pid: number } };
    return [st.temporal?.pid, st.s3?.pid];
  };
  const first = await ensureStack({ profile: 'test', env, stateDir, log: quiet });
  let procs: (number | undefined)[] = [];
  try {
    assert.deepEqual(first.started.slice().sort(), ['s3', 'temporal']);
    assert.equal(first.sources.postgres, 'env');
    procs = pids();
    assert.ok(procs.every((p) => p !== undefined && pidAlive(p)), 'state file must record the started processes');
    const second = await ensureStack({ profile: 'test', env, stateDir, log: quiet });
    assert.deepEqual(second.started, [], 'the second start must start nothing');
    assert.deepEqual(second.sources, { temporal: 'reused', postgres: 'env', s3: 'reused' });
    assert.equal(second.temporal.address, first.temporal.address);
    assert.equal(second.s3.endpoint, first.s3.endpoint);
    assert.equal(second.s3.accessKeyId, first.s3.accessKeyId);
    assert.deepEqual(pids(), procs, 'no new processes');
    // The starter stops first while the second still uses the services: they must stay up for it.
    await first.stop();
    assert.ok(procs.every((p) => pidAlive(p!)), 'services must keep running while another user holds them');
    const third = await ensureStack({ profile: 'test', env, stateDir, log: quiet });
    assert.deepEqual(third.started, []);
    await third.stop();
    await second.stop(); // the last user: stops them
    for (const p of procs) assert.equal(pidAlive(p!), false, `process ${p} should be stopped by the last user`);
  } finally {
    await first.stop();
    for (const p of procs) if (p !== undefined && pidAlive(p)) process.kill(p, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

void test('`up` pins services until `down`; `down` leaves a service to a running user, who stops it last', { timeout: 120_000 }, async () => {
  const { DATABASE_URL } = requireEnv('DATABASE_URL');
  const stateDir = mkdtempSync(join(tmpdir(), 'stack-pin-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, DATABASE_URL };
  const pids = () => {
    const st = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { temporal?: { pid: number }; s3?: { pid: number } };
    return [st.temporal?.pid, st.s3?.pid].filter((p): p is number => p !== undefined);
  };
  let procs: number[] = [];
  try {
    const up = await ensureStack({ profile: 'test', env, stateDir, log: quiet, pin: true }); // what `stack up` does
    procs = pids();
    assert.equal(procs.length, 2);
    await up.stop();
    assert.ok(procs.every(pidAlive), 'pinned services outlive the call that started them');
    const user = await ensureStack({ profile: 'test', env, stateDir, log: quiet }); // e.g. a running npm test
    assert.deepEqual(user.started, []);
    const down = await stopStack('test', { stateDir, log: quiet });
    assert.deepEqual(down, { stopped: [], deferred: ['temporal', 's3'] });
    assert.ok(procs.every(pidAlive), '`down` must not pull services from under a running user');
    await user.stop();
    assert.ok(procs.every((p) => !pidAlive(p)), 'the last user stops the unpinned services');
    assert.deepEqual(pids(), []);
  } finally {
    for (const p of procs) if (pidAlive(p)) process.kill(p, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

void test('an unreachable TEMPORAL_ADDRESS fails fast with a message naming it', { timeout: 30_000 }, async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'stack-bad-'));
  const t0 = Date.now();
  try {
    await assert.rejects(
      () => ensureStack({ profile: 'test', env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: address }, stateDir, log: quiet }),
      (err: Error) => err.message.includes(`TEMPORAL_ADDRESS=${address}`) && /unreachable/.test(err.message),
    );
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
});

void test('a malformed DATABASE_URL fails fast with a message naming it, before anything starts', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'stack-bad-'));
  const t0 = Date.now();
  try {
    await assert.rejects(
      () => ensureStack({ profile: 'test', env: { PATH: process.env.PATH, DATABASE_URL: 'postgres//user:pw@localhost/db' }, stateDir, log: quiet }),
      (err: Error) => /DATABASE_URL is malformed/.test(err.message) && !err.message.includes(':pw@'),
    );
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms`);
});
