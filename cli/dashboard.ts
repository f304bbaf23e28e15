// `unlearn dashboard [--host 127.0.0.1] [--port 8321]`: a small web UI over the results database (fastify).
// Pages: sweeps with live progress, the leaderboard (sortable, filterable), the trade-off plot, a trial's
// detail (config, metrics, curves, stages, artifacts). Static files are in dashboard/ (plain HTML + JS).
// Access token: when UNLEARN_DASHBOARD_TOKEN is set every request needs it, as `Authorization: Bearer TOKEN`,
// as the cookie set by opening /?token=TOKEN once, or as ?token=TOKEN. Binds 127.0.0.1 unless --host says otherwise.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { sql } from 'drizzle-orm';
import { openDb } from '../db/client.js';
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

function tokenOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  const q = (req.query as Record<string, string | undefined>)?.token;
  if (q) return q;
  const cookie = req.headers.cookie ?? '';
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function filters(q: Record<string, unknown>): { sweep?: string; dataset?: string; forgetKind?: string; rankBy?: RankBy } {
  const rankBy = str(q.rankBy);
  if (rankBy !== undefined && !(rankBy in RANK_BY)) throw Object.assign(new Error(`unknown rankBy "${rankBy}"`), { statusCode: 400 });
  return { sweep: str(q.sweep), dataset: str(q.dataset), forgetKind: str(q.forgetKind), rankBy: rankBy as RankBy | undefined };
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const app = Fastify({ logger: o.logger ?? false });
  const token = o.token && o.token !== '' ? o.token : undefined;
  const want = token ? digest(token) : undefined;

  app.addHook('onRequest', async (req, reply) => {
    if (!want) return;
    const got = tokenOf(req);
    if (got === undefined || !timingSafeEqual(digest(got), want)) {
      await reply.code(401).type('text/plain').send('unauthorized: this dashboard needs the access token (UNLEARN_DASHBOARD_TOKEN); open /?token=TOKEN once\n');
      return reply;
    }
    if ((req.query as Record<string, unknown>)?.token && req.method === 'GET' && req.url.split('?')[0] === '/') {
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

  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8321 });
  return { url: address, app, close: () => app.close() };
}

export function register(program: Command): void {
  program.command('dashboard')
    .description('web dashboard: sweeps with progress, leaderboard, trade-off plot, trial details')
    .option('--host <host>', 'address to bind (use 0.0.0.0 only with UNLEARN_DASHBOARD_TOKEN set)', '127.0.0.1')
    .option('--port <port>', 'port', (v) => Number.parseInt(v, 10), 8321)
    .action(async (opts: { host: string; port: number }) => {
      const token = process.env.UNLEARN_DASHBOARD_TOKEN;
      if (opts.host !== '127.0.0.1' && opts.host !== 'localhost' && opts.host !== '::1' && !token) {
        process.stderr.write(`warning: binding ${opts.host} without UNLEARN_DASHBOARD_TOKEN: anyone who can reach it can read the results\n`);
      }
      const h = openDb(process.env.DATABASE_URL);
      const d = await startDashboard({ db: h.db, host: opts.host, port: opts.port, token });
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
