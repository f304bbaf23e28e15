// `unlearn dashboard [--host 127.0.0.1] [--port 8321] [--allow-remote-without-token] [--allow-writer-role]`: a small web
// UI over the results database (fastify). Pages: sweeps with live progress, the leaderboard (sortable, filterable), the
// trade-off plot, a trial's detail (config, metrics, curves, stages, artifacts). Static files are in dashboard/.
// Security (docs/results.md, "Security of the read paths"):
//   - reads as the read-only role (UNLEARN_QUERY_DATABASE_URL), refusing superusers, server-file roles and writers;
//   - access token (UNLEARN_DASHBOARD_TOKEN): `Authorization: Bearer TOKEN`, or the cookie that opening /?token=TOKEN
//     once sets (HttpOnly, SameSite=Strict); `?token=` is read on the landing page only, never on the API;
//   - without a token: only loopback Host headers (a DNS-rebinding page sends its own name), and binding a
//     non-loopback address is refused unless --allow-remote-without-token (then Host must be an IP address);
//   - security headers on every answer (CSP, nosniff, frame-ancestors 'none', no referrer); a malformed request
//     (cookie, header, query) gets 400 and a server error a plain 500, never a stack trace.
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { sql } from 'drizzle-orm';
import { DatabaseUrlError, openDb, redactDatabaseUrl } from '../db/client.js';
import { checkQueryRole, QueryRoleError } from '../db/roles.js';
import { readerUrl } from './query.js';
import { leaderboard, listTrials, RANK_BY, settingSpecs, sweepsWithProgress, trialDetail, type RankBy } from '../db/leaderboard.js';
import { tradeoffSvg } from '../db/leaderboard-format.js';
import type { ResultsDb } from '../db/record.js';

