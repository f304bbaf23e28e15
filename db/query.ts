// Read-only ad-hoc SQL for `unlearn query` and the dashboard.
// Guarantees: the statement runs inside `BEGIN TRANSACTION READ ONLY` after the transaction's first snapshot
// is taken (so it cannot switch itself to read-write), through the extended query protocol (so exactly one
// statement: "COMMIT; DROP …" is refused by the server), with a statement timeout, and the transaction is
// always rolled back. PostgreSQL then refuses INSERT/UPDATE/DELETE/DDL, nextval(), SELECT … FOR UPDATE, and
// any function that writes ("cannot execute … in a read-only transaction").
// COPY and transaction-control statements are refused up front. For defence in depth point
// UNLEARN_QUERY_DATABASE_URL at a role that holds only SELECT grants (docs/results.md).
import type pg from 'pg';

export class ReadOnlyQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadOnlyQueryError';
  }
}

export interface QueryResultSet {
  fields: string[];
  rows: Record<string, unknown>[];
}

const REFUSED = /^\s*(copy|begin|start|commit|end|rollback|abort|savepoint|release|prepare|set|reset|lock|listen|notify|vacuum|checkpoint|discard)\b/i;

function stripLeadingComments(text: string): string {
  let s = text;
  for (;;) {
    const t = s.replace(/^\s+/, '');
    if (t.startsWith('--')) { const nl = t.indexOf('\n'); s = nl < 0 ? '' : t.slice(nl + 1); continue; }
    if (t.startsWith('/*')) { const end = t.indexOf('*/'); s = end < 0 ? '' : t.slice(end + 2); continue; }
    return t;
  }
}

/** Runs one SQL statement read-only and returns its rows; throws ReadOnlyQueryError on refusal or failure. */
export async function runReadOnlyQuery(pool: pg.Pool, text: string, opts: { timeoutMs?: number; maxRows?: number } = {}): Promise<QueryResultSet> {
  const body = stripLeadingComments(text);
  if (body.trim() === '') throw new ReadOnlyQueryError('query: empty SQL');
  const m = REFUSED.exec(body);
  if (m) throw new ReadOnlyQueryError(`query: ${m[1].toUpperCase()} statements are not allowed (read-only queries only)`);
  const timeoutMs = Math.max(1, Math.floor(opts.timeoutMs ?? 60_000));
  const client = await pool.connect();
  try {
    await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${timeoutMs}`);
    await client.query('SELECT 1'); // takes the first snapshot: read-write mode can no longer be set
    let res: pg.QueryResult<Record<string, unknown>>;
    try {
      res = await client.query({ text, queryMode: 'extended' } as pg.QueryConfig);
    } catch (e) {
      throw new ReadOnlyQueryError(`query refused or failed: ${(e as Error).message}`, { cause: e });
    }
    const rows = opts.maxRows !== undefined ? res.rows.slice(0, opts.maxRows) : res.rows;
    return { fields: (res.fields ?? []).map((f) => f.name), rows };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
