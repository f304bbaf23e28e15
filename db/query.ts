// Read-only ad-hoc SQL for `unlearn query`.
// The security boundary is the database role, not this file: `stack up` creates a read-only role (SELECT on the
// results tables and views, nothing else; see db/roles.ts) and checkQueryRole refuses a superuser, a role with
// server-file, program or signal privileges and (unless allowed) a role that can write. On top of that, and so
// that even a role with more rights does as little harm as possible, one query:
//   - runs in `BEGIN … READ ONLY` after the transaction's first snapshot is taken (it cannot switch to read-write),
//   - is wrapped in `DECLARE … CURSOR FOR`, sent over the extended protocol: the server accepts exactly one
//     statement, and only a query that returns rows (SELECT, WITH … SELECT, VALUES, TABLE); DO, COPY, LOCK, SET,
//     CALL, CLUSTER, REINDEX and data-modifying WITH fail in the server's parser,
//   - is fetched in batches, stopping at maxRows rows or maxBytes bytes of row data, under one overall deadline,
//   - runs on a connection of its own that is closed afterwards, so nothing it took (a session advisory lock, a
//     setting) outlives it; the transaction is rolled back.
// The keyword pre-filter below only turns common mistakes into a clear message before a round trip. It is a
// convenience, not a defence: the server decides what runs.
import pg from 'pg';
import { checkQueryRole } from './roles.js';

export class ReadOnlyQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadOnlyQueryError';
  }
}

export interface QueryResultSet {
  fields: string[];
  rows: Record<string, unknown>[];
  /** set when a bound stopped the fetch before the last row: which one */
  truncated?: 'rows' | 'bytes';
  /** bytes of row data received (text form) */
  bytes: number;
}

export interface ReadOnlyQueryOptions {
  /** overall time for the query and every fetch (default 60 s, at most 10 min) */
  timeoutMs?: number;
  /** stop after this many rows (default 10,000) */
  maxRows?: number;
  /** stop after this many bytes of row data (default 64 MiB) */
  maxBytes?: number;
  /** accept a role that can write results tables (the read-only transaction still applies) */
  allowWriterRole?: boolean;
  /** where the URL came from, for messages (e.g. UNLEARN_QUERY_DATABASE_URL) */
  source?: string;
}

export const QUERY_LIMITS = { timeoutMs: 60_000, maxTimeoutMs: 600_000, maxRows: 10_000, maxBytes: 64 * 1024 * 1024, batchRows: 500 };

const REFUSED = /^(copy|begin|start|commit|end|rollback|abort|savepoint|release|prepare|set|reset|lock|listen|notify|vacuum|checkpoint|discard|do|call|cluster|reindex|explain|show|declare|fetch)\b/i;

/**
 * The text after leading whitespace and comments, as PostgreSQL's lexer reads them: `--` comments end at a newline
 * or a carriage return, block comments nest.
 */
export function stripLeadingComments(text: string): string {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (text.startsWith('--', i)) {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (text.startsWith('/*', i)) {
      let depth = 0;
      while (i < text.length) {
        if (text.startsWith('/*', i)) { depth++; i += 2; } else if (text.startsWith('*/', i)) { depth--; i += 2; if (depth === 0) break; } else i++;
      }
      continue;
    }
    return text.slice(i);
  }
}

const CURSOR_PREFIX = 'DECLARE unlearn_query NO SCROLL CURSOR FOR\n';