const STATIC_DIR = new URL('../dashboard/', import.meta.url);
const STATIC: Record<string, string> = {
  '/': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const COOKIE = 'unlearn_dashboard_token';

export interface DashboardOptions {
  db: ResultsDb;
  host?: string;
  port?: number;
  /** access token; undefined or '' = no token required */
  token?: string;
  /** without a token, bind a non-loopback address anyway (Host must then be an IP address) */
  allowRemoteWithoutToken?: boolean;
  logger?: boolean;
}

export interface Dashboard {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

class BadRequest extends Error {
  statusCode = 400;
}

/** Cookie header → map; a malformed one (bad %-encoding, no name) is a 400, never a 500. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  if (header.length > 8192) throw new BadRequest('malformed Cookie header: too long');
  for (const part of header.split(';')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new BadRequest('malformed Cookie header');
    let value = t.slice(eq + 1);
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out.set(t.slice(0, eq), decodeURIComponent(value));
    } catch {
      throw new BadRequest('malformed Cookie header: bad percent-encoding');
    }
  }
  return out;
}

/** The token a request carries: the Authorization header or the cookie; `?token=` only on the landing page. */
function tokenOf(req: FastifyRequest, landing: boolean): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    if (!auth.startsWith('Bearer ')) throw new BadRequest('malformed Authorization header: expected "Bearer TOKEN"');
    return auth.slice(7);
  }
  if (landing) {
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    if (typeof q === 'string' && q !== '') return q;
  }
  return parseCookies(req.headers.cookie).get(COOKIE);
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
/** Host header → host name without port or brackets; undefined when malformed. */
export function hostName(host: string | undefined): string | undefined {
  if (!host || host.length > 255) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(host);
  if (!m) return undefined;
  return (m[1] ?? m[2]).toLowerCase();
}
export const isLoopbackName = (name: string): boolean => LOOPBACK_NAMES.has(name) || (isIP(name) === 4 && name.startsWith('127.'));

/** Headers every answer carries: no framing, no sniffing, no referrer, scripts and styles from this server only. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function filters(q: Record<string, unknown>): { sweep?: string; dataset?: string; forgetKind?: string; rankBy?: RankBy } {
  const rankBy = str(q.rankBy);
  if (rankBy !== undefined && !(rankBy in RANK_BY)) throw Object.assign(new Error(`unknown rankBy "${rankBy}"`), { statusCode: 400 });
  return { sweep: str(q.sweep), dataset: str(q.dataset), forgetKind: str(q.forgetKind), rankBy: rankBy as RankBy | undefined };
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token && o.token !== '' ? o.token : undefined;
  const loopbackBind = isLoopbackName(hostName(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host) ?? '');
  if (!token && !loopbackBind && !o.allowRemoteWithoutToken) {
    throw new Error(
      `dashboard: refusing to bind ${host} without an access token: anyone who can reach it could read every result. ` +
        'Set UNLEARN_DASHBOARD_TOKEN, bind 127.0.0.1, or pass --allow-remote-without-token.',
    );
  }
  const app = Fastify({ logger: o.logger ?? false });
  const want = token ? digest(token) : undefined;

  // 4xx: the message (it names what was wrong with the request); anything else: a plain 500, details in the log only.
  app.setErrorHandler(async (err: { statusCode?: number; message?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'dashboard request failed');
    await reply.code(status).headers(SECURITY_HEADERS).type('application/json').send({ error: status === 500 ? 'internal error' : err.message });
  });

  app.addHook('onRequest', async (req, reply) => {
    void reply.headers(SECURITY_HEADERS);
    if (!want) {
      // No token: a page on another site that re-points its name at 127.0.0.1 (DNS rebinding) sends its own name as
      // Host. Accept loopback names only, or, when remote access without a token was asked for, IP addresses.
      const name = hostName(req.headers.host);
      const ok = name !== undefined && (isLoopbackName(name) || (o.allowRemoteWithoutToken === true && isIP(name) !== 0));
      if (!ok) {
        await reply.code(421).type('text/plain').send('misdirected request: this dashboard answers only to 127.0.0.1 / localhost (set UNLEARN_DASHBOARD_TOKEN for other names)\n');
        return reply;
      }
      return;
    }
    const landing = req.method === 'GET' && req.url.split('?')[0] === '/';
    const got = tokenOf(req, landing);
    if (got === undefined || !timingSafeEqual(digest(got), want)) {
      await reply.code(401).type('text/plain').send('unauthorized: this dashboard needs the access token (UNLEARN_DASHBOARD_TOKEN); open /?token=TOKEN once\n');
      return reply;
    }
    if (landing && (req.query as Record<string, unknown>)?.token !== undefined) {
      // the token leaves the address bar (and the history) at once; the cookie carries it from now on
      await reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(got)}; HttpOnly; SameSite=Strict; Path=/`).redirect('/');
      return reply;
    }
  });

  for (const [route, file] of Object.entries(STATIC)) {
    const body = readFileSync(fileURLToPath(new URL(file, STATIC_DIR)), 'utf8');
    const type = TYPES[file.split('.').pop()!];
    app.get(route, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }

  app.get('/api/sweeps', async () => sweepsWithProgress(o.db));
  app.get('/api/filters', async () => {
    const res = await o.db.execute(sql`SELECT
        (SELECT coalesce(jsonb_agg(DISTINCT dataset), '[]') FROM trials) AS datasets,
        (SELECT coalesce(jsonb_agg(DISTINCT forget_kind), '[]') FROM trials) AS forget_kinds,
        (SELECT coalesce(jsonb_agg(id ORDER BY created_at DESC), '[]') FROM sweeps) AS sweeps`);
    const r = ((res as unknown as { rows: Record<string, unknown>[] }).rows)[0];
    return { datasets: r.datasets, forgetKinds: r.forget_kinds, sweeps: r.sweeps, rankBy: Object.entries(RANK_BY).map(([k, v]) => ({ key: k, about: v.about })) };
  });
  app.get('/api/leaderboard', async (req) => leaderboard(o.db, filters(req.query as Record<string, unknown>)));
  app.get('/api/tradeoff.svg', async (req, reply) => {
    const rows = await leaderboard(o.db, filters(req.query as Record<string, unknown>));
    return reply.type('image/svg+xml').send(tradeoffSvg(rows));
  });
  app.get('/api/settings/:key', async (req, reply) => {
    const { key } = req.params as { key: string };
    const [spec] = await settingSpecs(o.db, [key]);
    if (!spec) return reply.code(404).send({ error: `no setting with key ${key}` });
    return spec;
  });
  app.get('/api/trials', async (req) => listTrials(o.db, { sweep: str((req.query as Record<string, unknown>).sweep), limit: 500 }));
  app.get('/api/trials/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const d = await trialDetail(o.db, id);
    if (!d) return reply.code(404).send({ error: `no trial with id ${id}` });
    return d;
  });

  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
  });

  const address = await app.listen({ host, port: o.port ?? 8321 });
  return { url: address, app, close: () => app.close() };
}

export function register(program: Command): void {
  program.command('dashboard')
    .description('web dashboard: sweeps with progress, leaderboard, trade-off plot, trial details (read-only role)')
    .option('--host <host>', 'address to bind (a non-loopback address needs UNLEARN_DASHBOARD_TOKEN)', '127.0.0.1')
    .option('--port <port>', 'port', (v) => Number.parseInt(v, 10), 8321)
    .option('--allow-remote-without-token', 'bind a non-loopback address without a token (anyone who reaches it reads every result)', false)
    .option('--allow-writer-role', 'read with a role that can write (when UNLEARN_QUERY_DATABASE_URL is not set)', false)
    .action(async (opts: { host: string; port: number; allowRemoteWithoutToken: boolean; allowWriterRole: boolean }) => {
      const token = process.env.UNLEARN_DASHBOARD_TOKEN;
      const { url, source } = readerUrl();
      let h: ReturnType<typeof openDb> | undefined;
      let d: Dashboard;
      try {
        h = openDb(url);
        await checkQueryRole(h.pool, { allowWriter: opts.allowWriterRole, source });
        d = await startDashboard({ db: h.db, host: opts.host, port: opts.port, token, allowRemoteWithoutToken: opts.allowRemoteWithoutToken });
      } catch (e) {
        await h?.close();
        const known = e instanceof QueryRoleError || e instanceof DatabaseUrlError;
        process.stderr.write(`error: ${known ? (e as Error).message : redactDatabaseUrl((e as Error).message)}\n`);
        process.exitCode = 1;
        return;
      }
      if (!token && opts.allowRemoteWithoutToken) process.stderr.write(`warning: ${opts.host} without UNLEARN_DASHBOARD_TOKEN: anyone who can reach it can read the results\n`);
      process.stderr.write(`dashboard at ${d.url}/${token ? ' (token required: open /?token=… once)' : ''}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { resolve(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await d.close();
      await h.close();
    });
}
