// Secrets of the local stack: while `stack up` creates PostgreSQL roles, no process's arguments (what `ps` shows)
// carry a password; the logs do not either; the daemons get only the variables they need (no database URL, no
// token); the state folder and its files are private; a failing psql's error text is redacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStack, psqlAsPostgres, type StackInfo } from '../../infra/stack.js';

/** Every process's command line, as `ps -eo args` would show it. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      /* gone */
    }
  }
  return out;
}

void test('stack up: no password in any command line or log; daemons get a minimal environment; private state', { timeout: 180_000 }, async () => {
  const tag = randomBytes(3).toString('hex');
  const role = `unlearn_sec_${tag}`;
  const tmp = mkdtempSync(join(tmpdir(), 'unlearn-sec-stack-'));
  const stateDir = join(tmp, 'test');
  const canary = `canary-${randomBytes(6).toString('hex')}`;
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
    TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH, VERSITYGW_PATH: process.env.VERSITYGW_PATH,
    XDG_CONFIG_HOME: join(tmp, 'config'), // fresh passwords for this test's own roles
    UNLEARN_DASHBOARD_TOKEN: canary, SOME_SERVICE_API_KEY: canary, // what a daemon must not inherit
  };
  const seen = new Set<string>();
  const sampler = setInterval(() => { for (const c of commandLines()) seen.add(c); }, 5);
  const logs: string[] = [];
  let info: StackInfo | undefined;
  try {
    info = await ensureStack({ profile: 'test', env, stateDir, pgRole: role, log: (l) => logs.push(l) });
    clearInterval(sampler);
    for (const c of commandLines()) seen.add(c);
    const ownerPassword = decodeURIComponent(new URL(info.databaseUrl).password);
    const readPassword = decodeURIComponent(new URL(info.queryDatabaseUrl!).password);
    assert.ok(ownerPassword.length >= 16 && readPassword.length >= 16);
    assert.ok([...seen].some((c) => /\bpsql\b/.test(c)), 'the sampler saw the psql processes that created the roles');
    for (const c of seen) {
      assert.ok(!c.includes(ownerPassword) && !c.includes(readPassword), `a password in a command line: ${c.slice(0, 80)}…`);
    }
    const logText = [...logs, readFileSync(join(stateDir, 'temporal.log'), 'utf8'), readFileSync(join(stateDir, 's3.log'), 'utf8')].join('\n');
    assert.ok(!logText.includes(ownerPassword) && !logText.includes(readPassword), 'a password in the logs');
    // the server holds SCRAM verifiers (we sent verifiers, never the passwords)
    const stored = await psqlAsPostgres(`SELECT string_agg(left(rolpassword, 14), ',') FROM pg_authid WHERE rolname IN ('${role}', '${role}_read')`);
    assert.equal(stored, 'SCRAM-SHA-256$,SCRAM-SHA-256$');

    // daemons: only what they need
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { temporal: { pid: number }; s3: { pid: number } };
    for (const [name, pid] of [['temporal', state.temporal.pid], ['s3', state.s3.pid]] as const) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      const names = environ.map((e) => e.split('=')[0]);
      assert.ok(!environ.some((e) => e.includes(canary)), `${name} inherited a token or key`);
      assert.ok(!names.includes('DATABASE_URL') && !names.includes('UNLEARN_QUERY_DATABASE_URL') && !names.includes('XDG_CONFIG_HOME'), `${name}: ${names.join(' ')}`);
      if (name === 's3') assert.ok(names.includes('ROOT_ACCESS_KEY') && names.includes('ROOT_SECRET_KEY'), 'versitygw gets its own keys');
      else assert.ok(!names.includes('ROOT_SECRET_KEY'), 'temporal does not get the S3 keys');
    }
    // private state: folders 700, files 600
    for (const dir of [stateDir, join(stateDir, 's3')]) assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    for (const file of ['state.json', 'temporal.log', 's3.log']) assert.equal(statSync(join(stateDir, file)).mode & 0o777, 0o600, file);
    assert.equal(statSync(join(tmp, 'secrets.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp, 'config', 'unlearn', 'pg-passwords.json')).mode & 0o777, 0o600);
  } finally {
    clearInterval(sampler);
    await info?.stop();
    await psqlAsPostgres(`DROP DATABASE IF EXISTS ${role} WITH (FORCE);`).catch(() => {});
    await psqlAsPostgres(`DROP ROLE IF EXISTS ${role}_read; DROP ROLE IF EXISTS ${role};`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  }
});

void test('a failing psql statement does not echo the password in the error', async () => {
  const secret = `pw-${randomBytes(8).toString('hex')}`;
  await assert.rejects(psqlAsPostgres(`ALTER ROLE unlearn_sec_nobody PASSWORD '${secret}' NOT VALID SQL`), (e: Error) => {
    assert.match(e.message, /psql .* exited with code/);
    assert.match(e.message, /syntax error/);
    assert.ok(!e.message.includes(secret), e.message);
    return true;
  });
});