/** Runs one read-only query on a connection of its own and returns its rows; throws ReadOnlyQueryError on refusal or failure. */
export async function runReadOnlyQuery(pool: pg.Pool, text: string, opts: ReadOnlyQueryOptions = {}): Promise<QueryResultSet> {
  const body = stripLeadingComments(text);
  if (body.trim() === '') throw new ReadOnlyQueryError('query: empty SQL');
  const m = REFUSED.exec(body);
  if (m) throw new ReadOnlyQueryError(`query: ${m[1].toUpperCase()} statements are not allowed (only a query that returns rows: SELECT, WITH … SELECT, VALUES, TABLE)`);
  const timeoutMs = Math.min(QUERY_LIMITS.maxTimeoutMs, Math.max(1, Math.floor(opts.timeoutMs ?? QUERY_LIMITS.timeoutMs)));
  const maxRows = Math.max(0, Math.floor(opts.maxRows ?? QUERY_LIMITS.maxRows));
  const maxBytes = Math.max(0, Math.floor(opts.maxBytes ?? QUERY_LIMITS.maxBytes));
  const deadline = Date.now() + timeoutMs;
  const client = await pool.connect();
  let destroy = true;
  try {
    try {
      await checkQueryRole(client, { allowWriter: opts.allowWriterRole, source: opts.source });
    } catch (e) {
      destroy = false; // nothing ran: the connection is clean
      throw new ReadOnlyQueryError((e as Error).message, { cause: e });
    }
    await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query('SELECT 1'); // takes the first snapshot: read-write mode can no longer be set
    const remaining = () => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new ReadOnlyQueryError(`query: stopped after the ${timeoutMs} ms timeout`);
      return ms;
    };
    const run = async (sql: string) => {
      await client.query(`SET LOCAL statement_timeout = ${remaining()}`);
      return client.query({ text: sql, queryMode: 'extended', rowMode: 'array', types: RAW_TEXT } as pg.QueryConfig);
    };
    try {
      await run(CURSOR_PREFIX + text);
    } catch (e) {
      throw new ReadOnlyQueryError(`query refused or failed: ${explain(e as pg.DatabaseError, body)}`, { cause: e });
    }
    const out: QueryResultSet = { fields: [], rows: [], bytes: 0 };
    let parsers: ((v: string) => unknown)[] = [];
    for (;;) {
      const want = Math.min(QUERY_LIMITS.batchRows, maxRows - out.rows.length + 1);
      let res: pg.QueryResult<unknown[]>;
      try {
        res = (await run(`FETCH FORWARD ${want} FROM unlearn_query`)) as unknown as pg.QueryResult<unknown[]>;
      } catch (e) {
        throw new ReadOnlyQueryError(`query failed: ${(e as Error).message}`, { cause: e });
      }
      if (out.fields.length === 0) {
        out.fields = res.fields.map((f) => f.name);
        parsers = res.fields.map((f) => pg.types.getTypeParser(f.dataTypeID, 'text') as (v: string) => unknown);
      }
      for (const raw of res.rows as (string | null)[][]) {
        if (out.rows.length >= maxRows) { out.truncated = 'rows'; break; }
        const size = raw.reduce((n, v) => n + (v === null ? 0 : Buffer.byteLength(v)), 0);
        if (out.bytes + size > maxBytes) { out.truncated = 'bytes'; break; }
        out.bytes += size;
        const row: Record<string, unknown> = {};
        raw.forEach((v, i) => { row[out.fields[i]] = v === null ? null : parsers[i](v); });
        out.rows.push(row);
      }
      if (out.truncated || res.rows.length < want) return out;
    }
  } finally {
    // Closing the connection ends whatever the query left behind in its session (advisory locks, settings).
    if (!destroy) await client.query('ROLLBACK').catch(() => {});
    client.release(destroy);
  }
}

/** Row values as the server's text, so their size is known before they are parsed. */
const RAW_TEXT = { getTypeParser: () => (v: string) => v };

/** The server's message; a syntax error at the query's first word says which statements can run. */
function explain(e: pg.DatabaseError, body: string): string {
  const first = /^[A-Za-z_]+/.exec(body)?.[0];
  if (e.code === '42601' && first && e.message.includes(`"${first}"`) && e.message.startsWith('syntax error')) {
    return `${first.toUpperCase()} cannot run here: only one query that returns rows (SELECT, WITH … SELECT, VALUES, TABLE) (${e.message})`;
  }
  return e.message;
}
