// The dashboard as an attacker sees it: a DNS-rebinding page (foreign Host) is refused without a token, a
// non-loopback bind without a token is refused, `?token=` works on the landing page only and becomes an HttpOnly,
// SameSite=Strict cookie, every answer carries the security headers, and malformed input gets a 400 (a failure
// inside a plain 500), never a stack trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openDb, type DbHandle } from '../../db/client.js';
import { startDashboard, type Dashboard } from '../../cli/dashboard.js';
import { freshDatabase, seedSweep, type FreshDb } from '../results/helpers.js';
import { readOnlyUrlFor } from './read-role.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('../results/cli-entry.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'sec-token-' + Math.random().toString(36).slice(2);

let f: FreshDb;
let readUrl: string;
let reader: DbHandle;
let open: Dashboard; // no token, loopback
let locked: Dashboard; // token
before(async () => {
  f = await freshDatabase('sec_dashboard');
  await seedSweep(f.db, 'sweep-s');
  readUrl = await readOnlyUrlFor(f.url);
  reader = openDb(readUrl);
  open = await startDashboard({ db: reader.db, port: 0 });
  locked = await startDashboard({ db: reader.db, port: 0, token: TOKEN });
});
after(async () => {
  await open?.close();
  await locked?.close();
  await reader?.close();
  await f?.drop();
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }
/** A GET with any Host header (fetch would not let us set one). */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { host: u.host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertSecurityHeaders(a: Answer, what: string): void {
  assert.match(String(a.headers['content-security-policy']), /frame-ancestors 'none'/, what);
  assert.match(String(a.headers['content-security-policy']), /script-src 'self'/, what);
  assert.equal(a.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(a.headers['x-frame-options'], 'DENY', what);
  assert.equal(a.headers['referrer-policy'], 'no-referrer', what);
}

const NO_STACK = /\n\s+at |node_modules|\.ts:\d+/;

void describe('dashboard security', () => {
  void test('without a token only loopback Host headers are served (DNS rebinding refused)', async () => {
    const port = new URL(open.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
      const a = await get(open.url, '/api/sweeps', { host });
      assert.equal(a.status, 200, host);
      assertSecurityHeaders(a, host);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `localhost.evil.example`, `[::ffff:7f00:1]x`]) {
      const a = await get(open.url, '/api/sweeps', { host });
      assert.ok(a.status === 421 || a.status === 400, `${host}: ${a.status}`);
      assert.doesNotMatch(a.body, /sweep-s/, host);
      assertSecurityHeaders(a, host);
    }
    const page = await get(open.url, '/', { host: `rebind.attacker.example:${port}` });
    assert.equal(page.status, 421);
    // no Host at all (HTTP/1.0): refused too
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => sock.end('GET /api/sweeps HTTP/1.0\r\n\r\n'));
      let text = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (text += d));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.[01] (421|400)/);
    assert.doesNotMatch(raw, /sweep-s/);
  });

  void test('a non-loopback bind without a token is refused unless asked for; then Host must be an IP address', async () => {
    await assert.rejects(startDashboard({ db: reader.db, host: '0.0.0.0', port: 0 }), /refusing to bind 0\.0\.0\.0 without an access token/);
    const d = await startDashboard({ db: reader.db, host: '0.0.0.0', port: 0, allowRemoteWithoutToken: true });
    try {
      const base = d.url.replace('0.0.0.0', '127.0.0.1');
      const port = new URL(base).port;
      assert.equal((await get(base, '/api/sweeps', { host: `10.1.2.3:${port}` })).status, 200);
      assert.equal((await get(base, '/api/sweeps', { host: `evil.example:${port}` })).status, 421);
    } finally {
      await d.close();
    }
    // the CLI: exit 1, a message, no stack trace
    const env = { ...process.env, DATABASE_URL: f.url, UNLEARN_QUERY_DATABASE_URL: readUrl, UNLEARN_DASHBOARD_TOKEN: '' };
    await assert.rejects(run(process.execPath, ['--import', 'tsx', entry, 'dashboard', '--host', '0.0.0.0', '--port', '0'], { cwd: root, env, timeout: 60_000 }), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr ?? '', /refusing to bind 0\.0\.0\.0 without an access token/);
      assert.doesNotMatch(e.stderr ?? '', NO_STACK);
      return true;
    });
  });

  void test('the query-string token works on the landing page only and becomes a strict HttpOnly cookie', async () => {
    assert.equal((await get(locked.url, `/api/sweeps?token=${TOKEN}`)).status, 401, '?token= is not read on the API');
    assert.equal((await get(locked.url, `/app.js?token=${TOKEN}`)).status, 401);
    const landing = await get(locked.url, `/?token=${TOKEN}`);
    assert.equal(landing.status, 302);
    assert.equal(landing.headers.location, '/');
    const cookie = String(landing.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    assertSecurityHeaders(landing, 'landing');
    const withCookie = await get(locked.url, '/api/sweeps', { cookie: cookie.split(';')[0] });
    assert.equal(withCookie.status, 200);
    assert.match(withCookie.body, /sweep-s/);
    assert.equal(withCookie.headers['cache-control'], 'no-store');
    assert.equal((await get(locked.url, '/api/sweeps', { authorization: `Bearer ${TOKEN}` })).status, 200);
    const denied = await get(locked.url, '/api/sweeps', { authorization: 'Bearer nope' });
    assert.equal(denied.status, 401);
    assertSecurityHeaders(denied, '401');
    // with a token, a foreign Host is fine (the token is the check) but still needs the token
    assert.equal((await get(locked.url, '/api/sweeps', { host: 'dash.example', authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await get(locked.url, '/api/sweeps', { host: 'dash.example' })).status, 401);
  });

  void test('malformed input gets 400, a failure inside a plain 500; never a stack trace', async () => {
    const bad: [Record<string, string>, string][] = [
      [{ cookie: 'unlearn_dashboard_token=%E0%A4%A' }, 'bad percent-encoding'],
      [{ cookie: 'no-equals-sign' }, 'malformed Cookie'],
      [{ authorization: 'Basic dXNlcjpwYXNz' }, 'malformed Authorization'],
    ];
    for (const [headers, why] of bad) {
      const a = await get(locked.url, '/api/sweeps', headers);
      assert.equal(a.status, 400, JSON.stringify(headers));
      assert.match(a.body, new RegExp(why));
      assert.doesNotMatch(a.body, NO_STACK);
      assertSecurityHeaders(a, why);
    }
    const rank = await get(open.url, '/api/leaderboard?rankBy=%27%3BDROP');
    assert.equal(rank.status, 400);
    assert.match(rank.body, /unknown rankBy/);
    // a database failure: 500 with no detail
    const h = openDb(readUrl);
    const d = await startDashboard({ db: h.db, port: 0 });
    try {
      await h.close();
      const a = await get(d.url, '/api/sweeps');
      assert.equal(a.status, 500);
      assert.deepEqual(JSON.parse(a.body), { error: 'internal error' });
    } finally {
      await d.close();
    }
  });
});
